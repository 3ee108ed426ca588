#include "events/notification_config.h"

#include <algorithm>
#include <array>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pugixml.hpp>

namespace thumbpipe::events {
namespace {

constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

Status Malformed(std::string_view detail) {
  return Status::InvalidArgument(
      "MalformedXML: The XML you provided was not well-formed or did not validate against our published schema (" +
      std::string(detail) + ")");
}
Status Invalid(std::string_view message) { return Status::InvalidArgument("InvalidArgument: " + std::string(message)); }

// Element names without a namespace prefix ("s3:Event" -> "Event").
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  if (auto colon = name.find(':'); colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name;
}

// The text of a leaf element; MalformedXML when it has element children.
Result<std::string> LeafText(const pugi::xml_node& node) {
  std::string text;
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      text += child.value();
    } else if (child.type() == pugi::node_element) {
      return Malformed(fmt::format("<{}> must hold text, not <{}>", LocalName(node), LocalName(child)));
    }
  }
  return text;
}

// Only whitespace text may sit between the elements of a container.
Status CheckNoText(const pugi::xml_node& node) {
  for (pugi::xml_node child : node.children()) {
    if ((child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) &&
        std::string_view(child.value()).find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return Malformed(fmt::format("unexpected text in <{}>", LocalName(node)));
    }
  }
  return Status::Ok();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Status ParseFilter(const pugi::xml_node& filter, DestinationConfig& out) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNoText(filter));
  bool seen_key = false;
  for (pugi::xml_node s3key : filter.children()) {
    if (s3key.type() != pugi::node_element) continue;
    if (LocalName(s3key) != "S3Key") return Malformed(fmt::format("unknown element <{}> in <Filter>", LocalName(s3key)));
    if (seen_key) return Malformed("more than one <S3Key> in <Filter>");
    seen_key = true;
    THUMBPIPE_RETURN_IF_ERROR(CheckNoText(s3key));
    for (pugi::xml_node rule : s3key.children()) {
      if (rule.type() != pugi::node_element) continue;
      if (LocalName(rule) != "FilterRule") {
        return Malformed(fmt::format("unknown element <{}> in <S3Key>", LocalName(rule)));
      }
      THUMBPIPE_RETURN_IF_ERROR(CheckNoText(rule));
      std::optional<std::string> name, value;
      for (pugi::xml_node field : rule.children()) {
        if (field.type() != pugi::node_element) continue;
        std::optional<std::string>* slot = LocalName(field) == "Name"    ? &name
                                           : LocalName(field) == "Value" ? &value
                                                                         : nullptr;
        if (slot == nullptr) return Malformed(fmt::format("unknown element <{}> in <FilterRule>", LocalName(field)));
        if (slot->has_value()) return Malformed(fmt::format("more than one <{}> in <FilterRule>", LocalName(field)));
        THUMBPIPE_ASSIGN_OR_RETURN(*slot, LeafText(field));
      }
      if (!name || !value) return Malformed("<FilterRule> needs <Name> and <Value>");
      std::optional<std::string>* target = EqualsIgnoreCase(*name, "prefix")   ? &out.prefix
                                           : EqualsIgnoreCase(*name, "suffix") ? &out.suffix
                                                                               : nullptr;
      if (target == nullptr) return Invalid("filter rule name must be either prefix or suffix");
      if (target->has_value()) {
        return Invalid(fmt::format("Cannot specify more than one {} rule in a filter.",
                                   target == &out.prefix ? "prefix" : "suffix"));
      }
      if (value->size() > kMaxFilterValueBytes) {
        return Invalid(fmt::format("The {} filter value is longer than {} bytes", *name, kMaxFilterValueBytes));
      }
      *target = std::move(*value);
    }
  }
  return Status::Ok();
}

std::string_view ArnElement(DestinationKind kind) {
  switch (kind) {
    case DestinationKind::kQueue: return "Queue";
    case DestinationKind::kTopic: return "Topic";
    case DestinationKind::kCloudFunction: return "CloudFunction";
  }
  return "Queue";
}

std::string_view ConfigElement(DestinationKind kind) {
  switch (kind) {
    case DestinationKind::kQueue: return "QueueConfiguration";
    case DestinationKind::kTopic: return "TopicConfiguration";
    case DestinationKind::kCloudFunction: return "CloudFunctionConfiguration";
  }
  return "QueueConfiguration";
}

std::string_view ArnService(DestinationKind kind) {
  switch (kind) {
    case DestinationKind::kQueue: return "sqs";
    case DestinationKind::kTopic: return "sns";
    case DestinationKind::kCloudFunction: return "lambda";
  }
  return "sqs";
}

Result<DestinationConfig> ParseDestination(const pugi::xml_node& node, DestinationKind kind) {
  THUMBPIPE_RETURN_IF_ERROR(CheckNoText(node));
  DestinationConfig out;
  out.kind = kind;
  bool seen_id = false, seen_arn = false, seen_filter = false;
  for (pugi::xml_node child : node.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string_view name = LocalName(child);
    if (name == "Id") {
      if (seen_id) return Malformed("more than one <Id>");
      seen_id = true;
      THUMBPIPE_ASSIGN_OR_RETURN(out.id, LeafText(child));
    } else if (name == ArnElement(kind)) {
      if (seen_arn) return Malformed(fmt::format("more than one <{}>", name));
      seen_arn = true;
      THUMBPIPE_ASSIGN_OR_RETURN(out.arn, LeafText(child));
    } else if (name == "Event") {
      THUMBPIPE_ASSIGN_OR_RETURN(std::string event, LeafText(child));
      out.events.push_back(std::move(event));
    } else if (name == "Filter") {
      if (seen_filter) return Malformed("more than one <Filter>");
      seen_filter = true;
      THUMBPIPE_RETURN_IF_ERROR(ParseFilter(child, out));
    } else {
      return Malformed(fmt::format("unknown element <{}> in <{}>", name, ConfigElement(kind)));
    }
  }
  if (!seen_arn || out.arn.empty()) return Malformed(fmt::format("<{}> without <{}>", ConfigElement(kind), ArnElement(kind)));
  if (out.events.empty()) return Malformed(fmt::format("<{}> without <Event>", ConfigElement(kind)));
  return out;
}

// A random Id in the shape S3 generates (base64 of a UUID's text).
std::string GenerateId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  const std::string uuid = fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF,
                                       a & 0xFFF, 0x8000 | ((b >> 48) & 0x3FFF), b & 0xFFFFFFFFFFFFull);
  std::string out;
  for (size_t i = 0; i < uuid.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(uuid[i]) << 16;
    if (i + 1 < uuid.size()) n |= static_cast<unsigned char>(uuid[i + 1]) << 8;
    if (i + 2 < uuid.size()) n |= static_cast<unsigned char>(uuid[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < uuid.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < uuid.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

bool ArnParses(std::string_view arn, DestinationKind kind) {
  // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, with a non-empty resource.
  std::array<std::string_view, 6> parts;
  size_t start = 0;
  for (size_t i = 0; i < 5; ++i) {
    const size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) return false;
    parts[i] = arn.substr(start, colon - start);
    start = colon + 1;
  }
  parts[5] = arn.substr(start);
  return parts[0] == "arn" && !parts[1].empty() && parts[2] == ArnService(kind) && !parts[5].empty();
}

// A one-level prefix/suffix relation: one string is a prefix (suffix) of the other.
bool PrefixesOverlap(std::string_view a, std::string_view b) { return a.starts_with(b) || b.starts_with(a); }
bool SuffixesOverlap(std::string_view a, std::string_view b) { return a.ends_with(b) || b.ends_with(a); }

}  // namespace

Result<NotificationConfiguration> ParseNotificationXml(std::string_view xml) {
  if (xml.size() > kMaxNotificationXmlBytes) {
    return Malformed(fmt::format("document of {} bytes, over the limit of {}", xml.size(), kMaxNotificationXmlBytes));
  }
  if (xml.find_first_not_of(" \t\r\n") == std::string_view::npos) return Malformed("empty document");
  pugi::xml_document doc;
  // parse_default without entity expansion beyond the XML built-ins: pugixml never fetches
  // external entities or expands DTD entities, so there is no XXE or billion-laughs path.
  const pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) return Malformed(fmt::format("{} at byte {}", parsed.description(), parsed.offset));
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "NotificationConfiguration") {
    return Malformed("the root element must be <NotificationConfiguration>");
  }
  THUMBPIPE_RETURN_IF_ERROR(CheckNoText(root));
  NotificationConfiguration config;
  for (pugi::xml_node child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string_view name = LocalName(child);
    if (name == "EventBridgeConfiguration") {
      if (config.event_bridge) return Malformed("more than one <EventBridgeConfiguration>");
      if (child.first_child().type() == pugi::node_element) return Malformed("<EventBridgeConfiguration> must be empty");
      config.event_bridge = true;
      continue;
    }
    DestinationKind kind;
    if (name == "QueueConfiguration") {
      kind = DestinationKind::kQueue;
    } else if (name == "TopicConfiguration") {
      kind = DestinationKind::kTopic;
    } else if (name == "CloudFunctionConfiguration") {
      kind = DestinationKind::kCloudFunction;
    } else {
      return Malformed(fmt::format("unknown element <{}> in <NotificationConfiguration>", name));
    }
    if (config.destinations.size() == kMaxDestinations) {
      return Invalid(fmt::format("more than {} configurations", kMaxDestinations));
    }
    THUMBPIPE_ASSIGN_OR_RETURN(DestinationConfig destination, ParseDestination(child, kind));
    config.destinations.push_back(std::move(destination));
  }
  return config;
}

std::string ToNotificationXml(const NotificationConfiguration& config) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node root = doc.append_child("NotificationConfiguration");
  root.append_attribute("xmlns") = std::string(kS3Namespace).c_str();
  for (const DestinationConfig& d : config.destinations) {
    pugi::xml_node node = root.append_child(std::string(ConfigElement(d.kind)).c_str());
    if (!d.id.empty()) node.append_child("Id").text().set(d.id.c_str());
    node.append_child(std::string(ArnElement(d.kind)).c_str()).text().set(d.arn.c_str());
    for (const std::string& event : d.events) node.append_child("Event").text().set(event.c_str());
    if (d.prefix || d.suffix) {
      pugi::xml_node s3key = node.append_child("Filter").append_child("S3Key");
      auto add_rule = [&](const char* name, const std::string& value) {
        pugi::xml_node rule = s3key.append_child("FilterRule");
        rule.append_child("Name").text().set(name);
        rule.append_child("Value").text().set(value.c_str());
      };
      if (d.prefix) add_rule("Prefix", *d.prefix);
      if (d.suffix) add_rule("Suffix", *d.suffix);
    }
  }
  if (config.event_bridge) root.append_child("EventBridgeConfiguration");
  struct StringWriter : pugi::xml_writer {
    std::string out;
    void write(const void* data, size_t size) override { out.append(static_cast<const char*>(data), size); }
  } writer;
  doc.save(writer, "", pugi::format_raw, pugi::encoding_utf8);
  return std::move(writer.out);
}

bool KnownEventName(std::string_view name) {
  static const std::set<std::string_view> kKnown = {
      "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
      "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
      "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*", "s3:ObjectRestore:Post",
      "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject",
      "s3:Replication:*", "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
      "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
      "s3:LifecycleTransition", "s3:IntelligentTiering", "s3:LifecycleExpiration:*",
      "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:ObjectAcl:Put",
      "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAnnotation:*",
      "s3:ObjectAnnotation:Put", "s3:ObjectAnnotation:Delete"};
  return kKnown.contains(name);
}

bool EventsIntersect(std::string_view a, std::string_view b) {
  // "s3:ObjectCreated:*" covers every name that starts with "s3:ObjectCreated:".
  auto covers = [](std::string_view wildcard, std::string_view event) {
    return wildcard.ends_with(":*") && event.starts_with(wildcard.substr(0, wildcard.size() - 1));
  };
  return a == b || covers(a, b) || covers(b, a);
}

bool Overlaps(const DestinationConfig& a, const DestinationConfig& b) {
  bool shared = false;
  for (const std::string& ea : a.events) {
    for (const std::string& eb : b.events) shared = shared || EventsIntersect(ea, eb);
  }
  return shared && PrefixesOverlap(a.prefix.value_or(""), b.prefix.value_or("")) &&
         SuffixesOverlap(a.suffix.value_or(""), b.suffix.value_or(""));
}

Status ValidateNotificationConfiguration(NotificationConfiguration& config, const DestinationCheck& check,
                                         bool skip_destination_validation) {
  for (const DestinationConfig& d : config.destinations) {
    for (const std::string& event : d.events) {
      if (!KnownEventName(event)) return Invalid("The event is not supported for notifications (" + event + ")");
    }
    if (!ArnParses(d.arn, d.kind)) return Invalid("The ARN could not be parsed (" + d.arn + ")");
  }
  std::set<std::string, std::less<>> ids;
  for (DestinationConfig& d : config.destinations) {
    if (d.id.empty()) continue;
    if (d.id.size() > kMaxConfigIdBytes) return Invalid("The Id is longer than 255 bytes (" + d.id + ")");
    if (!ids.insert(d.id).second) {
      return Invalid("Same ID used for multiple configurations. IDs must be unique (" + d.id + ")");
    }
  }
  for (DestinationConfig& d : config.destinations) {
    if (!d.id.empty()) continue;
    do {
      d.id = GenerateId();
    } while (!ids.insert(d.id).second);
  }
  for (size_t i = 0; i < config.destinations.size(); ++i) {
    for (size_t j = i + 1; j < config.destinations.size(); ++j) {
      if (Overlaps(config.destinations[i], config.destinations[j])) {
        return Invalid("Configurations overlap. Configurations on the same bucket cannot share a common event type.");
      }
    }
  }
  if (!skip_destination_validation) {
    std::vector<std::string> failed;
    for (const DestinationConfig& d : config.destinations) {
      if (!check || !check(d.kind, d.arn)) failed.push_back(d.arn);
    }
    if (!failed.empty()) {
      return Invalid("Unable to validate the following destination configurations (" + fmt::format("{}", fmt::join(failed, ", ")) + ")");
    }
  }
  return Status::Ok();
}

std::string_view S3ErrorCode(const Status& status) {
  std::string_view message = status.message();
  const size_t colon = message.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  const std::string_view code = message.substr(0, colon);
  const bool word = std::all_of(code.begin(), code.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
  return word ? code : std::string_view{};
}

std::string_view S3ErrorMessage(const Status& status) {
  std::string_view message = status.message();
  const std::string_view code = S3ErrorCode(status);
  if (code.empty()) return message;
  message.remove_prefix(code.size() + 1);
  while (!message.empty() && message.front() == ' ') message.remove_prefix(1);
  return message;
}

}  // namespace thumbpipe::events
