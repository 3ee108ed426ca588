// s3_load: a loopback S3 load generator for bench/s3. It keeps `--concurrency` requests in
// flight on as many keep-alive HTTP/1.1 connections (libcurl multi), signs every request
// with SigV4 through libcurl (UNSIGNED-PAYLOAD, so neither side hashes bodies), and prints
// one JSON line: requests/s, MB/s, p50/p99 latency and its own CPU time.
//
// Why libcurl multi and not the AWS SDK: ../shared/reference/s3-server-yardsticks.md
// measured the JS SDK at 7-10x the client CPU of a libcurl client, which on a 2-core
// machine takes CPU from the server under test and distorts the result.
//
//   s3_load --endpoint http://127.0.0.1:9000 --access-key AK --secret-key SK
//           --bucket b --op put --size 4096 --count 5000 --concurrency 16 --prefix k
#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

constexpr long kReceiveBufferBytes = 512 * 1024;

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string endpoint, access_key, secret_key, bucket, op = "put", prefix = "k", suffix, region = "us-east-1";
  uint64_t size = 4096;
  int count = 1000;
  int concurrency = 1;
};

// One request slot: an easy handle reused across requests (its connection stays open).
struct Run;

struct Slot {
  Run* run = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  int index = -1;                 // which key this slot is working on
  uint64_t offset = 0;            // upload position in the shared body
  uint64_t received = 0;          // download bytes
  SteadyClock::time_point started;
};

struct Run {
  const Options* options = nullptr;
  std::vector<char> body;  // shared, incompressible PUT body
  std::vector<double> latencies_ms;
  int errors = 0;
  std::string first_error;
};

size_t ReadBody(char* out, size_t size, size_t n, void* user) {
  auto* slot = static_cast<Slot*>(user);
  const Run* run = slot->run;
  const uint64_t left = run->options->size - slot->offset;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  std::memcpy(out, run->body.data() + slot->offset, take);
  slot->offset += take;
  return take;
}

size_t CountBody(char*, size_t size, size_t n, void* user) {
  static_cast<Slot*>(user)->received += size * n;
  return size * n;
}

std::string KeyUrl(const Options& o, int index) {
  char number[16];
  std::snprintf(number, sizeof number, "%08d", index);
  return o.endpoint + "/" + o.bucket + "/" + o.prefix + number + o.suffix;
}

void Start(Run& run, Slot& slot, int index) {
  const Options& o = *run.options;
  CURL* e = slot.easy;
  curl_easy_reset(e);
  slot.index = index;
  slot.offset = 0;
  slot.received = 0;
  const std::string url = KeyUrl(o, index);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_AWS_SIGV4, ("aws:amz:" + o.region + ":s3").c_str());
  curl_easy_setopt(e, CURLOPT_USERNAME, o.access_key.c_str());
  curl_easy_setopt(e, CURLOPT_PASSWORD, o.secret_key.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, slot.headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, CountBody);
  // curl's default 16 KiB receive buffer makes the client, on the same cores as the server,
  // the bottleneck of a large GET (a recv and a callback per 16 KiB); iperf3, which measures
  // the loopback limit beside it, reads 128 KiB at a time.
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &slot);
  if (o.op == "put") {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(e, CURLOPT_READDATA, &slot);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(o.size));
  } else if (o.op == "del") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else if (o.op == "mb") {
    curl_easy_setopt(e, CURLOPT_URL, (o.endpoint + "/" + o.bucket).c_str());
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(0));
  }
  slot.started = SteadyClock::now();
}

bool Finished(Run& run, Slot& slot, CURLcode result) {
  const Options& o = *run.options;
  long status = 0;
  curl_easy_getinfo(slot.easy, CURLINFO_RESPONSE_CODE, &status);
  const bool want_body = o.op == "get";
  const bool ok = result == CURLE_OK && (status == 200 || status == 204) &&
                  (!want_body || slot.received == o.size);
  if (!ok) {
    ++run.errors;
    if (run.first_error.empty()) {
      run.first_error = "key " + std::to_string(slot.index) + ": curl " + curl_easy_strerror(result) +
                        ", HTTP " + std::to_string(status) + ", " + std::to_string(slot.received) + " bytes";
    }
  }
  run.latencies_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - slot.started).count());
  return ok;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

double CpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](timeval t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"S3 load generator (libcurl multi, SigV4, UNSIGNED-PAYLOAD)"};
  app.add_option("--endpoint", o.endpoint, "http://host:port")->required();
  app.add_option("--access-key", o.access_key)->required();
  app.add_option("--secret-key", o.secret_key)->required();
  app.add_option("--bucket", o.bucket)->required();
  app.add_option("--region", o.region);
  app.add_option("--op", o.op)->check(CLI::IsMember({"put", "get", "del", "mb"}));
  app.add_option("--size", o.size, "object bytes (put, and the expected length of get)");
  app.add_option("--count", o.count, "requests (keys PREFIX00000000..)")->check(CLI::PositiveNumber);
  app.add_option("--concurrency", o.concurrency)->check(CLI::Range(1, 1024));
  app.add_option("--prefix", o.prefix, "keys are PREFIX%08dSUFFIX (URL-safe characters only)");
  app.add_option("--suffix", o.suffix, "e.g. .jpg, so that a notification rule matches");
  CLI11_PARSE(app, argc, argv);
  if (o.op == "mb") o.count = 1, o.concurrency = 1;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  Run run;
  run.options = &o;
  if (o.op == "put") {
    // xorshift bytes: incompressible, made once, never copied per request.
    run.body.resize(o.size);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& c : run.body) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
  }
  run.latencies_ms.reserve(static_cast<size_t>(o.count));

  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(o.concurrency));
  std::vector<Slot> slots(static_cast<size_t>(std::min(o.concurrency, o.count)));
  for (auto& s : slots) {
    s.run = &run;
    s.easy = curl_easy_init();
    s.headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (o.op == "put") s.headers = curl_slist_append(s.headers, "Content-Type: application/octet-stream");
  }

  const double cpu_before = CpuMs();
  const auto began = SteadyClock::now();
  int next = 0, done = 0;
  for (auto& s : slots) {
    Start(run, s, next++);
    curl_multi_add_handle(multi, s.easy);
  }
  while (done < o.count) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      auto it = std::find_if(slots.begin(), slots.end(), [&](const Slot& s) { return s.easy == m->easy_handle; });
      const CURLcode result = m->data.result;
      curl_multi_remove_handle(multi, it->easy);
      Finished(run, *it, result);
      ++done;
      if (next < o.count) {
        Start(run, *it, next++);
        curl_multi_add_handle(multi, it->easy);
      }
    }
    if (done < o.count) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - began).count();
  const double cpu_ms = CpuMs() - cpu_before;

  for (auto& s : slots) {
    curl_easy_cleanup(s.easy);
    curl_slist_free_all(s.headers);
  }
  curl_multi_cleanup(multi);
  curl_global_cleanup();

  const double ok = o.count - run.errors;
  std::printf(
      "{\"op\":\"%s\",\"size\":%llu,\"concurrency\":%d,\"count\":%d,\"errors\":%d,\"seconds\":%.3f,"
      "\"req_s\":%.1f,\"mb_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"client_cpu_ms\":%.0f,\"first_error\":\"%s\"}\n",
      o.op.c_str(), static_cast<unsigned long long>(o.size), o.concurrency, o.count, run.errors, seconds,
      ok / seconds, ok * static_cast<double>(o.size) / 1e6 / seconds, Percentile(run.latencies_ms, 0.50),
      Percentile(run.latencies_ms, 0.99), cpu_ms, run.first_error.c_str());
  return run.errors == 0 ? 0 : 1;
}
