// `thumbpipe queue stats|send|receive|purge` and `thumbpipe dlq list|redrive|purge`: the
// configured queue ([queue] url and settings) by hand. Human-readable by default, `--json`
// for scripts (one JSON document on stdout).
#include <chrono>
#include <ctime>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "cli/startup.h"
#include "common/duration.h"

namespace thumbpipe::cli {
namespace {

struct QueueFlags {
  std::string config_path;
  bool json = false;
  // send
  std::string body;
  std::vector<std::string> attributes;  // NAME=VALUE (String)
  std::string delay;
  // receive
  int max = 1;
  std::string wait = "0s";
  std::string visibility;
  // dlq
  int limit = 100;
  std::string after;
  std::vector<std::string> ids;
  double rate = 0;
  bool yes = false;
};

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string Iso8601(Clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json AttributesJson(const queue::Attributes& attributes) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : attributes) {
    out[name] = {{"type", value.data_type}, {"value", value.value}};
  }
  return out;
}

void Print(const QueueFlags& flags, const nlohmann::json& json, const std::string& human) {
  if (flags.json) {
    std::cout << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << human;
  }
}

// Runs `body` against the configured queue, turning every failure into a message and exit 1
// (2 for configuration errors).
int WithQueue(const QueueFlags& flags,
              const std::function<Status(queue::Queue&)>& body) {
  auto config = LoadConfigAndLogging(flags.config_path);
  if (!config.ok()) return ReportStartupError(config.status());
  auto q = OpenConfiguredQueue(*config);
  if (!q.ok()) return ReportStartupError(q.status());
  const Status status = body(**q);
  if (!status.ok()) {
    std::cerr << "thumbpipe: " << status.ToString() << "\n";
    return 1;
  }
  return 0;
}

Result<std::optional<Duration>> OptionalDuration(const std::string& text) {
  if (text.empty()) return std::optional<Duration>();
  THUMBPIPE_ASSIGN_OR_RETURN(Duration d, ParseDuration(text));
  return std::optional<Duration>(d);
}

Status Stats(const QueueFlags& flags, queue::Queue& q) {
  THUMBPIPE_ASSIGN_OR_RETURN(queue::QueueStats s, q.Stats());
  const nlohmann::json json = {
      {"visible", s.visible},          {"in_flight", s.in_flight}, {"delayed", s.delayed},
      {"dead", s.dead},                {"oldest_age_seconds", Seconds(s.oldest_age)},
      {"sent", s.sent},                {"received", s.received},   {"removed", s.removed},
      {"dead_lettered", s.dead_lettered}, {"expired", s.expired}};
  Print(flags, json,
        "visible " + std::to_string(s.visible) + "\nin flight " + std::to_string(s.in_flight) +
            "\ndelayed " + std::to_string(s.delayed) + "\ndead (DLQ) " + std::to_string(s.dead) +
            "\noldest message " + FormatDuration(std::chrono::duration_cast<Duration>(s.oldest_age)) +
            "\nsent " + std::to_string(s.sent) + ", received " + std::to_string(s.received) +
            ", removed " + std::to_string(s.removed) + ", dead-lettered " +
            std::to_string(s.dead_lettered) + ", expired " + std::to_string(s.expired) + "\n");
  return Status::Ok();
}

Status Send(const QueueFlags& flags, queue::Queue& q) {
  std::string body = flags.body;
  if (body == "-") body.assign(std::istreambuf_iterator<char>(std::cin), {});
  queue::Attributes attributes;
  for (const std::string& a : flags.attributes) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--attribute \"" + a + "\": expected NAME=VALUE");
    }
    attributes[a.substr(0, eq)] = {"String", a.substr(eq + 1)};
  }
  THUMBPIPE_ASSIGN_OR_RETURN(std::optional<Duration> delay, OptionalDuration(flags.delay));
  THUMBPIPE_ASSIGN_OR_RETURN(std::string id, q.Send(body, attributes, delay));
  Print(flags, {{"id", id}}, id + "\n");
  return Status::Ok();
}

Status Receive(const QueueFlags& flags, queue::Queue& q) {
  THUMBPIPE_ASSIGN_OR_RETURN(Duration wait, ParseDuration(flags.wait));
  THUMBPIPE_ASSIGN_OR_RETURN(std::optional<Duration> visibility, OptionalDuration(flags.visibility));
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<queue::Message> messages, q.Receive(flags.max, wait, visibility));
  nlohmann::json json = nlohmann::json::array();
  std::string human;
  for (const queue::Message& m : messages) {
    json.push_back({{"id", m.id},
                    {"receipt", m.receipt},
                    {"receive_count", m.receive_count},
                    {"sent_at", Iso8601(m.sent_at)},
                    {"attributes", AttributesJson(m.attributes)},
                    {"body", m.body}});
    human += "id " + m.id + " (receive " + std::to_string(m.receive_count) + ", sent " +
             Iso8601(m.sent_at) + ")\nreceipt " + m.receipt + "\n" + m.body + "\n\n";
  }
  if (messages.empty()) human = "no message\n";
  Print(flags, json, human);
  return Status::Ok();
}

Status Purge(const QueueFlags& flags, queue::Queue& q, bool dead_letters) {
  if (!flags.yes) {
    return Status::InvalidArgument(std::string("this deletes every message") +
                                   (dead_letters ? " in the dead-letter queue" : " in the queue") +
                                   " for good; add --yes to confirm");
  }
  THUMBPIPE_ASSIGN_OR_RETURN(int64_t n, dead_letters ? q.dead_letters().Purge() : q.Purge());
  Print(flags, {{"purged", n}}, "purged " + std::to_string(n) + " messages\n");
  return Status::Ok();
}

Status DlqList(const QueueFlags& flags, queue::Queue& q) {
  THUMBPIPE_ASSIGN_OR_RETURN(std::vector<queue::DeadMessage> dead,
                             q.dead_letters().List(flags.limit, flags.after));
  nlohmann::json json = nlohmann::json::array();
  std::string human;
  for (const queue::DeadMessage& m : dead) {
    json.push_back({{"id", m.id},
                    {"receive_count", m.receive_count},
                    {"sent_at", Iso8601(m.sent_at)},
                    {"dead_at", Iso8601(m.dead_at)},
                    {"reason", m.reason},
                    {"attributes", AttributesJson(m.attributes)},
                    {"body", m.body}});
    human += m.id + "  received " + std::to_string(m.receive_count) + "x, dead since " +
             Iso8601(m.dead_at) + "\n  reason: " + m.reason + "\n";
  }
  if (dead.empty()) human = "the dead-letter queue is empty\n";
  Print(flags, json, human);
  return Status::Ok();
}

Status DlqRedrive(const QueueFlags& flags, queue::Queue& q) {
  THUMBPIPE_ASSIGN_OR_RETURN(int64_t n, q.dead_letters().Redrive(flags.ids, flags.rate));
  Print(flags, {{"redriven", n}}, "moved " + std::to_string(n) + " messages back to the queue\n");
  return Status::Ok();
}

// Adds a subcommand whose action runs against the configured queue.
CLI::App* AddAction(CLI::App* parent, const std::string& name, const std::string& help,
                    std::shared_ptr<QueueFlags> flags, CommandRun* run,
                    std::function<Status(const QueueFlags&, queue::Queue&)> action) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("-c,--config", flags->config_path, "TOML config file")->check(CLI::ExistingFile);
  cmd->add_flag("--json", flags->json, "Print JSON for scripts");
  cmd->callback([run, flags, action] {
    *run = [flags, action] {
      return WithQueue(*flags, [&](queue::Queue& q) { return action(*flags, q); });
    };
  });
  return cmd;
}

}  // namespace

void AddQueueCommands(CLI::App& app, CommandRun* run) {
  auto flags = std::make_shared<QueueFlags>();
  CLI::App* queue_cmd = app.add_subcommand("queue", "Inspect and drive the configured queue");
  queue_cmd->require_subcommand(1);
  AddAction(queue_cmd, "stats", "Messages visible, in flight, delayed, dead; counters", flags, run, Stats);
  CLI::App* send = AddAction(queue_cmd, "send", "Send one message", flags, run, Send);
  send->add_option("body", flags->body, "Message body (- reads stdin)")->required();
  send->add_option("--attribute", flags->attributes, "NAME=VALUE string attribute, repeatable")
      ->allow_extra_args(false);
  send->add_option("--delay", flags->delay, "Delay before it is visible (e.g. 30s)");
  CLI::App* receive = AddAction(queue_cmd, "receive",
                                "Receive messages (they count as received and go in flight)",
                                flags, run, Receive);
  receive->add_option("--max", flags->max, "Messages at most (1-10)")->check(CLI::Range(1, 10));
  receive->add_option("--wait", flags->wait, "Long-poll time (0s-20s)")->capture_default_str();
  receive->add_option("--visibility", flags->visibility, "Visibility timeout (default: the queue's)");
  AddAction(queue_cmd, "purge", "Delete every message in the queue", flags, run,
            [](const QueueFlags& f, queue::Queue& q) { return Purge(f, q, false); })
      ->add_flag("--yes", flags->yes, "Confirm");

  CLI::App* dlq_cmd = app.add_subcommand("dlq", "Inspect, redrive or purge the dead-letter queue");
  dlq_cmd->require_subcommand(1);
  CLI::App* list = AddAction(dlq_cmd, "list", "Dead messages with their reasons (not a receive)",
                             flags, run, DlqList);
  list->add_option("--limit", flags->limit, "At most this many")->check(CLI::Range(1, 10000));
  list->add_option("--after", flags->after, "Start after this message id (paging)");
  CLI::App* redrive = AddAction(dlq_cmd, "redrive",
                                "Move dead messages back to the queue, receive counts reset",
                                flags, run, DlqRedrive);
  redrive->add_option("--id", flags->ids, "Only this message id, repeatable")->allow_extra_args(false);
  redrive->add_option("--rate", flags->rate, "Messages per second at most (0 = unlimited)")
      ->check(CLI::NonNegativeNumber);
  AddAction(dlq_cmd, "purge", "Delete every dead message", flags, run,
            [](const QueueFlags& f, queue::Queue& q) { return Purge(f, q, true); })
      ->add_flag("--yes", flags->yes, "Confirm");
}

}  // namespace thumbpipe::cli
