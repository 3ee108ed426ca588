// Config is the whole of thumbpipe's configuration: one plain, validated struct built from
// defaults, then a TOML file, then THUMBPIPE_* environment variables (each later source wins
// per key). Every key has a default, so an empty file (or none) is a valid config that runs the
// whole pipeline embedded on loopback. docs/configuration.md lists every key, its default, its
// allowed values and its environment variable.
//
// Errors are Status::InvalidArgument (kNotFound / kIOError for an unreadable file) with a
// message that names the key by its path ("server.listen", "variant[2].fit"), the file and
// line when known, and what would be accepted. No exception escapes this library.
//
// A Config is plain data: copy it freely and read it from any thread.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/logging.h"
#include "common/result.h"
#include "image/limits.h"
#include "image/recipe.h"

namespace thumbpipe::config {

// [log]
struct LogConfig {
  LogLevel level = LogLevel::kInfo;  // records below this level are dropped
};

// [server]: the embedded S3-compatible HTTP API.
struct ServerConfig {
  std::string listen = "127.0.0.1:9000";  // host:port; IPv6 as "[::1]:9000". Loopback by default.
  int max_connections = 256;              // open connections beyond this are refused
  uint64_t max_header_bytes = 16384;      // request line + headers
  // Largest object accepted in one PUT: 5 GiB, S3's own single-PUT limit.
  uint64_t max_body_bytes = 5ull << 30;
  Duration idle_timeout = std::chrono::seconds(60);    // keep-alive connection with no request
  Duration header_timeout = std::chrono::seconds(15);  // to receive a complete header
  Duration body_timeout = std::chrono::seconds(300);   // to receive a complete body
  // How long a response may wait on a client that does not read it (per chunk written).
  Duration write_timeout = std::chrono::seconds(60);
  int io_threads = 2;  // run the sockets (parsing, reading, writing); never blocked by the disk
  // Run the requests' store work (reads, writes, fsyncs); more threads than cores keeps the disk
  // busy while some of them wait for an fsync.
  int worker_threads = 8;
  std::string region = "us-east-1";                    // the region SigV4 signatures must name
  std::string public_url;                              // base URL clients see; "" = http://{listen}
  std::vector<std::string> cors_allowed_origins;       // Origin values allowed by CORS; "*" = any
  // The SQS API (sqlite:// queues only; docs/sqs-api.md): ReceiveMessage calls that may
  // long-poll at once, each holding one of the server's 8 worker threads (past it a receive
  // answers at once), and how many queues CreateQueue may make.
  int sqs_max_long_polls = 4;
  int sqs_max_queues = 100;
};

// What a credential may do in the buckets it names.
enum class Access { kReadWrite, kReadOnly, kWriteOnly };

// One [[credentials]] entry: an access key for the S3 API.
struct Credential {
  std::string access_key;                    // 16-128 characters of A-Z 0-9
  std::string secret_key;                    // at least 16 characters
  bool admin = false;                        // may change bucket configuration
  std::vector<std::string> buckets = {"*"};  // buckets this key may use; "*" = all
  Access access = Access::kReadWrite;
};

// [store]: where objects live.
struct StoreConfig {
  // file://PATH or s3://BUCKET?endpoint=URL&region=R&path_style=true. "{data_dir}" is replaced
  // by Config::data_dir when the config is loaded.
  std::string url = "file://{data_dir}/objects";
};

// [trigger]: which uploads start the pipeline.
struct TriggerConfig {
  std::string bucket = "images";
  std::string prefix = "uploads/";  // "" = every key in the bucket
  // Key endings that trigger (compared case-insensitively); each starts with ".".
  std::vector<std::string> suffixes = {".jpg",  ".jpeg", ".png", ".webp", ".gif",
                                       ".avif", ".heic", ".tif", ".tiff"};
  // S3 event names that trigger: s3:ObjectCreated:* / Put / Post / Copy /
  // CompleteMultipartUpload, s3:ObjectRemoved:* / Delete / DeleteMarkerCreated.
  std::vector<std::string> events = {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"};
};

// [output]: where renditions are written ({prefix}{variant}/{name}.{ext}).
struct OutputConfig {
  std::string bucket = "images";
  std::string prefix = "thumbnails/";
};

// How hard the embedded SQLite queue works to survive a power cut.
enum class Durability {
  kFull,    // fsync on every commit: an acknowledged send survives power loss
  kNormal,  // WAL without fsync per commit: survives a crash of the process, not of the OS
};

// [queue]: events between the notifier and the workers (SQS semantics).
struct QueueConfig {
  // sqlite://PATH, sqs://..., http(s):// (an SQS endpoint), amqp(s)://. "{data_dir}" is
  // replaced by Config::data_dir when the config is loaded.
  std::string url = "sqlite://{data_dir}/queue.db";
  Duration visibility_timeout = std::chrono::seconds(60);  // 0s-12h, as in SQS
  int max_receive_count = 3;                               // receives before the DLQ; 1-1000
  Duration retention = std::chrono::hours(4 * 24);         // 60s-14d
  Duration dlq_retention = std::chrono::hours(10 * 24);    // 60s-14d; >= retention
  Duration delay = Duration{0};                            // before a new message is visible; 0-15m
  uint64_t max_message_bytes = 1048576;                    // 1 KiB-1 MiB
  Durability durability = Durability::kFull;               // sqlite:// only
};

// Where `serve` and `worker` run their image jobs.
enum class WorkerIsolation {
  kThread,   // in their own process: one process, nothing to set up (the default)
  kProcess,  // in a `thumbpipe worker` child that they restart when it dies, so a decoder that
             // crashes on a hostile file takes down that child, never the S3 API
};

// [worker]
struct WorkerConfig {
  int concurrency = 0;                       // images processed in parallel; 0 = one per core
  int batch = 10;                            // messages per receive; 1-10 as in SQS
  Duration wait = std::chrono::seconds(20);  // long-poll time per receive; 0-20s
  // How often a worker extends the visibility of a message it still works on;
  // 0 = a third of queue.visibility_timeout (see HeartbeatInterval).
  Duration heartbeat = Duration{0};
  Duration shutdown_grace = std::chrono::seconds(30);  // to finish jobs on SIGTERM
  // Nice value of the threads that run image jobs, 0-19 (0 = the process's own): the upload
  // path, receives and heartbeats get a core first when the jobs fill the machine.
  int job_nice = 10;
  // Messages a worker receives beyond its free job slots, 0-10 (pipeline/worker.h): with 1,
  // a slot that frees starts the next message at once instead of after a queue round trip.
  int receive_ahead = 1;
  std::string metrics_listen = "127.0.0.1:9001";       // host:port of /metrics
  WorkerIsolation isolation = WorkerIsolation::kThread;  // serve and worker
  // Bytes that the image jobs of one process may hold at once, by their estimated peaks
  // (image/memory_budget.h); 0 = AutomaticMemoryBudget(), 60% of the RAM or cgroup limit.
  uint64_t memory_budget = 0;
};

// The three renditions made when the config names no [[variant]]: small (128x128 cover
// webp), medium (512x512 inside jpeg) and large (1024x1024 inside webp).
image::Recipe DefaultRecipe();

struct Config {
  std::filesystem::path data_dir = "./thumbpipe-data";  // state of the embedded store and queue
  LogConfig log;
  ServerConfig server;
  // [[credentials]]; empty = `serve` generates one admin key on first start.
  std::vector<Credential> credentials;
  StoreConfig store;
  TriggerConfig trigger;
  OutputConfig output;
  QueueConfig queue;
  WorkerConfig worker;
  // [limits]. The file's enable_svg / enable_pdf add svg / pdf to allowed_formats.
  image::Limits limits;
  image::Recipe recipe = DefaultRecipe();  // [[variant]]

  friend bool operator==(const Config&, const Config&);
};

// A snapshot of environment variables, name -> value. Production code takes one at start-up
// with FromProcess(); tests build their own instead of calling setenv.
class Environment {
 public:
  Environment() = default;
  Environment(std::initializer_list<std::pair<const std::string, std::string>> vars)
      : vars_(vars) {}

  // Copies the process environment (environ).
  static Environment FromProcess();

  // The value of `name`, or nullopt when it is not set. A variable set to "" is set.
  std::optional<std::string_view> Get(std::string_view name) const;
  const std::map<std::string, std::string, std::less<>>& vars() const { return vars_; }

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

// Reads the TOML file at `path` (empty = no file: defaults only), applies the THUMBPIPE_*
// variables of `env` over it, replaces {data_dir} in store.url and queue.url, and validates.
// Returns the Config, or kNotFound / kIOError when the file cannot be read, or
// kInvalidArgument naming the first bad key, variable or combination.
Result<Config> LoadConfig(const std::filesystem::path& path, const Environment& env);

// As LoadConfig, for TOML text already in memory. `source_name` (e.g. the file name) prefixes
// error locations ("thumbpipe.toml:12:1: ..."); it may be empty.
//
// Environment overrides: THUMBPIPE_<SECTION>_<KEY> in upper case (THUMBPIPE_SERVER_LISTEN,
// THUMBPIPE_QUEUE_VISIBILITY_TIMEOUT) and THUMBPIPE_DATA_DIR, parsed by the key's type: integers,
// booleans (true/false/1/0), durations ("60s"), strings as they are, arrays as comma-separated
// lists. [[variant]] and [[credentials]] cannot be set from the environment. A THUMBPIPE_ variable
// that names a known section but no key of it is an error; other THUMBPIPE_ variables (such as
// THUMBPIPE_TEST_SHARED_DIR) are ignored.
Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name,
                           const Environment& env);

// Checks every value's range and format, and the rules that join keys (the output may not lie
// under the trigger prefix; heartbeat shorter than the visibility timeout; unique variant names
// and access keys; ...). Returns OK or kInvalidArgument naming the keys involved.
Status Validate(const Config& config);

// Renders `config` as a TOML file that ParseConfig reads back to an equal Config: every key,
// in documentation order. With kRedact, secret keys and URL passwords are replaced by
// "<redacted>" (which does not validate, so the output cannot be used by accident).
enum class Secrets { kRedact, kShow };
std::string ToToml(const Config& config, Secrets secrets = Secrets::kRedact);

// A listen address: host (without IPv6 brackets) and port.
struct HostPort {
  std::string host;
  int port = 0;
};
// Parses "host:port" or "[ipv6]:port" with a non-empty host and port 1-65535.
Result<HostPort> ParseHostPort(std::string_view text);

// The interval at which workers extend a message's visibility: worker.heartbeat, or a third
// of queue.visibility_timeout when that is 0.
Duration HeartbeatInterval(const Config& config);

// Names as written in the file: "read-write", "full".
std::string_view AccessName(Access access);
std::string_view DurabilityName(Durability durability);
std::string_view WorkerIsolationName(WorkerIsolation isolation);
Result<Access> ParseAccess(std::string_view text);
Result<Durability> ParseDurability(std::string_view text);
Result<WorkerIsolation> ParseWorkerIsolation(std::string_view text);

}  // namespace thumbpipe::config
