#include "aws/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/logging.h"
#include "sigv4/crypto.h"

namespace thumbpipe::aws {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view TrimLine(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

// An easy handle and the multi handle that drives it. The multi owns the connection cache,
// so the two are pooled together and a reused slot reuses its connection.
struct AwsHttpClient::Slot {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  ~Slot() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

struct AwsHttpClient::Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<Slot>> idle;  // LIFO: the warmest connection first
};

// One attempt of one request on one slot, pumped by whoever reads it (the multi interface
// lets the reader pull the body instead of curl pushing all of it).
class AwsHttpClient::Transfer final : public ResponseStream {
 public:
  Transfer(AwsHttpClient* client, std::unique_ptr<Slot> slot) : client_(client), slot_(std::move(slot)) {}
  ~Transfer() override {
    if (added_) {
      curl_multi_remove_handle(slot_->multi, slot_->easy);  // an unfinished transfer's connection is closed
      long connects = 0;
      if (curl_easy_getinfo(slot_->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
        client_->connections_opened_ += static_cast<uint64_t>(connects);
      }
    }
    if (headers_list_ != nullptr) curl_slist_free_all(headers_list_);
    client_->Release(std::move(slot_));
  }

  Status Start(const HttpRequest& request, const std::string& payload_hash) {
    const ClientOptions& o = client_->options_;
    const std::string host = request.host.empty() ? client_->host_ : request.host;
    sigv4::Request to_sign;
    to_sign.method = request.method;
    to_sign.path = request.path;
    to_sign.query = request.query;
    to_sign.headers = request.headers;
    to_sign.headers.push_back({"Host", host});
    to_sign.payload_hash = payload_hash;
    sigv4::SigningParams params;
    params.region = o.region;
    params.service = o.service;
    params.time = o.clock->Now();
    auto signed_request = sigv4::SignRequest(&to_sign, o.credentials, params);
    if (!signed_request.ok()) return signed_request.status();
    for (const sigv4::Header& h : to_sign.headers) {
      const std::string line = h.value.empty() ? h.name + ";" : h.name + ": " + h.value;
      headers_list_ = curl_slist_append(headers_list_, line.c_str());
    }
    // No "Expect: 100-continue": not every S3 server answers it, and curl would then wait a
    // second before each large body.
    headers_list_ = curl_slist_append(headers_list_, "Expect:");

    CURL* e = slot_->easy;
    curl_easy_reset(e);  // keeps the connection cache
    url_ = client_->scheme_ + "://" + host + request.path + (request.query.empty() ? "" : "?" + request.query);
    curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);  // a key "a/../b" is a key, not a path to tidy
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_list_);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "thumbpipe/0.1");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<Duration::rep>(1, o.stall_timeout.count() / 1000)));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
    const bool has_body = request.body_source != nullptr || !request.body.empty() || request.method == "PUT" ||
                          request.method == "POST";
    if (request.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
      source_ = request.body_source;
      memory_body_ = request.body;
      const uint64_t size = source_ != nullptr ? source_->size() : memory_body_.size();
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
      curl_easy_setopt(e, CURLOPT_READFUNCTION, &Transfer::OnRead);
      curl_easy_setopt(e, CURLOPT_READDATA, this);
      if (request.method != "PUT") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    } else if (request.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (curl_multi_add_handle(slot_->multi, e) != CURLM_OK) return Status::Internal("curl_multi_add_handle failed");
    added_ = true;
    return Status::Ok();
  }

  // Drives the transfer until `done()` or the end of the transfer.
  template <typename Pred>
  void Pump(Pred done) {
    while (!done() && !finished_) {
      int running = 0;
      if (CURLMcode mc = curl_multi_perform(slot_->multi, &running); mc != CURLM_OK) {
        Finish(CURLE_FAILED_INIT, curl_multi_strerror(mc));
        return;
      }
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(slot_->multi, &left)) {
        if (m->msg == CURLMSG_DONE) Finish(m->data.result, nullptr);
      }
      if (done() || finished_) return;
      curl_multi_poll(slot_->multi, nullptr, 0, 1000, nullptr);
    }
  }
  void WaitForHeaders() {
    Pump([this] { return headers_done_; });
  }

  // The whole body (up to `limit` bytes), for error documents and small replies.
  // Afterwards body() holds it.
  Status ReadAll(uint64_t limit) {
    collect_limit_ = limit;
    collect_all_ = true;
    Resume();
    Pump([] { return false; });
    if (too_large_) return Status::TooLarge("response body over " + std::to_string(limit) + " bytes");
    return Status::Ok();
  }
  const std::string& body() const { return pending_; }
  std::string TakeBody() { return std::move(pending_); }

  int status() const override { return status_; }
  const sigv4::Headers& headers() const override { return headers_; }

  Result<size_t> Read(std::span<char> buffer) override {
    while (pending_off_ >= pending_.size()) {
      if (finished_) {
        if (result_ != CURLE_OK) return Status::Unavailable("NetworkError the response body broke off: " + NetworkError());
        return size_t{0};
      }
      if (Resume()) continue;
      Pump([this] { return pending_off_ < pending_.size(); });
    }
    const size_t n = std::min(buffer.size(), pending_.size() - pending_off_);
    std::memcpy(buffer.data(), pending_.data() + pending_off_, n);
    pending_off_ += n;
    if (pending_off_ == pending_.size()) {
      pending_.clear();
      pending_off_ = 0;
    }
    return n;
  }

  bool headers_done() const { return headers_done_; }
  bool finished() const { return finished_; }
  bool failed() const { return finished_ && result_ != CURLE_OK; }
  const Status& source_error() const { return source_error_; }
  std::string NetworkError() const {
    std::string text = curl_easy_strerror(result_);
    if (error_buffer_[0] != '\0') text += ": " + std::string(error_buffer_);
    return text;
  }

 private:
  bool Resume() {
    if (!paused_) return false;
    paused_ = false;
    curl_easy_pause(slot_->easy, CURLPAUSE_CONT);  // may deliver buffered data right here
    return true;
  }
  void Finish(CURLcode result, const char* detail) {
    finished_ = true;
    result_ = result;
    if (detail != nullptr && error_buffer_[0] == '\0') std::snprintf(error_buffer_, sizeof error_buffer_, "%s", detail);
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    const std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {  // a status line: a new (maybe final) response begins
      self->headers_.clear();
      self->headers_done_ = false;
      const size_t sp = line.find(' ');
      self->status_ = sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    } else if (TrimLine(line).empty()) {
      if (self->status_ >= 200) self->headers_done_ = true;  // 1xx: the real response follows
    } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
      self->headers_.push_back({std::string(TrimLine(line.substr(0, colon))), std::string(TrimLine(line.substr(colon + 1)))});
    }
    return size * n;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    const size_t bytes = size * n;
    if (self->collect_all_) {
      if (self->pending_.size() + bytes > self->collect_limit_) {
        self->too_large_ = true;
        return 0;  // aborts the transfer
      }
    } else if (self->pending_.size() - self->pending_off_ >= self->client_->options_.stream_buffer_bytes) {
      self->paused_ = true;  // the reader is behind: curl keeps this chunk until resumed
      return CURL_WRITEFUNC_PAUSE;
    }
    if (self->pending_off_ > 0 && self->pending_off_ == self->pending_.size()) {
      self->pending_.clear();
      self->pending_off_ = 0;
    }
    self->pending_.append(data, bytes);
    return bytes;
  }

  static size_t OnRead(char* buffer, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    const size_t want = size * n;
    if (self->source_ != nullptr) {
      auto got = self->source_->Read(std::span<char>(buffer, want));
      if (!got.ok()) {
        self->source_error_ = got.status();
        return CURL_READFUNC_ABORT;
      }
      return *got;
    }
    const size_t k = std::min(want, self->memory_body_.size() - self->memory_off_);
    std::memcpy(buffer, self->memory_body_.data() + self->memory_off_, k);
    self->memory_off_ += k;
    return k;
  }

  AwsHttpClient* client_;
  std::unique_ptr<Slot> slot_;
  curl_slist* headers_list_ = nullptr;
  std::string url_;
  bool added_ = false;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  // response
  int status_ = 0;
  sigv4::Headers headers_;
  bool headers_done_ = false, finished_ = false, paused_ = false;
  CURLcode result_ = CURLE_OK;
  std::string pending_;
  size_t pending_off_ = 0;
  bool collect_all_ = false, too_large_ = false;
  uint64_t collect_limit_ = 0;
  // request body
  BodySource* source_ = nullptr;
  std::string_view memory_body_;
  size_t memory_off_ = 0;
  Status source_error_;
};

Result<std::unique_ptr<AwsHttpClient>> AwsHttpClient::Create(ClientOptions options) {
  std::string_view e = options.endpoint;
  std::string scheme;
  if (e.starts_with("http://")) {
    scheme = "http";
  } else if (e.starts_with("https://")) {
    scheme = "https";
  } else {
    return Status::InvalidArgument("endpoint \"" + options.endpoint + "\" must start with http:// or https://");
  }
  e.remove_prefix(scheme.size() + 3);
  while (e.ends_with('/')) e.remove_suffix(1);
  if (e.empty() || e.find_first_of("/?#@ ") != std::string_view::npos) {
    return Status::InvalidArgument("endpoint \"" + options.endpoint + "\" must be scheme://host[:port] without a path");
  }
  if (options.clock == nullptr) return Status::InvalidArgument("AwsHttpClient needs a clock");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("retry.max_attempts must be at least 1");
  if (!options.random) options.random = DefaultRandom();
  if (!options.parse_error) options.parse_error = ParseXmlError;
  GlobalInitOnce();
  return std::unique_ptr<AwsHttpClient>(new AwsHttpClient(std::move(options), scheme, std::string(e)));
}

AwsHttpClient::AwsHttpClient(ClientOptions options, std::string scheme, std::string host)
    : options_(std::move(options)), scheme_(std::move(scheme)), host_(std::move(host)), pool_(new Pool) {}

AwsHttpClient::~AwsHttpClient() = default;

std::unique_ptr<AwsHttpClient::Slot> AwsHttpClient::Acquire() {
  {
    std::scoped_lock lock(pool_->mu);
    if (!pool_->idle.empty()) {
      auto slot = std::move(pool_->idle.back());
      pool_->idle.pop_back();
      return slot;
    }
  }
  return std::make_unique<Slot>();
}

void AwsHttpClient::Release(std::unique_ptr<Slot> slot) {
  std::scoped_lock lock(pool_->mu);
  if (pool_->idle.size() < options_.max_idle_handles) pool_->idle.push_back(std::move(slot));
}

Result<std::unique_ptr<AwsHttpClient::Transfer>> AwsHttpClient::Run(const HttpRequest& request, bool collect_body) {
  std::string payload_hash;
  if (request.payload_hash) {
    payload_hash = *request.payload_hash;
  } else if (request.body_source != nullptr) {
    payload_hash = std::string(sigv4::kUnsignedPayload);
  } else {
    payload_hash = sigv4::Sha256Hex(request.body);
  }
  const std::string context = request.context.empty() ? request.method + " " + request.path : request.context;
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) {
      options_.clock->SleepFor(BackoffDelay(options_.retry, attempt - 1, options_.random()));
      if (request.body_source != nullptr) THUMBPIPE_RETURN_IF_ERROR(request.body_source->Rewind());
    }
    ++attempts_;
    auto t = std::make_unique<Transfer>(this, Acquire());
    THUMBPIPE_RETURN_IF_ERROR(t->Start(request, payload_hash));
    t->WaitForHeaders();
    AwsError error;
    if (!t->source_error().ok()) return t->source_error();  // our own body failed: not the network's fault
    if (!t->headers_done()) {
      error.code = "NetworkError";
      error.message = t->NetworkError();
    } else if (t->status() < 200 || t->status() >= 300) {
      (void)t->ReadAll(64 * 1024);  // an oversized error body is cut, not fatal
      error = options_.parse_error(t->status(), t->headers(), t->body());
    } else if (collect_body) {
      if (Status s = t->ReadAll(options_.max_response_bytes); !s.ok()) return s.WithContext(context);
      if (t->failed()) {
        error.code = "NetworkError";
        error.message = "the response body broke off: " + t->NetworkError();
      } else if (request.error_in_ok_body && IsXmlErrorDocument(t->body())) {
        error = options_.parse_error(t->status(), t->headers(), t->body());
      } else {
        return t;
      }
    } else {
      return t;
    }
    if (attempt < options_.retry.max_attempts && IsRetryable(error.http_status, error.code)) {
      LogDebug("aws request retried", {{"request", context}, {"attempt", attempt}, {"code", error.code}});
      continue;
    }
    std::string where = context;
    if (attempt > 1) where += ", after " + std::to_string(attempt) + " attempts";
    return ErrorToStatus(error, where);
  }
}

Result<HttpResponse> AwsHttpClient::Send(const HttpRequest& request) {
  THUMBPIPE_ASSIGN_OR_RETURN(auto t, Run(request, /*collect_body=*/true));
  HttpResponse response;
  response.status = t->status();
  response.headers = t->headers();
  response.body = t->TakeBody();
  return response;
}

Result<std::unique_ptr<ResponseStream>> AwsHttpClient::Open(const HttpRequest& request) {
  THUMBPIPE_ASSIGN_OR_RETURN(auto t, Run(request, /*collect_body=*/false));
  return std::unique_ptr<ResponseStream>(std::move(t));
}

}  // namespace thumbpipe::aws
