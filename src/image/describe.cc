#include "image/describe.h"

namespace thumbpipe::image {

nlohmann::json DescribeInfo(const ImageInfo& info) {
  return {{"format", InputFormatName(info.format)},
          {"width", info.width},
          {"height", info.height},
          {"orientation", info.orientation},
          {"pages", info.pages},
          {"has_alpha", info.has_alpha},
          {"colourspace", info.colourspace},
          {"bits", info.bits},
          {"icc", info.has_icc},
          {"interlaced", info.interlaced}};
}

nlohmann::json DescribeRendition(const Rendition& r) {
  return {{"variant", r.variant},     {"format", FormatName(r.format)},
          {"width", r.width},         {"height", r.height},
          {"pages", r.pages},         {"bytes", r.bytes.size()}};
}

nlohmann::json DescribeError(const Status& status) {
  return {{"class", StatusCodeName(status.code())},
          {"permanent", status.IsPermanent()},
          {"reason", status.message()}};
}

}  // namespace thumbpipe::image
