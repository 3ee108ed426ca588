#include "server/sqs_queues.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace thumbpipe::server {
namespace {

using nlohmann::json;

json ToJson(const SqsQueueSettings& s) {
  const queue::SqliteQueueOptions& q = s.queue;
  return {{"name", q.name},
          {"visibility_timeout_ms", q.visibility_timeout.count()},
          {"max_receive_count", q.max_receive_count},
          {"retention_ms", q.retention.count()},
          {"dlq_retention_ms", q.dlq_retention.count()},
          {"delay_ms", q.delay.count()},
          {"max_message_bytes", q.max_message_bytes},
          {"receive_wait_seconds", s.receive_wait_seconds},
          {"created_s", s.created_s},
          {"modified_s", s.modified_s}};
}

// The registry file's entry over `defaults` (what the file lacks keeps the default).
SqsQueueSettings FromJson(const json& j, const queue::SqliteQueueOptions& defaults) {
  SqsQueueSettings s;
  s.queue = defaults;
  s.queue.name = j.value("name", "");
  s.queue.visibility_timeout = Duration(j.value("visibility_timeout_ms", defaults.visibility_timeout.count()));
  s.queue.max_receive_count = j.value("max_receive_count", defaults.max_receive_count);
  s.queue.retention = Duration(j.value("retention_ms", defaults.retention.count()));
  s.queue.dlq_retention = Duration(j.value("dlq_retention_ms", defaults.dlq_retention.count()));
  s.queue.delay = Duration(j.value("delay_ms", defaults.delay.count()));
  s.queue.max_message_bytes = j.value("max_message_bytes", defaults.max_message_bytes);
  s.receive_wait_seconds = j.value("receive_wait_seconds", 0);
  s.created_s = j.value("created_s", int64_t{0});
  s.modified_s = j.value("modified_s", int64_t{0});
  return s;
}

// Whether `attribute` (an SQS attribute name CreateQueue was given) has the same value in both.
bool Same(const SqsQueueSettings& a, const SqsQueueSettings& b, std::string_view attribute) {
  if (attribute == "VisibilityTimeout") return a.queue.visibility_timeout == b.queue.visibility_timeout;
  if (attribute == "MessageRetentionPeriod") return a.queue.retention == b.queue.retention;
  if (attribute == "DelaySeconds") return a.queue.delay == b.queue.delay;
  if (attribute == "MaximumMessageSize") return a.queue.max_message_bytes == b.queue.max_message_bytes;
  if (attribute == "ReceiveMessageWaitTimeSeconds") return a.receive_wait_seconds == b.receive_wait_seconds;
  if (attribute == "RedrivePolicy") return a.queue.max_receive_count == b.queue.max_receive_count;
  return true;  // accepted and not kept (Policy, encryption): nothing to differ
}

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + tmp.string());
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("cannot write " + tmp.string());
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SqsQueues>> SqsQueues::Open(SqsQueuesOptions options, queue::Queue* pipeline,
                                                   const SqsQueueSettings& pipeline_settings) {
  std::unique_ptr<SqsQueues> queues(new SqsQueues(std::move(options)));
  if (pipeline != nullptr) {
    auto entry = std::make_shared<SqsQueue>();
    entry->queue = std::shared_ptr<queue::Queue>(pipeline, [](queue::Queue*) {});  // borrowed
    entry->settings = pipeline_settings;
    entry->pipeline = true;
    queues->queues_.push_back(std::move(entry));
  }
  std::ifstream in(queues->options_.registry_file);
  if (!in) return queues;  // none made yet
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) {
    return Status::Corrupt(queues->options_.registry_file.string() + ": not a JSON array of queues");
  }
  for (const json& item : j) {
    if (!item.is_object()) continue;
    SqsQueueSettings s = FromJson(item, queues->options_.defaults);
    if (s.queue.name.empty() || queues->FindLocked(s.queue.name).ok()) continue;
    THUMBPIPE_ASSIGN_OR_RETURN(std::shared_ptr<SqsQueue> entry, queues->OpenOne(s));
    queues->queues_.push_back(std::move(entry));
  }
  return queues;
}

Result<std::shared_ptr<SqsQueue>> SqsQueues::OpenOne(const SqsQueueSettings& settings) const {
  queue::SqliteQueueOptions o = settings.queue;
  o.path = options_.defaults.path;
  o.durable_sends = options_.defaults.durable_sends;
  o.clock = options_.defaults.clock;
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<queue::Queue> opened, queue::OpenSqliteQueue(o));
  auto entry = std::make_shared<SqsQueue>();
  entry->queue = std::move(opened);
  entry->settings = settings;
  entry->settings.queue = o;
  return entry;
}

Result<ResolvedQueue> SqsQueues::Find(std::string_view name) const {
  std::scoped_lock lock(mu_);
  return FindLocked(name);
}

Result<ResolvedQueue> SqsQueues::FindLocked(std::string_view name) const {
  std::string_view base = name;
  const bool dead = name.size() > kDlqSuffix.size() && name.ends_with(kDlqSuffix);
  if (dead) base = name.substr(0, name.size() - kDlqSuffix.size());
  for (const auto& q : queues_) {
    if (q->settings.queue.name == name) return ResolvedQueue{q, false, std::string(name)};
  }
  if (dead) {
    for (const auto& q : queues_) {
      if (q->settings.queue.name == base) return ResolvedQueue{q, true, std::string(name)};
    }
  }
  return Status::NotFound("no queue " + std::string(name));
}

Result<ResolvedQueue> SqsQueues::Create(SqsQueueSettings settings, const std::vector<std::string>& given) {
  // Under the lock from lookup to insert, so two CreateQueue calls of one name make one queue.
  std::scoped_lock lock(mu_);
  if (auto found = FindLocked(settings.queue.name); found.ok()) {
    if (found->dead_letters) return *found;  // a dead-letter side exists with its queue
    for (const std::string& attribute : given) {
      if (!Same(found->entry->settings, settings, attribute)) {
        return Status::AlreadyExists("queue " + settings.queue.name + " exists with a different " + attribute);
      }
    }
    return *found;
  }
  const auto owned = std::count_if(queues_.begin(), queues_.end(), [](const auto& q) { return !q->pipeline; });
  if (owned >= options_.max_queues) {
    return Status::TooLarge("at most " + std::to_string(options_.max_queues) + " queues (server.sqs_max_queues)");
  }
  THUMBPIPE_ASSIGN_OR_RETURN(std::shared_ptr<SqsQueue> entry, OpenOne(settings));
  queues_.push_back(entry);
  if (Status st = SaveLocked(); !st.ok()) {
    queues_.pop_back();
    return st;
  }
  return ResolvedQueue{std::move(entry), false, settings.queue.name};
}

Status SqsQueues::Update(const std::string& name, SqsQueueSettings settings) {
  std::scoped_lock lock(mu_);
  auto it = std::find_if(queues_.begin(), queues_.end(), [&](const auto& q) { return q->settings.queue.name == name; });
  if (it == queues_.end()) return Status::NotFound("no queue " + name);
  if ((*it)->pipeline) {
    return Status::FailedPrecondition("the settings of the pipeline's queue " + name +
                                      " come from [queue] in the config file");
  }
  settings.queue.name = name;
  THUMBPIPE_ASSIGN_OR_RETURN(std::shared_ptr<SqsQueue> entry, OpenOne(settings));
  const std::shared_ptr<const SqsQueue> old = *it;
  *it = std::move(entry);
  if (Status st = SaveLocked(); !st.ok()) {
    *it = old;
    return st;
  }
  return Status::Ok();
}

std::vector<std::string> SqsQueues::Names(std::string_view prefix) const {
  std::vector<std::string> names;
  std::scoped_lock lock(mu_);
  for (const auto& q : queues_) {
    for (std::string name : {q->settings.queue.name, q->settings.queue.name + std::string(kDlqSuffix)}) {
      if (name.starts_with(prefix)) names.push_back(std::move(name));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status SqsQueues::SaveLocked() const {
  json j = json::array();
  for (const auto& q : queues_) {
    if (!q->pipeline) j.push_back(ToJson(q->settings));
  }
  return WriteFileAtomically(options_.registry_file, j.dump(2) + "\n");
}

}  // namespace thumbpipe::server
