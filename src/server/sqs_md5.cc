// The digests SQS puts on messages and the message-attribute shape of the JSON protocol.
#include <algorithm>
#include <cstdint>

#include "server/sqs_wire.h"
#include "sigv4/crypto.h"
#include "store/md5.h"

namespace thumbpipe::sqs {
namespace {

void AppendLengthPrefixed(std::string_view bytes, std::string* out) {
  const auto n = static_cast<uint32_t>(bytes.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  out->append(len, 4);
  out->append(bytes);
}

// "Binary" and "Binary.png" are binary; "String", "Number.int" and anything else are text.
bool IsBinaryType(std::string_view data_type) {
  return data_type.substr(0, data_type.find('.')) == "Binary";
}

std::string HexMd5(std::string_view bytes) {
  store::internal::Md5 md5;
  md5.Update(bytes);
  return sigv4::HexEncode(md5.Finish());
}

bool NameSelected(const std::string& name, const nlohmann::json& names) {
  for (const nlohmann::json& n : names) {
    if (!n.is_string()) continue;
    const std::string& want = n.get_ref<const std::string&>();
    if (want == "All" || want == ".*" || want == name) return true;
    if (want.size() > 2 && want.ends_with(".*") && name.starts_with(want.substr(0, want.size() - 1))) return true;
  }
  return false;
}

}  // namespace

std::string Md5OfBody(std::string_view body) { return HexMd5(body); }

std::string Md5OfAttributes(const queue::Attributes& attributes) {
  if (attributes.empty()) return {};
  // queue::Attributes is a std::map: already sorted by name (bytewise, as SQS sorts).
  std::string buffer;
  for (const auto& [name, value] : attributes) {
    AppendLengthPrefixed(name, &buffer);
    AppendLengthPrefixed(value.data_type, &buffer);
    buffer.push_back(static_cast<char>(IsBinaryType(value.data_type) ? 2 : 1));
    AppendLengthPrefixed(value.value, &buffer);
  }
  return HexMd5(buffer);
}

Result<queue::Attributes> AttributesFromJson(const nlohmann::json& json) {
  queue::Attributes out;
  if (json.is_null()) return out;
  if (!json.is_object()) return Status::InvalidArgument("MessageAttributes must be a map of name to value");
  for (const auto& [name, v] : json.items()) {
    const std::string where = "message attribute \"" + name + "\"";
    if (!v.is_object()) return Status::InvalidArgument(where + ": the value must be a structure");
    if (v.contains("StringListValues") || v.contains("BinaryListValues")) {
      return Status::InvalidArgument(where + ": StringListValues and BinaryListValues are not implemented");
    }
    auto type = v.find("DataType");
    if (type == v.end() || !type->is_string() || type->get_ref<const std::string&>().empty()) {
      return Status::InvalidArgument(where + " must have a DataType");
    }
    queue::AttributeValue value;
    value.data_type = type->get<std::string>();
    const bool binary = IsBinaryType(value.data_type);
    auto string_value = v.find("StringValue");
    auto binary_value = v.find("BinaryValue");
    if (binary) {
      if (binary_value == v.end() || !binary_value->is_string()) {
        return Status::InvalidArgument(where + ": a " + value.data_type + " attribute needs a BinaryValue");
      }
      std::optional<std::string> bytes = sigv4::Base64Decode(binary_value->get_ref<const std::string&>());
      if (!bytes) return Status::InvalidArgument(where + ": BinaryValue is not valid base64");
      value.value = std::move(*bytes);
    } else {
      if (string_value == v.end() || !string_value->is_string()) {
        return Status::InvalidArgument(where + ": a " + value.data_type + " attribute needs a StringValue");
      }
      value.value = string_value->get<std::string>();
    }
    out.emplace(name, std::move(value));
  }
  return out;
}

nlohmann::json AttributesToJson(const queue::Attributes& attributes, const nlohmann::json& names) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : attributes) {
    if (!NameSelected(name, names)) continue;
    nlohmann::json v = {{"DataType", value.data_type}};
    if (IsBinaryType(value.data_type)) {
      v["BinaryValue"] = sigv4::Base64Encode(value.value);
    } else {
      v["StringValue"] = value.value;
    }
    out[name] = std::move(v);
  }
  return out;
}

}  // namespace thumbpipe::sqs
