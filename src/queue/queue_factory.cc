#include "queue/queue_factory.h"

#include <filesystem>
#include <string>

namespace thumbpipe::queue {

Result<std::unique_ptr<Queue>> OpenQueue(std::string_view url, SqliteQueueOptions settings) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    std::string_view rest = url.substr(kSqlite.size());
    const size_t query = rest.find('?');
    if (query != std::string_view::npos) {
      const std::string_view params = rest.substr(query + 1);
      rest = rest.substr(0, query);
      constexpr std::string_view kQueueParam = "queue=";
      if (!params.starts_with(kQueueParam) || params.find('&') != std::string_view::npos) {
        return Status::InvalidArgument("queue url \"" + std::string(url) +
                                       "\": the only parameter is ?queue=NAME");
      }
      settings.name = std::string(params.substr(kQueueParam.size()));
    }
    if (rest.empty()) {
      return Status::InvalidArgument("queue url \"" + std::string(url) + "\" names no file");
    }
    settings.path = std::string(rest);
    // A fresh data directory is normal (first start); its folder is made here.
    std::error_code ec;
    if (settings.path.has_parent_path()) std::filesystem::create_directories(settings.path.parent_path(), ec);
    if (ec) return Status::IOError("cannot create " + settings.path.parent_path().string() + ": " + ec.message());
    return OpenSqliteQueue(settings);
  }
  return Status::InvalidArgument("queue url \"" + std::string(url) +
                                 "\": unsupported scheme (supported: sqlite://PATH)");
}

}  // namespace thumbpipe::queue
