#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/keys.h"

namespace thumbpipe::config {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Parses `text` as "cfg.toml" and returns the error message; fails the test if it parsed.
std::string ErrorOf(std::string_view text, const Environment& env = {}) {
  Result<Config> r = ParseConfig(text, "cfg.toml", env);
  EXPECT_FALSE(r.ok()) << "parsed without error:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

Config ParseOk(std::string_view text, const Environment& env = {}) {
  Result<Config> r = ParseConfig(text, "cfg.toml", env);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Config{};
}

// Every key set to something other than its default.
constexpr std::string_view kFullExample = R"(
data_dir = "/var/lib/thumbpipe"

[log]
level = "debug"

[server]
listen = "[::1]:9100"
max_connections = 512
max_header_bytes = 32768
max_body_bytes = 1073741824
idle_timeout = "2m"
header_timeout = "10s"
body_timeout = "10m"
write_timeout = "30s"
io_threads = 4
worker_threads = 32
region = "eu-west-1"
public_url = "https://img.example.com"
cors_allowed_origins = ["https://app.example.com", "*"]
sqs_max_long_polls = 2
sqs_max_queues = 10

[store]
url = "s3://photos?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true"

[trigger]
bucket = "photos"
prefix = "in/"
suffixes = [".jpg", ".png"]
events = ["s3:ObjectCreated:Put"]

[output]
bucket = "photos-out"
prefix = "thumbs/"

[queue]
url = "amqp://guest:s3cret@127.0.0.1:5672/%2f"
visibility_timeout = "5m"
max_receive_count = 5
retention = "2d"
dlq_retention = "14d"
delay = "5s"
max_message_bytes = 262144
durability = "normal"

[worker]
concurrency = 8
batch = 5
wait = "10s"
heartbeat = "1m"
shutdown_grace = "1m"
metrics_listen = "0.0.0.0:9191"
job_nice = 0
receive_ahead = 0
isolation = "process"
memory_budget = 1073741824

[limits]
max_input_bytes = 1048576
max_input_pixels = 4000000
max_frames = 10
max_interlaced_pixels = 1000000
max_processing_time = "45s"
allowed_formats = ["jpeg", "png"]
enable_svg = true
enable_pdf = true

[[credentials]]
access_key = "AKIAEXAMPLEEXAMPLE01"
secret_key = "a-long-random-secret"
admin = true
buckets = ["photos", "photos-out"]
access = "read-only"

[[credentials]]
access_key = "AKIAEXAMPLEEXAMPLE02"
secret_key = "another-long-secret"

[[variant]]
name = "tiny"
width = 64
height = 48
fit = "contain"
gravity = "north_east"
enlarge = true
format = "png"
quality = 90
effort = 9
progressive = true
background = "#00000080"
animated = false

[[variant]]
name = "anim"
width = 200
format = "gif"
animated = true
)";

TEST(ConfigDefaultsTest, NoFileGivesTheDesignDefaults) {
  Result<Config> r = LoadConfig({}, Environment{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.data_dir, "./thumbpipe-data");
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.server.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.server.max_connections, 256);
  EXPECT_EQ(c.server.max_header_bytes, 16384u);
  EXPECT_EQ(c.server.max_body_bytes, 5ull * 1024 * 1024 * 1024);
  EXPECT_EQ(c.server.idle_timeout, 60s);
  EXPECT_EQ(c.server.header_timeout, 15s);
  EXPECT_EQ(c.server.body_timeout, 300s);
  EXPECT_EQ(c.server.write_timeout, 60s);
  EXPECT_EQ(c.server.io_threads, 2);
  EXPECT_EQ(c.server.worker_threads, 8);
  EXPECT_EQ(c.server.region, "us-east-1");
  EXPECT_EQ(c.server.public_url, "");
  EXPECT_TRUE(c.server.cors_allowed_origins.empty());
  EXPECT_TRUE(c.credentials.empty());
  EXPECT_EQ(c.store.url, "file://./thumbpipe-data/objects");
  EXPECT_EQ(c.trigger.bucket, "images");
  EXPECT_EQ(c.trigger.prefix, "uploads/");
  EXPECT_THAT(c.trigger.suffixes, ElementsAre(".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif",
                                              ".heic", ".tif", ".tiff"));
  EXPECT_THAT(c.trigger.events, ElementsAre("s3:ObjectCreated:*", "s3:ObjectRemoved:*"));
  EXPECT_EQ(c.output.bucket, "images");
  EXPECT_EQ(c.output.prefix, "thumbnails/");
  EXPECT_EQ(c.queue.url, "sqlite://./thumbpipe-data/queue.db");
  EXPECT_EQ(c.queue.visibility_timeout, 60s);
  EXPECT_EQ(c.queue.max_receive_count, 3);
  EXPECT_EQ(c.queue.retention, 96h);
  EXPECT_EQ(c.queue.dlq_retention, 240h);
  EXPECT_EQ(c.queue.delay, 0s);
  EXPECT_EQ(c.queue.max_message_bytes, 1048576u);
  EXPECT_EQ(c.queue.durability, Durability::kFull);
  EXPECT_EQ(c.worker.concurrency, 0);
  EXPECT_EQ(c.worker.batch, 10);
  EXPECT_EQ(c.worker.wait, 20s);
  EXPECT_EQ(c.worker.heartbeat, 0s);
  EXPECT_EQ(c.worker.shutdown_grace, 30s);
  EXPECT_EQ(c.worker.metrics_listen, "127.0.0.1:9001");
  EXPECT_EQ(c.worker.job_nice, 10);
  EXPECT_EQ(c.worker.receive_ahead, 1);
  EXPECT_EQ(c.worker.isolation, WorkerIsolation::kThread);
  EXPECT_EQ(c.limits.max_input_bytes, 64u << 20);
  EXPECT_EQ(c.limits.max_input_pixels, 100'000'000u);
  EXPECT_EQ(c.limits.max_frames, 100);
  EXPECT_EQ(c.limits.max_interlaced_pixels, 30'000'000u);
  EXPECT_EQ(c.limits.max_processing_time, 2min);
  using image::InputFormat;
  EXPECT_THAT(
      c.limits.allowed_formats,
      ElementsAre(InputFormat::kJpeg, InputFormat::kPng, InputFormat::kWebp, InputFormat::kGif,
                  InputFormat::kTiff, InputFormat::kHeif, InputFormat::kAvif));
  ASSERT_EQ(c.recipe.variants.size(), 3u);
  const auto& v = c.recipe.variants;
  EXPECT_EQ(v[0].name, "small");
  EXPECT_EQ(v[0].width, 128);
  EXPECT_EQ(v[0].height, 128);
  EXPECT_EQ(v[0].fit, image::Fit::kCover);
  EXPECT_EQ(v[0].format, image::Format::kWebp);
  EXPECT_EQ(v[1].name, "medium");
  EXPECT_EQ(v[1].width, 512);
  EXPECT_EQ(v[1].fit, image::Fit::kInside);
  EXPECT_EQ(v[1].format, image::Format::kJpeg);
  EXPECT_EQ(v[2].name, "large");
  EXPECT_EQ(v[2].height, 1024);
  EXPECT_EQ(v[2].fit, image::Fit::kInside);
  EXPECT_EQ(v[2].format, image::Format::kWebp);
  EXPECT_EQ(HeartbeatInterval(c), 20s);
}

TEST(ConfigDefaultsTest, DesignExampleFileParses) {
  // The file shown in DESIGN.md, "Configuration".
  Config c = ParseOk(R"(
data_dir = "./thumbpipe-data"
[server]
listen = "127.0.0.1:9000"
[[credentials]]
access_key = "AKIAEXAMPLEEXAMPLE01"
secret_key = "a-long-random-secret"
admin = true
buckets = ["*"]
access = "read-write"
[store]
url = "file://{data_dir}/objects"
[queue]
visibility_timeout = "60s"
[[variant]]
name = "small"
width = 128
height = 128
fit = "cover"
format = "webp"
)");
  ASSERT_EQ(c.credentials.size(), 1u);
  EXPECT_TRUE(c.credentials[0].admin);
  ASSERT_EQ(c.recipe.variants.size(), 1u);  // a [[variant]] replaces the default three
}

TEST(ConfigFileTest, FullExampleSetsEveryKey) {
  const Config c = ParseOk(kFullExample);
  const Config defaults;
  for (const KeySpec<Config>& spec : ConfigKeys()) {
    EXPECT_NE(spec.get(c), spec.get(defaults)) << KeyPath(spec) << " was not read";
  }
  ASSERT_EQ(c.recipe.variants.size(), 2u);
  for (const KeySpec<image::Variant>& spec : VariantKeys()) {
    if (spec.key == "animated") continue;  // set in the second variant
    EXPECT_NE(spec.get(c.recipe.variants[0]), spec.get(image::Variant{})) << spec.key;
  }
  EXPECT_TRUE(c.recipe.variants[1].animated);
  ASSERT_EQ(c.credentials.size(), 2u);
  for (const KeySpec<Credential>& spec : CredentialKeys()) {
    EXPECT_NE(spec.get(c.credentials[0]), spec.get(Credential{})) << spec.key;
  }

  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.server.listen, "[::1]:9100");
  EXPECT_EQ(c.server.idle_timeout, 2min);
  EXPECT_THAT(c.server.cors_allowed_origins, ElementsAre("https://app.example.com", "*"));
  EXPECT_EQ(c.server.sqs_max_long_polls, 2);
  EXPECT_EQ(c.queue.durability, Durability::kNormal);
  EXPECT_EQ(c.queue.retention, 48h);
  EXPECT_EQ(c.worker.heartbeat, 1min);
  EXPECT_EQ(HeartbeatInterval(c), 1min);
  EXPECT_EQ(c.worker.job_nice, 0);
  EXPECT_EQ(c.worker.receive_ahead, 0);
  EXPECT_EQ(c.worker.isolation, WorkerIsolation::kProcess);
  EXPECT_EQ(c.worker.memory_budget, 1073741824u);
  EXPECT_EQ(c.limits.max_processing_time, 45s);
  using image::InputFormat;
  EXPECT_THAT(c.limits.allowed_formats, ElementsAre(InputFormat::kJpeg, InputFormat::kPng,
                                                    InputFormat::kSvg, InputFormat::kPdf));
  const image::Variant& tiny = c.recipe.variants[0];
  EXPECT_EQ(tiny.gravity, image::Gravity::kNorthEast);
  EXPECT_EQ(tiny.background, (image::Colour{0, 0, 0, 0x80}));
  EXPECT_EQ(c.credentials[0].access, Access::kReadOnly);
  EXPECT_THAT(c.credentials[0].buckets, ElementsAre("photos", "photos-out"));
  EXPECT_THAT(c.credentials[1].buckets, ElementsAre("*"));
  EXPECT_EQ(c.credentials[1].access, Access::kReadWrite);
}

TEST(ConfigFileTest, LoadConfigReadsAFileAndNamesItInErrors) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "config_test";
  std::filesystem::create_directories(dir);
  const std::filesystem::path good = dir / "good.toml";
  std::ofstream(good) << "[worker]\nbatch = 3\n";
  Result<Config> r = LoadConfig(good, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->worker.batch, 3);

  const std::filesystem::path bad = dir / "bad.toml";
  std::ofstream(bad) << "\n[worker]\nbatch = 30\n";
  r = LoadConfig(bad, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(bad.string() + ":3:"));

  r = LoadConfig(dir / "missing.toml", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(ConfigErrorTest, UnknownKeyNamesItsPathAndTheAllowedKeys) {
  EXPECT_THAT(ErrorOf("[server]\nlisen = \"127.0.0.1:1\"\n"),
              AllOf(HasSubstr("cfg.toml:2:1: unknown key \"server.lisen\""),
                    HasSubstr("(allowed in [server]: listen, max_connections, max_header_bytes")));
  EXPECT_THAT(ErrorOf("[sever]\nlisten = \"x\"\n"),
              AllOf(HasSubstr("unknown section [sever]"), HasSubstr("[server]")));
  EXPECT_THAT(ErrorOf("datadir = \"x\"\n"),
              AllOf(HasSubstr("cfg.toml:1:1: unknown key \"datadir\""), HasSubstr("data_dir")));
  EXPECT_THAT(ErrorOf("[[variant]]\nname = \"a\"\nwidht = 10\n"),
              AllOf(HasSubstr("cfg.toml:3:1: unknown key \"variant[0].widht\""),
                    HasSubstr("allowed in [[variant]]: name, width, height")));
  EXPECT_THAT(ErrorOf("[[credentials]]\nkey = \"x\"\n"),
              HasSubstr("unknown key \"credentials[0].key\""));
}

TEST(ConfigErrorTest, WrongTypeNamesKeyExpectedAndFound) {
  EXPECT_THAT(ErrorOf("[server]\nmax_connections = \"many\"\n"),
              HasSubstr("cfg.toml:2:19: server.max_connections: expected an integer, found a "
                        "string \"many\""));
  EXPECT_THAT(ErrorOf("[queue]\nvisibility_timeout = 60\n"),
              HasSubstr("queue.visibility_timeout: expected a duration string such as \"60s\", "
                        "found an integer 60"));
  EXPECT_THAT(ErrorOf("[trigger]\nsuffixes = \".jpg\"\n"),
              HasSubstr("trigger.suffixes: expected an array of strings, found a string"));
  EXPECT_THAT(ErrorOf("[trigger]\nsuffixes = [\".jpg\", 3]\n"),
              HasSubstr("found an integer 3 at index 1"));
  EXPECT_THAT(ErrorOf("server = 5\n"), HasSubstr("server: expected a table ([server])"));
  EXPECT_THAT(ErrorOf("[variant]\nname = \"a\"\n"),
              HasSubstr("variant: expected an array of tables ([[variant]]), found a table"));
  EXPECT_THAT(ErrorOf("[[variant]]\nname = \"a\"\nenlarge = \"yes\"\n"),
              HasSubstr("variant[0].enlarge: expected a boolean"));
}

TEST(ConfigErrorTest, OutOfRangeNamesKeyAndRange) {
  EXPECT_THAT(ErrorOf("[queue]\nvisibility_timeout = \"13h\"\n"),
              HasSubstr("cfg.toml:2:22: queue.visibility_timeout = \"13h\": must be between 0s "
                        "and 12h"));
  EXPECT_THAT(ErrorOf("[worker]\nbatch = 11\n"),
              HasSubstr("worker.batch = 11: must be between 1 and 10"));
  EXPECT_THAT(ErrorOf("[worker]\njob_nice = -1\n"),
              HasSubstr("worker.job_nice = -1: must be between 0 and 19"));
  EXPECT_THAT(ErrorOf("[worker]\nreceive_ahead = 11\n"),
              HasSubstr("worker.receive_ahead = 11: must be between 0 and 10"));
  EXPECT_THAT(ErrorOf("[worker]\nisolation = \"fork\"\n"),
              HasSubstr("unknown isolation \"fork\" (allowed: thread, process)"));
  EXPECT_THAT(ErrorOf("[worker]\nmemory_budget = 1000000\n"),
              HasSubstr("worker.memory_budget = 1000000: must be 0 (automatic) or at least 67108864"));
  EXPECT_THAT(ErrorOf("[worker]\nmemory_budget = -1\n"), HasSubstr("worker.memory_budget = -1"));
  EXPECT_THAT(ErrorOf("[queue]\nretention = \"30s\"\n"),
              HasSubstr("queue.retention = \"30s\": must be between 1m and 14d"));
  EXPECT_THAT(ErrorOf("[limits]\nmax_input_pixels = 0\n"),
              HasSubstr("limits.max_input_pixels = 0: must be at least 1"));
  EXPECT_THAT(ErrorOf("[queue]\ndelay = \"5 minutes\"\n"),
              HasSubstr("invalid duration \"5 minutes\""));
  EXPECT_THAT(ErrorOf("[[variant]]\nname = \"big\"\nwidth = 20000\n"),
              HasSubstr("cfg.toml:1:1: variant[0]: variant \"big\": width must be 0-16383"));
}

TEST(ConfigErrorTest, BadEnumValueListsAllowedValues) {
  EXPECT_THAT(ErrorOf("[log]\nlevel = \"loud\"\n"),
              AllOf(HasSubstr("log.level = \"loud\""),
                    HasSubstr("allowed: trace, debug, info, warn, error, off")));
  EXPECT_THAT(ErrorOf("[queue]\ndurability = \"fast\"\n"),
              HasSubstr("queue.durability = \"fast\": unknown durability \"fast\" (allowed: full, "
                        "normal)"));
  EXPECT_THAT(ErrorOf("[[variant]]\nname = \"a\"\nwidth = 1\nfit = \"squash\"\n"),
              AllOf(HasSubstr("cfg.toml:4:7: variant[0].fit = \"squash\""),
                    HasSubstr("allowed: cover, contain, inside, outside, fill")));
  EXPECT_THAT(ErrorOf("[limits]\nallowed_formats = [\"jpeg\", \"bmp\"]\n"),
              HasSubstr("unknown input format \"bmp\""));
  EXPECT_THAT(ErrorOf("[[credentials]]\naccess_key = \"AKIAEXAMPLEEXAMPLE01\"\n"
                      "secret_key = \"a-long-random-secret\"\naccess = \"admin\"\n"),
              HasSubstr("allowed: read-write, read-only, write-only"));
}

TEST(ConfigErrorTest, BadListenAddress) {
  EXPECT_THAT(ErrorOf("[server]\nlisten = \"localhost\"\n"),
              AllOf(HasSubstr("server.listen = \"localhost\""), HasSubstr("missing :port")));
  EXPECT_THAT(ErrorOf("[server]\nlisten = \"127.0.0.1:70000\"\n"),
              HasSubstr("port must be 1-65535"));
  EXPECT_THAT(ErrorOf("[worker]\nmetrics_listen = \"::1:9001\"\n"),
              HasSubstr("an IPv6 host needs [brackets]"));
  EXPECT_THAT(ErrorOf("[server]\nlisten = \":9000\"\n"), HasSubstr("empty host"));

  Result<HostPort> v6 = ParseHostPort("[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_FALSE(ParseHostPort("[::1]9000").ok());
  EXPECT_FALSE(ParseHostPort("host:0").ok());
  EXPECT_FALSE(ParseHostPort("host:9x").ok());
}

TEST(ConfigErrorTest, BadUrlScheme) {
  EXPECT_THAT(ErrorOf("[store]\nurl = \"ftp://host/x\"\n"),
              AllOf(HasSubstr("store.url = \"ftp://host/x\""),
                    HasSubstr("allowed schemes: file://, s3://")));
  EXPECT_THAT(
      ErrorOf("[queue]\nurl = \"redis://localhost\"\n"),
      HasSubstr("allowed schemes: sqlite://, sqs://, sqs+https://, sqs+http://, amqps://, amqp://"));
  EXPECT_THAT(ErrorOf("[store]\nurl = \"file://\"\n"), HasSubstr("has nothing after file://"));
  for (const char* ok : {"sqs://queue", "sqs://sqs.eu-west-1.amazonaws.com/1/q", "sqs+http://127.0.0.1:9000/000000000000/q", "amqps://h/v"}) {
    ParseOk("[queue]\nurl = \"" + std::string(ok) + "\"\n");
  }
}

TEST(ConfigErrorTest, OutputMayNotLieUnderTheTriggerPrefix) {
  EXPECT_THAT(ErrorOf("[output]\nprefix = \"uploads/thumbs/\"\n"),
              HasSubstr("output.prefix \"uploads/thumbs/\" lies under trigger.prefix \"uploads/\": "
                        "the pipeline would trigger on its own output and loop forever"));
  EXPECT_THAT(ErrorOf("[output]\nprefix = \"uploads/\"\n"), HasSubstr("loop forever"));
  EXPECT_THAT(
      ErrorOf("[trigger]\nprefix = \"\"\n"),
      AllOf(HasSubstr("trigger.prefix \"\" matches every key"), HasSubstr("output.bucket")));
  EXPECT_THAT(ErrorOf("[trigger]\nprefix = \"thumbnails/sm\"\n"),
              HasSubstr("overlaps the output folder \"thumbnails/small/\" of variant \"small\""));
  // A different output bucket cannot loop.
  ParseOk("[trigger]\nprefix = \"\"\n[output]\nbucket = \"thumbs\"\nprefix = \"\"\n");
  ParseOk("[output]\nbucket = \"thumbs\"\nprefix = \"uploads/\"\n");
}

TEST(ConfigErrorTest, DuplicateVariantNames) {
  EXPECT_THAT(ErrorOf("[[variant]]\nname = \"a\"\nwidth = 10\n\n"
                      "[[variant]]\nname = \"a\"\nwidth = 20\n"),
              HasSubstr("cfg.toml:5:1: variant[1]: variant name \"a\" is used twice"));
  EXPECT_THAT(ErrorOf("[[variant]]\nwidth = 10\n"), HasSubstr("variant name \"\" must be"));
}

TEST(ConfigErrorTest, CredentialsAreChecked) {
  const std::string key =
      "[[credentials]]\naccess_key = \"AKIAEXAMPLEEXAMPLE01\"\n"
      "secret_key = \"a-long-random-secret\"\n";
  EXPECT_THAT(ErrorOf(key + "\n" + key),
              AllOf(HasSubstr("cfg.toml:5:1: credentials[1].access_key \"AKIAEXAMPLEEXAMPLE01\" is "
                              "already used"),
                    Not(HasSubstr("a-long-random-secret"))));
  EXPECT_THAT(ErrorOf("[[credentials]]\naccess_key = \"akia-lower\"\nsecret_key = \"x\"\n"),
              HasSubstr("credentials[0].access_key = \"akia-lower\": must be 16-128 characters"));
  EXPECT_THAT(ErrorOf("[[credentials]]\naccess_key = \"AKIAEXAMPLEEXAMPLE01\"\n"
                      "secret_key = \"hunter2\"\n"),
              AllOf(HasSubstr("credentials[0].secret_key: must be at least 16 characters"),
                    Not(HasSubstr("hunter2"))));
  EXPECT_THAT(ErrorOf(key + "buckets = []\n"), HasSubstr("at least one bucket"));
  // read-only admins are allowed: admin concerns bucket configuration, access the objects.
  ParseOk(key + "admin = true\naccess = \"read-only\"\n");
}

TEST(ConfigErrorTest, CrossFieldRules) {
  EXPECT_THAT(
      ErrorOf("[worker]\nheartbeat = \"60s\"\n"),
      HasSubstr("worker.heartbeat (1m) must be shorter than queue.visibility_timeout (1m)"));
  EXPECT_THAT(ErrorOf("[queue]\nretention = \"14d\"\ndlq_retention = \"1d\"\n"),
              HasSubstr("queue.dlq_retention (1d) must not be shorter than queue.retention (14d)"));
  EXPECT_THAT(ErrorOf("[trigger]\nsuffixes = [\"jpg\"]\n"),
              HasSubstr("trigger.suffixes = [\"jpg\"]: suffix \"jpg\" must start with \".\""));
  EXPECT_THAT(ErrorOf("[trigger]\nevents = [\"s3:ObjectCreated\"]\n"),
              HasSubstr("unknown event \"s3:ObjectCreated\""));
  EXPECT_THAT(ErrorOf("[output]\nbucket = \"Images\"\n"), HasSubstr("must be a bucket name"));
  EXPECT_THAT(ErrorOf("[worker]\nmetrics_listen = \"127.0.0.1:9000\"\n"),
              HasSubstr("worker.metrics_listen and server.listen are both"));
  EXPECT_THAT(ErrorOf("[limits]\nallowed_formats = []\n"),
              HasSubstr("limits.allowed_formats = []: must list at least one value"));
}

TEST(ConfigErrorTest, InvalidTomlSyntaxHasTheLine) {
  EXPECT_THAT(ErrorOf("[server]\nlisten = \"127.0.0.1:9000\"\nmax_connections = = 3\n"),
              AllOf(HasSubstr("cfg.toml:3:"), HasSubstr("invalid TOML")));
  Result<Config> r = ParseConfig("a = [\n", "", {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 1, column"));
}

TEST(ConfigValidateTest, ChecksAProgrammaticConfig) {
  Config c;
  EXPECT_TRUE(Validate(c).ok()) << Validate(c).ToString();
  c.worker.batch = 0;
  EXPECT_THAT(Validate(c).message(), HasSubstr("worker.batch = 0: must be between 1 and 10"));
  c = Config{};
  c.recipe.variants.clear();
  EXPECT_THAT(Validate(c).message(), HasSubstr("no variants"));
  c = Config{};
  c.queue.url = "amqp://user:pw-in-url@host/";
  c.queue.max_message_bytes = 10;
  EXPECT_THAT(Validate(c).message(), HasSubstr("queue.max_message_bytes = 10"));
}

TEST(ConfigEnvTest, OverridesOfEveryTypeWinOverTheFile) {
  const Environment env = {
      {"THUMBPIPE_SERVER_LISTEN", "0.0.0.0:8000"},       // string
      {"THUMBPIPE_WORKER_CONCURRENCY", "4"},             // int
      {"THUMBPIPE_LIMITS_MAX_INPUT_PIXELS", "5000000"},  // uint64
      {"THUMBPIPE_QUEUE_VISIBILITY_TIMEOUT", "2m"},      // duration
      {"THUMBPIPE_LIMITS_ENABLE_PDF", "1"},              // bool
      {"THUMBPIPE_SERVER_CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example"},  // list
      {"THUMBPIPE_LOG_LEVEL", "warn"},                                                    // enum
      {"THUMBPIPE_QUEUE_DURABILITY", "normal"},
  };
  const Config c = ParseOk(R"(
[server]
listen = "127.0.0.1:7000"
cors_allowed_origins = ["*"]
[worker]
concurrency = 2
[queue]
visibility_timeout = "30s"
[limits]
max_input_pixels = 1000
[log]
level = "error"
)",
                           env);
  EXPECT_EQ(c.server.listen, "0.0.0.0:8000");
  EXPECT_EQ(c.worker.concurrency, 4);
  EXPECT_EQ(c.limits.max_input_pixels, 5'000'000u);
  EXPECT_EQ(c.queue.visibility_timeout, 2min);
  EXPECT_NE(std::find(c.limits.allowed_formats.begin(), c.limits.allowed_formats.end(),
                      image::InputFormat::kPdf),
            c.limits.allowed_formats.end());
  EXPECT_THAT(c.server.cors_allowed_origins, ElementsAre("https://a.example", "https://b.example"));
  EXPECT_EQ(c.log.level, LogLevel::kWarn);
  EXPECT_EQ(c.queue.durability, Durability::kNormal);
}

TEST(ConfigEnvTest, EnvFalseTurnsOffAFormatTheFileEnabled) {
  const Config c =
      ParseOk("[limits]\nenable_svg = true\n", {{"THUMBPIPE_LIMITS_ENABLE_SVG", "false"}});
  EXPECT_EQ(std::find(c.limits.allowed_formats.begin(), c.limits.allowed_formats.end(),
                      image::InputFormat::kSvg),
            c.limits.allowed_formats.end());
}

TEST(ConfigEnvTest, OverrideErrorsNameTheVariable) {
  EXPECT_THAT(ErrorOf("", {{"THUMBPIPE_WORKER_CONCURRENCY", "many"}}),
              AllOf(HasSubstr("THUMBPIPE_WORKER_CONCURRENCY=\"many\" (worker.concurrency)"),
                    HasSubstr("expected an integer")));
  EXPECT_THAT(ErrorOf("", {{"THUMBPIPE_QUEUE_VISIBILITY_TIMEOUT", "13h"}}),
              AllOf(HasSubstr("THUMBPIPE_QUEUE_VISIBILITY_TIMEOUT"),
                    HasSubstr("must be between 0s and 12h")));
  EXPECT_THAT(ErrorOf("", {{"THUMBPIPE_LIMITS_ENABLE_SVG", "yes"}}),
              HasSubstr("expected a boolean, found \"yes\""));
}

TEST(ConfigEnvTest, UnknownKeyOfAKnownSectionIsAnErrorOtherVariablesAreIgnored) {
  EXPECT_THAT(ErrorOf("", {{"THUMBPIPE_SERVER_FOO", "1"}}),
              AllOf(HasSubstr("THUMBPIPE_SERVER_FOO"), HasSubstr("allowed in [server]: listen")));
  EXPECT_THAT(ErrorOf("", {{"THUMBPIPE_VARIANT_SMALL_WIDTH", "1"}}),
              HasSubstr("[[variant]] cannot be set from the environment"));
  ParseOk("", {{"THUMBPIPE_TEST_SHARED_DIR", "/work/shared"},
               {"THUMBPIPE_CONFIG", "/etc/thumbpipe.toml"},
               {"SERVER_LISTEN", "nonsense"}});
}

TEST(ConfigEnvTest, DataDirPlaceholderUsesTheOverriddenDataDir) {
  const Config c = ParseOk("data_dir = \"/from/file\"\n", {{"THUMBPIPE_DATA_DIR", "/from/env"}});
  EXPECT_EQ(c.data_dir, "/from/env");
  EXPECT_EQ(c.store.url, "file:///from/env/objects");
  EXPECT_EQ(c.queue.url, "sqlite:///from/env/queue.db");
  const Config explicit_url = ParseOk("[store]\nurl = \"file:///srv/blobs\"\n");
  EXPECT_EQ(explicit_url.store.url, "file:///srv/blobs");
}

TEST(ConfigEnvTest, FromProcessReadsTheEnvironment) {
  const Environment env = Environment::FromProcess();
  EXPECT_TRUE(env.Get("PATH").has_value());
  EXPECT_FALSE(env.Get("THUMBPIPE_SURELY_NOT_SET_42").has_value());
}

TEST(ConfigTomlTest, RoundTripsEveryKey) {
  const Config original = ParseOk(kFullExample);
  const std::string text = ToToml(original, Secrets::kShow);
  const Config again = ParseOk(text);
  EXPECT_TRUE(again == original) << text;
  EXPECT_EQ(ToToml(again, Secrets::kShow), text);

  const Config defaults = ParseOk("");
  EXPECT_TRUE(ParseOk(ToToml(defaults)) == defaults);
}

TEST(ConfigTomlTest, EqualityNoticesEachKindOfField) {
  const Config base = ParseOk(kFullExample);
  Config c = base;
  c.recipe.variants[1].quality = 42;
  EXPECT_FALSE(c == base);
  c = base;
  c.credentials[1].admin = true;
  EXPECT_FALSE(c == base);
  c = base;
  c.queue.delay = 6s;
  EXPECT_FALSE(c == base);
}

TEST(ConfigTomlTest, RedactsSecretsByDefault) {
  const Config c = ParseOk(kFullExample);
  const std::string text = ToToml(c);
  EXPECT_THAT(text, Not(HasSubstr("a-long-random-secret")));
  EXPECT_THAT(text, Not(HasSubstr("s3cret")));
  EXPECT_THAT(text, HasSubstr("amqp://guest:<redacted>@127.0.0.1:5672/%2f"));
  // A redacted dump cannot be used as a config by mistake.
  EXPECT_THAT(ErrorOf(text), HasSubstr("secret_key: must be at least 16 characters"));
}

TEST(ConfigTomlTest, EscapesStrings) {
  Config c;
  c.trigger.prefix = "up\"loads\\\n\x01/";
  const Config again = ParseOk(ToToml(c));
  EXPECT_EQ(again.trigger.prefix, c.trigger.prefix);
}

// docs/configuration.md has one table row per key: "| `server.listen` | `"127.0.0.1:9000"` |
// ... | `THUMBPIPE_SERVER_LISTEN` |". This keeps the page and the table from drifting apart.
TEST(ConfigDocsTest, EveryKeyIsDocumentedWithItsDefaultAndVariable) {
  std::ifstream in(std::string(THUMBPIPE_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string docs = buffer.str();
  auto row = [&](const std::string& path) -> std::string {
    const size_t at = docs.find("| `" + path + "` |");
    if (at == std::string::npos) return "";
    return docs.substr(at, docs.find('\n', at) - at);
  };
  const Config defaults;
  for (const KeySpec<Config>& spec : ConfigKeys()) {
    const std::string line = row(KeyPath(spec));
    ASSERT_FALSE(line.empty()) << KeyPath(spec) << " has no row";
    EXPECT_THAT(line, HasSubstr("`" + EnvName(spec) + "`"));
    EXPECT_THAT(line, HasSubstr("`" + RenderValue(spec.get(defaults)) + "`")) << KeyPath(spec);
  }
  const image::Variant variant;
  for (const KeySpec<image::Variant>& spec : VariantKeys()) {
    const std::string line = row("variant." + std::string(spec.key));
    ASSERT_FALSE(line.empty()) << spec.key << " has no row";
    if (spec.key != "name") {
      EXPECT_THAT(line, HasSubstr("`" + RenderValue(spec.get(variant)) + "`")) << spec.key;
    }
  }
  const Credential credential;
  for (const KeySpec<Credential>& spec : CredentialKeys()) {
    const std::string line = row("credentials." + std::string(spec.key));
    ASSERT_FALSE(line.empty()) << spec.key << " has no row";
  }
}

}  // namespace
}  // namespace thumbpipe::config
