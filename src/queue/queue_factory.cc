#include "queue/queue_factory.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "queue/amqp_queue.h"
#include "queue/sqs_queue.h"

namespace thumbpipe::queue {

Result<SqliteQueueOptions> SqliteSettingsOf(std::string_view url, SqliteQueueOptions settings) {
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
    return settings;
  }
  return Status::InvalidArgument("queue url \"" + std::string(url.substr(0, url.find("://"))) +
                                 "://...\" is not a sqlite:// URL");
}

Result<std::unique_ptr<Queue>> OpenQueue(std::string_view url, SqliteQueueOptions settings,
                                         const std::optional<sigv4::Credentials>& fallback_credentials,
                                         int consumer_capacity) {
  if (url.starts_with("sqlite://")) {
    THUMBPIPE_ASSIGN_OR_RETURN(SqliteQueueOptions sqlite, SqliteSettingsOf(url, std::move(settings)));
    return OpenSqliteQueue(sqlite);
  }
  if (url.starts_with("amqp://") || url.starts_with("amqps://")) {
    THUMBPIPE_ASSIGN_OR_RETURN(AmqpEndpoint endpoint, ParseAmqpUrl(url));
    if (settings.delay != Duration{0}) {
      return Status::InvalidArgument("queue delay must be 0 for an amqp:// queue (AMQP has no per-message delay)");
    }
    AmqpQueueOptions options;
    options.endpoint = std::move(endpoint);
    options.visibility_timeout = settings.visibility_timeout;
    options.max_receive_count = settings.max_receive_count;
    options.dlq_retention = settings.dlq_retention;
    options.max_message_bytes = settings.max_message_bytes;
    options.clock = settings.clock;
    options.prefetch = std::clamp(consumer_capacity, 0, 65535);
    return OpenAmqpQueue(options);
  }
  if (url.starts_with("sqs://") || url.starts_with("sqs+http://") || url.starts_with("sqs+https://")) {
    SqsQueueOptions options;
    THUMBPIPE_ASSIGN_OR_RETURN(options.endpoint, ParseSqsUrl(url));
    options.max_message_bytes = settings.max_message_bytes;
    options.clock = settings.clock;
    options.fallback_credentials = fallback_credentials;
    return OpenSqsQueue(std::move(options));
  }
  // The url is not echoed whole: other schemes may carry a password.
  const size_t scheme_end = url.find("://");
  return Status::InvalidArgument("queue url scheme \"" + std::string(url.substr(0, scheme_end)) +
                                 "\" is not supported (supported: sqlite://PATH, amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME, "
                                 "sqs://HOST/ACCOUNT/NAME, sqs+http://HOST:PORT/ACCOUNT/NAME)");
}

std::string QueueNameOfUrl(std::string_view url) {
  constexpr std::string_view kDefault = "thumbnails";
  if (url.starts_with("amqp://")) {
    auto endpoint = ParseAmqpUrl(url);
    return endpoint.ok() ? endpoint->queue : std::string(kDefault);
  }
  const size_t query = url.find('?');
  if (url.starts_with("sqlite://")) {
    constexpr std::string_view kParam = "?queue=";  // the only parameter OpenQueue accepts
    return query != std::string_view::npos && url.substr(query).starts_with(kParam)
               ? std::string(url.substr(query + kParam.size()))
               : std::string(kDefault);
  }
  std::string_view path = url.substr(0, query);
  path = path.substr(0, path.find_last_not_of('/') + 1);
  return std::string(path.substr(path.rfind('/') + 1));  // npos + 1 == 0: the whole string
}

}  // namespace thumbpipe::queue
