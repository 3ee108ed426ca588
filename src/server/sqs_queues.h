// SqsQueues: the named queues `serve`'s SQS API offers, all in the embedded SQLite queue file.
//
// - The pipeline's queue (the one [queue] url names, which the notifier fills and the workers
//   read) is borrowed: its settings come from the config and SetQueueAttributes refuses to
//   change them.
// - Queues made by CreateQueue are opened here, one SqliteQueue object each, with their
//   settings recorded in `<queue file>.sqs.json` (written atomically), so they
//   come back with the same settings after a restart.
// - Every queue NAME has its dead-letter queue "NAME-dlq": the embedded queue's dead side of
//   NAME (as `thumbpipe dlq` calls it), not a queue of its own. A RedrivePolicy may therefore
//   only name that ARN; maxReceiveCount is NAME's max_receive_count.
//
// Thread-safe. A queue handed out stays alive while a request uses it (shared_ptr), even if
// SetQueueAttributes reopens it meanwhile.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "queue/sqlite_queue.h"

namespace thumbpipe::server {

// The account id in queue URLs and ARNs: the one events::EmbeddedQueueArn uses.
inline constexpr std::string_view kSqsAccountId = "000000000000";
inline constexpr std::string_view kDlqSuffix = "-dlq";

// A queue's settings as SQS attributes see them (the SQLite queue's, plus what only the API
// keeps).
struct SqsQueueSettings {
  queue::SqliteQueueOptions queue;  // path, name, visibility, receive count, retention, ...
  int receive_wait_seconds = 0;     // ReceiveMessageWaitTimeSeconds: the default WaitTimeSeconds
  int64_t created_s = 0;            // CreatedTimestamp (epoch seconds)
  int64_t modified_s = 0;           // LastModifiedTimestamp
};

struct SqsQueue {
  std::shared_ptr<queue::Queue> queue;
  SqsQueueSettings settings;
  bool pipeline = false;  // the borrowed pipeline queue
};

// What a queue URL or name resolved to: a queue, or the dead side of one (dead_letters).
struct ResolvedQueue {
  std::shared_ptr<const SqsQueue> entry;
  bool dead_letters = false;
  std::string name;  // as asked ("thumbnails" or "thumbnails-dlq")
};

struct SqsQueuesOptions {
  // The settings a queue made by CreateQueue starts from ([queue] of the config), whose path
  // is the database file. max_receive_count is replaced by kNoRedriveReceiveCount unless the
  // request has a RedrivePolicy.
  queue::SqliteQueueOptions defaults;
  std::filesystem::path registry_file;  // "<queue file>.sqs.json"
  int max_queues = 100;                 // queues CreateQueue may make (not counting the pipeline's)
};

// SQS queues without a RedrivePolicy never dead-letter; the embedded queue always does, so
// they get the largest count it accepts.
inline constexpr int kNoRedriveReceiveCount = 1000;

class SqsQueues {
 public:
  // Reopens the queues the registry file lists. `pipeline` (may be null) is borrowed and must
  // outlive this object; `pipeline_settings` are its settings ([queue] of the config).
  static Result<std::unique_ptr<SqsQueues>> Open(SqsQueuesOptions options, queue::Queue* pipeline,
                                                 const SqsQueueSettings& pipeline_settings);

  // kNotFound when there is no such queue (a "-dlq" name resolves while its queue exists).
  Result<ResolvedQueue> Find(std::string_view name) const;

  // Creates `settings.queue.name`, or returns the existing queue when every attribute in
  // `given` matches it (kAlreadyExists otherwise). kTooLarge beyond max_queues.
  Result<ResolvedQueue> Create(SqsQueueSettings settings, const std::vector<std::string>& given);

  // Reopens queue `name` with `settings`. kFailedPrecondition for the pipeline queue.
  Status Update(const std::string& name, SqsQueueSettings settings);

  // Names (queues and their "-dlq") starting with `prefix`, sorted.
  std::vector<std::string> Names(std::string_view prefix) const;

  const SqsQueuesOptions& options() const { return options_; }

 private:
  explicit SqsQueues(SqsQueuesOptions options) : options_(std::move(options)) {}
  Status SaveLocked() const;  // REQUIRES: mu_ held
  Result<ResolvedQueue> FindLocked(std::string_view name) const;  // REQUIRES: mu_ held (or no other user yet)
  Result<std::shared_ptr<SqsQueue>> OpenOne(const SqsQueueSettings& settings) const;

  const SqsQueuesOptions options_;
  mutable std::mutex mu_;  // protects queues_ and the registry file
  std::vector<std::shared_ptr<const SqsQueue>> queues_;
};

}  // namespace thumbpipe::server
