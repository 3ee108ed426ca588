// The one place that maps a queue URL to an implementation: sqlite://PATH (the embedded
// queue; "sqlite:///abs/path" or "sqlite://relative/path"), with ?queue=NAME choosing the
// queue inside the file (default "thumbnails"); amqp://USER:PASSWORD@HOST:PORT/VHOST?queue=NAME
// (RabbitMQ, amqp_queue.h; it takes visibility_timeout, max_receive_count, dlq_retention,
// max_message_bytes and the clock from `settings`, needs delay 0, and takes its consumer's
// prefetch from `consumer_capacity`);
// sqs://HOST/ACCOUNT/NAME or sqs+http://HOST:PORT/ACCOUNT/NAME (Amazon SQS or any service
// speaking its JSON protocol, sqs_queue.h; the queue and its RedrivePolicy are the service's,
// so it takes only max_message_bytes and the clock from `settings`).
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "sigv4/signer.h"
#include "queue/queue.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::queue {

// Opens the queue at `url`. `settings` carries the SQS-style settings every backend uses
// (visibility timeout, receive count, retention, delay, sizes, durability, clock); its
// path and name are taken from the URL, and a missing folder for the file is created.
// kInvalidArgument for an unknown scheme or a
// malformed URL.
// `fallback_credentials` sign an sqs:// queue's requests when neither the environment nor the
// AWS profile files have keys (the config file's first [[credentials]] entry).
// `consumer_capacity`: how many received messages the caller holds at most (a worker: its
// concurrency plus worker.receive_ahead, pipeline::MaxMessagesInHand); 0 = unknown. A
// backend that keeps messages coming to a consumer (amqp://: AmqpQueueOptions::prefetch)
// pushes no more than that, so a busy process never hoards messages it has no room for.
// The others ignore it.
Result<std::unique_ptr<Queue>> OpenQueue(std::string_view url, SqliteQueueOptions settings,
                                         const std::optional<sigv4::Credentials>& fallback_credentials = std::nullopt,
                                         int consumer_capacity = 0);

// For a sqlite:// URL: `settings` with the file and queue name the URL names (the file's
// folder is created). kInvalidArgument for another scheme or a malformed URL.
Result<SqliteQueueOptions> SqliteSettingsOf(std::string_view url, SqliteQueueOptions settings);

// The name of the queue `url` designates: ?queue=NAME of sqlite:// and amqp:// ("thumbnails"
// when absent), otherwise the last path segment before any query (an SQS queue URL ends in the
// queue's name). `serve` knows its queue by this name and by the ARN made from it, whatever the
// backend, so a notification configuration names an external queue as it names its own.
std::string QueueNameOfUrl(std::string_view url);

}  // namespace thumbpipe::queue
