// The query protocol <-> the JSON shape. The flattened names come from the SQS API model
// (botocore's sqs/2012-11-05/service-2.json, protocol "query"): every list and map is
// "flattened", so a request carries "AttributeName.1=All" and an answer repeats
// <Attribute><Name/><Value/></Attribute> without a wrapper element.
#include "server/sqs_query.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

#include "server/s3_xml.h"

namespace thumbpipe::sqs {
namespace {

using nlohmann::json;

// Members the JSON protocol carries as numbers.
const std::set<std::string, std::less<>> kNumericMembers = {
    "MaxNumberOfMessages", "WaitTimeSeconds", "VisibilityTimeout", "DelaySeconds", "MaxResults",
    "MaxNumberOfMessagesPerSecond"};

// Flattened list members: query name -> JSON name.
const std::map<std::string, std::string, std::less<>> kListMembers = {
    {"AttributeName", "AttributeNames"},
    {"MessageAttributeName", "MessageAttributeNames"},
    {"MessageSystemAttributeName", "MessageSystemAttributeNames"},
};

// Flattened maps: query name -> (JSON name, key member, value member).
struct MapMember {
  std::string json_name, key, value;
};
const std::map<std::string, MapMember, std::less<>> kMapMembers = {
    {"Attribute", {"Attributes", "Name", "Value"}},
    {"Tag", {"tags", "Key", "Value"}},
    {"MessageAttribute", {"MessageAttributes", "Name", "Value"}},
    {"MessageSystemAttribute", {"MessageSystemAttributes", "Name", "Value"}},
};

// The children of an indexed node ("1", "2", "10", ...) in index order.
Result<std::vector<const json*>> Indexed(const json& node, std::string_view what) {
  if (!node.is_object()) return Status::InvalidArgument(std::string(what) + " must be followed by .N");
  std::vector<std::pair<uint64_t, const json*>> items;
  for (const auto& [index, child] : node.items()) {
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), n);
    if (ec != std::errc() || end != index.data() + index.size() || n == 0) {
      return Status::InvalidArgument(std::string(what) + "." + index + ": the index must be a positive integer");
    }
    items.emplace_back(n, &child);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const json*> out;
  for (const auto& item : items) out.push_back(item.second);
  return out;
}

Result<json> Shape(const json& node);

Result<json> ShapeValue(std::string_view name, const json& value) {
  if (value.is_string()) {
    if (kNumericMembers.contains(name)) {
      const std::string& s = value.get_ref<const std::string&>();
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc() && end == s.data() + s.size()) return json(n);
    }
    return value;
  }
  return Shape(value);
}

// Turns the tree of dotted names into the JSON shape (see QueryParamsToJson).
Result<json> Shape(const json& node) {
  json out = json::object();
  for (const auto& [name, value] : node.items()) {
    if (auto list = kListMembers.find(name); list != kListMembers.end()) {
      THUMBPIPE_ASSIGN_OR_RETURN(std::vector<const json*> items, Indexed(value, name));
      json array = json::array();
      for (const json* item : items) {
        if (!item->is_string()) return Status::InvalidArgument(name + ".N must be a value");
        array.push_back(*item);
      }
      out[list->second] = std::move(array);
    } else if (auto map = kMapMembers.find(name); map != kMapMembers.end()) {
      THUMBPIPE_ASSIGN_OR_RETURN(std::vector<const json*> items, Indexed(value, name));
      json object = json::object();
      for (const json* item : items) {
        auto key = item->find(map->second.key);
        auto val = item->find(map->second.value);
        if (!item->is_object() || key == item->end() || !key->is_string() || val == item->end()) {
          return Status::InvalidArgument(name + ".N needs ." + map->second.key + " and ." + map->second.value);
        }
        THUMBPIPE_ASSIGN_OR_RETURN(json shaped, ShapeValue(map->second.value, *val));
        object[key->get<std::string>()] = std::move(shaped);
      }
      out[map->second.json_name] = std::move(object);
    } else if (name.ends_with("RequestEntry")) {
      THUMBPIPE_ASSIGN_OR_RETURN(std::vector<const json*> items, Indexed(value, name));
      json entries = json::array();
      for (const json* item : items) {
        if (!item->is_object()) return Status::InvalidArgument(name + ".N must be a structure");
        THUMBPIPE_ASSIGN_OR_RETURN(json entry, Shape(*item));
        entries.push_back(std::move(entry));
      }
      out["Entries"] = std::move(entries);
    } else {
      THUMBPIPE_ASSIGN_OR_RETURN(json shaped, ShapeValue(name, value));
      out[name] = std::move(shaped);
    }
  }
  return out;
}

// XML text, with CR as a character reference (S3's escaping does it), which XML parsers would
// otherwise turn into LF, and the body would no longer match its MD5.
std::string Text(std::string_view text) { return server::XmlEscape(text); }

void Element(std::string_view name, std::string_view inner, std::string* out) {
  *out += '<';
  *out += name;
  *out += '>';
  *out += inner;
  *out += "</";
  *out += name;
  *out += '>';
}

std::string ScalarText(const json& value) {
  if (value.is_string()) return Text(value.get_ref<const std::string&>());
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

void RenderObject(std::string_view action, const json& object, std::string* out);

// One member of a result, flattened as the model says.
void RenderMember(std::string_view action, const std::string& name, const json& value, std::string* out) {
  if (name == "Attributes" && value.is_object()) {
    for (const auto& [k, v] : value.items()) {
      Element("Attribute", "<Name>" + Text(k) + "</Name><Value>" + ScalarText(v) + "</Value>", out);
    }
  } else if (name == "MessageAttributes" && value.is_object()) {
    for (const auto& [k, v] : value.items()) {
      std::string inner;
      RenderObject(action, v, &inner);
      Element("MessageAttribute", "<Name>" + Text(k) + "</Name><Value>" + inner + "</Value>", out);
    }
  } else if (value.is_array()) {
    std::string item = name;
    if (name == "Messages") item = "Message";
    if (name == "QueueUrls" || name == "queueUrls") item = "QueueUrl";
    if (name == "Successful") item = std::string(action) + "ResultEntry";
    if (name == "Failed") item = "BatchResultErrorEntry";
    if (name == "Results") item = std::string(action) + "ResultEntry";
    for (const json& v : value) {
      if (v.is_object()) {
        std::string inner;
        RenderObject(action, v, &inner);
        Element(item, inner, out);
      } else {
        Element(item, ScalarText(v), out);
      }
    }
  } else if (value.is_object()) {
    std::string inner;
    RenderObject(action, value, &inner);
    Element(name, inner, out);
  } else if (!value.is_null()) {
    Element(name, ScalarText(value), out);
  }
}

void RenderObject(std::string_view action, const json& object, std::string* out) {
  if (!object.is_object()) return;
  for (const auto& [name, value] : object.items()) RenderMember(action, name, value, out);
}

}  // namespace

Result<nlohmann::json> QueryParamsToJson(const std::map<std::string, std::string, std::less<>>& params) {
  json tree = json::object();
  for (const auto& [name, value] : params) {
    json* node = &tree;
    std::string_view rest = name;
    for (;;) {
      const size_t dot = rest.find('.');
      const std::string segment(rest.substr(0, dot));
      if (segment.empty()) return Status::InvalidArgument("parameter \"" + name + "\": empty name segment");
      if (!node->is_object()) {
        return Status::InvalidArgument("parameter \"" + name + "\" is both a value and a structure");
      }
      if (dot == std::string_view::npos) {
        if (node->contains(segment)) {
          return Status::InvalidArgument("parameter \"" + name + "\" is both a value and a structure");
        }
        (*node)[segment] = value;
        break;
      }
      json& child = (*node)[segment];
      if (child.is_null()) child = json::object();
      node = &child;
      rest = rest.substr(dot + 1);
    }
  }
  return Shape(tree);
}

std::string QueryResponseXml(std::string_view action, const nlohmann::json& result, std::string_view request_id) {
  std::string out = "<?xml version=\"1.0\"?>";
  out += "<" + std::string(action) + "Response xmlns=\"" + std::string(kXmlNamespace) + "\">";
  std::string inner;
  RenderObject(action, result, &inner);
  if (inner.empty()) {
    out += "<" + std::string(action) + "Result/>";
  } else {
    Element(std::string(action) + "Result", inner, &out);
  }
  out += "<ResponseMetadata><RequestId>" + Text(request_id) + "</RequestId></ResponseMetadata>";
  out += "</" + std::string(action) + "Response>";
  return out;
}

std::string QueryErrorXml(const Error& error, std::string_view request_id) {
  std::string out = "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"" + std::string(kXmlNamespace) + "\"><Error>";
  Element("Type", error.sender ? "Sender" : "Receiver", &out);
  Element("Code", Text(error.query_code), &out);
  Element("Message", Text(error.message), &out);
  out += "<Detail/></Error>";
  Element("RequestId", Text(request_id), &out);
  out += "</ErrorResponse>";
  return out;
}

}  // namespace thumbpipe::sqs
