#include "store/store_factory.h"

#include <string>

namespace thumbpipe::store {

Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url, LocalStoreOptions options, S3StoreOptions s3) {
  constexpr std::string_view kFile = "file://", kS3 = "s3://";
  if (url.starts_with(kFile)) {
    const std::string_view path = url.substr(kFile.size());
    if (path.empty()) return Status::InvalidArgument("store url \"" + std::string(url) + "\" names no folder");
    if (path.find('?') != std::string_view::npos) {
      return Status::InvalidArgument("store url \"" + std::string(url) + "\": file:// takes no parameters");
    }
    options.dir = std::string(path);
    return OpenLocalStore(options);  // creates the folder
  }
  if (url.starts_with(kS3)) {
    THUMBPIPE_RETURN_IF_ERROR(ParseS3Url(url, &s3));
    return OpenS3Store(std::move(s3));
  }
  return Status::InvalidArgument("store url \"" + std::string(url) +
                                 "\": unsupported scheme (supported: file://PATH, s3://BUCKET?endpoint=...)");
}

}  // namespace thumbpipe::store
