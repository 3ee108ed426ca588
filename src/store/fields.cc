#include "store/fields.h"

#include <charconv>

namespace thumbpipe::store::internal {

std::string EncodeStrings(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view s : items) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
  }
  return out;
}

Result<std::vector<std::string>> DecodeStrings(std::string_view blob) {
  std::vector<std::string> out;
  while (!blob.empty()) {
    const size_t colon = blob.find(':');
    size_t n = 0;
    if (colon == std::string_view::npos ||
        std::from_chars(blob.data(), blob.data() + colon, n).ptr != blob.data() + colon ||
        n > blob.size() - colon - 1) {
      return Status::Corrupt("index: malformed string list");
    }
    out.emplace_back(blob.substr(colon + 1, n));
    blob.remove_prefix(colon + 1 + n);
  }
  return out;
}

std::string EncodeMetadata(const Metadata& metadata) {
  std::vector<std::string_view> items;
  for (const auto& [name, value] : metadata) {
    items.push_back(name);
    items.push_back(value);
  }
  return EncodeStrings(items);
}

Result<Metadata> DecodeMetadata(std::string_view blob) {
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<std::string> items, DecodeStrings(blob));
  if (items.size() % 2 != 0) return Status::Corrupt("index: odd metadata list");
  Metadata out;
  for (size_t i = 0; i < items.size(); i += 2) out.emplace(std::move(items[i]), std::move(items[i + 1]));
  return out;
}

std::string EncodeHeaders(const PutOptions& o) {
  return EncodeStrings({o.cache_control, o.content_disposition, o.content_encoding, o.content_language});
}

Status DecodeHeaders(std::string_view blob, ObjectInfo& info) {
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<std::string> items, DecodeStrings(blob));
  if (items.size() != 4) return Status::Corrupt("index: malformed header list");
  info.cache_control = std::move(items[0]);
  info.content_disposition = std::move(items[1]);
  info.content_encoding = std::move(items[2]);
  info.content_language = std::move(items[3]);
  return Status::Ok();
}

std::string EncodeUploadOptions(const PutOptions& o) {
  const std::string kind = std::to_string(static_cast<int>(o.kind));
  const std::string headers = EncodeHeaders(o), metadata = EncodeMetadata(o.metadata);
  return EncodeStrings({o.content_type, headers, metadata, kind, o.context.request_id,
                        o.context.host_id, o.context.principal_id, o.context.source_ip});
}

Result<PutOptions> DecodeUploadOptions(std::string_view blob) {
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<std::string> items, DecodeStrings(blob));
  if (items.size() != 8) return Status::Corrupt("index: malformed upload options");
  PutOptions o;
  o.content_type = std::move(items[0]);
  ObjectInfo headers;
  THUMBPIPE_RETURN_IF_ERROR(DecodeHeaders(items[1], headers));
  o.cache_control = std::move(headers.cache_control);
  o.content_disposition = std::move(headers.content_disposition);
  o.content_encoding = std::move(headers.content_encoding);
  o.content_language = std::move(headers.content_language);
  THUMBPIPE_ASSIGN_OR_RETURN(o.metadata, DecodeMetadata(items[2]));
  o.kind = static_cast<WriteKind>(std::atoi(items[3].c_str()));
  o.context = {std::move(items[4]), std::move(items[5]), std::move(items[6]), std::move(items[7])};
  return o;
}

}  // namespace thumbpipe::store::internal
