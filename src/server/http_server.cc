// The one file that knows Boost.Beast and Asio. Each connection is a C++20 coroutine on its
// own strand; blocking exchange steps hop to the worker pool (OnPool) and the coroutine
// resumes on its strand when they are done.
#include "server/http_server.h"

#include <utility>  // before asio's awaitable.hpp: g++ 12 needs it (STYLE 3.6)

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/logging.h"

namespace thumbpipe::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

std::optional<std::string_view> HttpRequestHead::Header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (HeaderNameEquals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
// After a response that leaves part of a request body unread, the connection keeps reading
// (and dropping) for this long before closing: closing with unread data makes the kernel send
// a reset, which can destroy the response before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 8 << 20;
// The first read of a request takes up to this much of what has arrived.
constexpr size_t kFirstReadBytes = 64 * 1024;
// Deadline for writing a 503 to a connection refused for being over max_connections.
constexpr auto kRejectWriteTime = std::chrono::seconds(5);
// At most this much of a file body is sent in one trip to the worker pool, so a client that
// reads as fast as the kernel can send does not hold a pool thread for a whole large object.
constexpr uint64_t kSendfileStepBytes = 16 << 20;

// What one trip of sendfile(2) calls did: bytes sent, then why it stopped.
struct SendfileStep {
  uint64_t sent = 0;
  bool would_block = false;  // the socket buffer is full: wait until the client reads
  int error = 0;             // errno, or -1 when the file ended before `length`
};

// Sends up to `length` bytes of `file` from `offset` to the non-blocking socket `sock`,
// until the socket buffer is full, the step's budget is spent, or an error.
SendfileStep SendfileSome(int sock, int file, uint64_t offset, uint64_t length) {
  SendfileStep step;
  const uint64_t budget = std::min(length, kSendfileStepBytes);
  while (step.sent < budget) {
    off_t pos = static_cast<off_t>(offset + step.sent);
    const ssize_t n = ::sendfile(sock, file, &pos, static_cast<size_t>(budget - step.sent));
    if (n > 0) {
      step.sent += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      step.error = -1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      step.would_block = true;
    } else if (errno != EINTR) {
      step.error = errno;
    } else {
      continue;
    }
    break;
  }
  return step;
}

// Runs `fn` on `pool` and resumes the calling coroutine on its own executor with the result.
template <typename F>
net::awaitable<std::invoke_result_t<F>> OnPool(net::thread_pool& pool, F fn) {
  using R = std::invoke_result_t<F>;
  co_return co_await net::async_initiate<const net::use_awaitable_t<>, void(R)>(
      [&pool](auto handler, F f) {
        net::post(pool, [handler = std::move(handler), f = std::move(f)]() mutable {
          R result = f();
          auto ex = net::get_associated_executor(handler);
          net::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      net::use_awaitable, std::move(fn));
}

// Checks what Beast's parser lets through but RFC 9112 calls ambiguous framing.
std::optional<std::string> FramingProblem(const http::request_parser<http::buffer_body>& parser) {
  int hosts = 0, lengths = 0, codings = 0;
  for (const auto& field : parser.get()) {
    switch (field.name()) {
      case http::field::host:
        ++hosts;
        break;
      case http::field::content_length:
        ++lengths;
        if (field.value().find(',') != beast::string_view::npos) return "Content-Length is a list";
        break;
      case http::field::transfer_encoding:
        ++codings;
        if (!beast::iequals(field.value(), "chunked")) return "unsupported Transfer-Encoding";
        break;
      default:
        break;
    }
  }
  if (hosts != 1) return "exactly one Host header is required";
  if (lengths > 1) return "repeated Content-Length";
  if (codings > 1) return "repeated Transfer-Encoding";
  if (lengths > 0 && codings > 0) return "Content-Length with Transfer-Encoding";
  return std::nullopt;
}

// True when `header_bytes` (whole lines of a request header, as Beast's parser took them)
// hold an obs-fold: a line end followed by a space or a tab. Beast unfolds such a field into
// one value, which RFC 9112 5.2 allows, but a proxy in front may read the fold line as its own
// field or drop it (`Transfer-Encoding:` + fold + `chunked`), so the two would frame the
// request differently; RFC 9112 also allows refusing it with a 400, which we do. Bare LF and
// bare CR line ends need no check here: Beast already refuses them (bad_line_ending, bad_value).
bool HasObsFold(std::string_view header_bytes) {
  for (size_t i = header_bytes.find('\n'); i != std::string_view::npos && i + 1 < header_bytes.size();
       i = header_bytes.find('\n', i + 1)) {
    if (header_bytes[i + 1] == ' ' || header_bytes[i + 1] == '\t') return true;
  }
  return false;
}

}  // namespace

class HttpServer::Impl {
 public:
  class Connection;

  Impl(HttpServerOptions options, HttpHandler* handler)
      : options_(std::move(options)),
        handler_(handler),
        pool_(static_cast<size_t>(std::max(1, options_.worker_threads))),
        acceptor_(ioc_) {}
  ~Impl() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }

  Status Start();
  void Stop(Duration grace);
  int port() const { return port_; }
  int active() const { return active_.load(); }
  uint64_t exchange_steps() const { return exchange_steps_.load(); }
  void CountExchangeStep() { exchange_steps_.fetch_add(1, std::memory_order_relaxed); }

  const HttpServerOptions& options() const { return options_; }
  HttpHandler& handler() { return *handler_; }
  net::thread_pool& pool() { return pool_; }
  bool stopping() const { return stopping_.load(); }

  void Register(Connection* c);
  void Unregister(Connection* c);

 private:
  net::awaitable<void> AcceptLoop();
  net::awaitable<void> Reject(tcp::socket socket, std::string detail);
  // One descriptor held in reserve (/dev/null). When accept fails for want of descriptors
  // (EMFILE/ENFILE) the waiting client would sit in the backlog until it gives up; closing
  // the reserve frees one, to accept that client and answer 503 SlowDown. Reopened once a
  // descriptor is free again. Only AcceptLoop touches reserve_fd_.
  void KeepReserveFd();
  bool AnswerWithReserveFd();  // true when a waiting client was taken to be answered 503
  int reserve_fd_ = -1;

  HttpServerOptions options_;
  HttpHandler* handler_;
  net::io_context ioc_{std::max(1, options_.io_threads)};
  net::thread_pool pool_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> io_threads_;
  int port_ = 0;
  std::atomic<int> active_{0};
  std::atomic<uint64_t> exchange_steps_{0};
  std::atomic<int> rejecting_{0};
  std::atomic<bool> stopping_{false};
  bool started_ = false, stopped_ = false;

  // Guards connections_, and is held when a connection leaves, so Stop can reach every live one.
  std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_set<Connection*> connections_;
};

class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl& server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket)),
        write_timer_(stream_.get_executor()),
        buffer_(server.options().max_header_bytes + 64 * 1024),
        chunk_(server.options().chunk_bytes) {}

  // `self` keeps the connection alive for as long as the coroutine runs.
  net::awaitable<void> Run(std::shared_ptr<Connection> self);
  // On the connection's strand: closes it if it waits for a request, else lets the request
  // finish (the response then says Connection: close).
  void CloseIfIdle() {
    if (idle_) stream_.cancel();
  }
  void CloseNow() { stream_.cancel(); }
  auto executor() { return stream_.get_executor(); }

 private:
  net::awaitable<bool> WaitForRequest();
  // How reading a request header ended: ec as from http::async_read_header (clear when the
  // header is complete), or obs_fold when a field was folded (the header is then incomplete).
  struct HeaderRead {
    beast::error_code ec;
    bool obs_fold = false;
  };
  net::awaitable<HeaderRead> ReadHeader(http::request_parser<http::buffer_body>& parser);
  // How reading a body ended: every byte passed to the exchange (kComplete: End is still to
  // run; kEnded: it ran with the last chunk), an answer before the end (the exchange's early
  // response or a failure; the connection then closes), or a client that went away (nothing
  // to answer).
  struct BodyResult {
    enum Kind { kComplete, kEnded, kAnswered, kClientGone } kind = kComplete;
    std::optional<HttpResponse> response;  // kEnded, kAnswered
  };
  net::awaitable<BodyResult> ReadBody(http::request_parser<http::buffer_body>& parser, Exchange& exchange);
  // What one read of body bytes into chunk_ gave: the bytes (until the body ended or chunk_
  // was full), or a failure to answer (the connection then closes), or a client gone.
  struct BodyChunk {
    std::string_view bytes;
    std::optional<HttpResponse> answer;
    bool client_gone = false;
  };
  net::awaitable<BodyChunk> ReadChunk(http::request_parser<http::buffer_body>& parser);
  net::awaitable<bool> WriteContinue();
  net::awaitable<bool> Write(HttpResponse response, bool head_only);
  net::awaitable<bool> SendFile(FileRegion file, uint64_t length);
  net::awaitable<bool> WaitWritable();
  net::awaitable<void> Linger();
  HttpRequestHead MakeHead(const http::request_parser<http::buffer_body>& parser) const;

  // Calls an exchange step on the pool; a thrown exception becomes a 500.
  template <typename R, typename F>
  net::awaitable<R> Step(F f) {
    HttpHandler& handler = server_.handler();
    server_.CountExchangeStep();
    co_return co_await OnPool(server_.pool(), [f = std::move(f), &handler]() mutable -> R {
      try {
        return f();
      } catch (const std::exception& e) {
        LogError("exchange threw", {{"what", e.what()}});
      } catch (...) {
        LogError("exchange threw a non-exception");
      }
      HttpResponse r = handler.Failure(HttpFailure::kInternal, "exception in handler");
      r.close = true;
      return R(std::move(r));
    });
  }

  Impl& server_;
  beast::tcp_stream stream_;
  // write_timeout for waits on the raw socket (SendFile), which tcp_stream's own timer does
  // not cover. wait_seq_ tells a timer that fired late from the wait it was set for.
  net::steady_timer write_timer_;
  uint64_t wait_seq_ = 0;
  bool wait_timed_out_ = false;
  beast::flat_buffer buffer_;
  std::vector<char> chunk_;
  bool idle_ = false;  // waiting between requests; only touched on the strand
};

HttpRequestHead HttpServer::Impl::Connection::MakeHead(
    const http::request_parser<http::buffer_body>& parser) const {
  const auto& req = parser.get();
  HttpRequestHead head;
  head.method = std::string(req.method_string());
  head.target = std::string(req.target());
  for (const auto& field : req) {
    head.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  if (!ec) head.remote_ip = remote.address().to_string();
  head.chunked = parser.chunked();
  if (!head.chunked) head.content_length = parser.content_length().value_or(0);
  return head;
}

// Waits up to idle_timeout for the first byte of the next request. False: close.
net::awaitable<bool> HttpServer::Impl::Connection::WaitForRequest() {
  if (buffer_.size() > 0) co_return true;
  if (server_.stopping()) co_return false;
  idle_ = true;
  stream_.expires_after(server_.options().idle_timeout);
  // As much as has arrived (up to kFirstReadBytes): a small request's body usually came with
  // its header, and is then taken in the same read.
  auto [ec, n] = co_await stream_.async_read_some(
      buffer_.prepare(std::min(kFirstReadBytes, buffer_.max_size() - buffer_.size())), kNoThrow);
  idle_ = false;
  if (ec) co_return false;  // idle timeout, close by the client, or Stop()
  buffer_.commit(n);
  co_return true;
}

net::awaitable<void> HttpServer::Impl::Connection::Run(std::shared_ptr<Connection> self) {
  (void)self;
  const HttpServerOptions& opt = server_.options();
  HttpHandler& handler = server_.handler();
  beast::error_code ignored;
  stream_.socket().set_option(tcp::no_delay(true), ignored);
  const uint64_t raw_body_limit = opt.max_body_bytes + opt.max_body_bytes / 32 + (1 << 20);

  while (co_await WaitForRequest()) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<uint64_t>(opt.max_header_bytes, UINT32_MAX)));
    parser.body_limit(raw_body_limit);
    stream_.expires_after(opt.header_timeout);
    const HeaderRead header = co_await ReadHeader(parser);
    const beast::error_code ec = header.ec;
    if (header.obs_fold) {
      co_await Write(handler.Failure(HttpFailure::kBadRequest, "folded header line (obs-fold)"), false);
      break;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      co_await Write(handler.Failure(HttpFailure::kHeaderTooLarge, ec.message()), false);
      break;
    }
    if (ec == beast::error::timeout || ec == net::error::eof || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset) {
      break;
    }
    if (ec) {
      co_await Write(handler.Failure(HttpFailure::kBadRequest, ec.message()), false);
      break;
    }
    if (auto problem = FramingProblem(parser)) {
      co_await Write(handler.Failure(HttpFailure::kBadRequest, *problem), false);
      break;
    }

    HttpRequestHead head = MakeHead(parser);
    const bool head_only = head.method == "HEAD";
    const bool expects_continue =
        beast::iequals(parser.get()[http::field::expect], "100-continue");
    const bool keep_alive = parser.get().keep_alive();

    std::unique_ptr<Exchange> exchange = handler.NewExchange(head);
    std::optional<HttpResponse> response;
    bool body_unread = false;
    const boost::optional<uint64_t> length = parser.content_length();  // none when chunked
    if (parser.is_done() || (!parser.chunked() && length && *length <= chunk_.size())) {
      // No body, or a small one (a GET, a thumbnail's PUT, an SQS call): the whole body is
      // read first, on this thread and without blocking it (usually it came with the header),
      // then Begin, Body and End run in one pool step instead of one step each, every step a
      // round trip between threads. A client that asked for a 100 gets it at once (RFC 9110
      // lets a server send it before looking at the request): waiting for Begin's verdict
      // would spare at most chunk_bytes of upload, and cost a step and a round trip.
      std::string_view body;
      bool continued = false;
      if (!parser.is_done()) {
        if (expects_continue) {
          if (!co_await WriteContinue()) break;
          continued = true;
        }
        stream_.expires_after(opt.body_timeout);
        BodyChunk chunk = co_await ReadChunk(parser);
        if (chunk.client_gone) break;
        response = std::move(chunk.answer);
        body = chunk.bytes;
        body_unread = !parser.is_done();
      }
      if (!response) {
        response = co_await Step<HttpResponse>([&exchange, body] {
          if (std::optional<HttpResponse> r = exchange->Begin()) return std::move(*r);
          if (!body.empty()) {
            if (std::optional<HttpResponse> r = exchange->Body(body)) return std::move(*r);
          }
          return exchange->End();
        });
      }
      // An empty body gets no 100: the final answer comes instead, and botocore's quirk (below)
      // applies.
      if (expects_continue && !continued) response->close = true;
    } else {
      // A large or chunked body: Begin first, so that a request refused by its header is
      // answered before the client sends (or, after a 100, before it has sent) the body.
      response = co_await Step<std::optional<HttpResponse>>([&exchange] { return exchange->Begin(); });
      if (response) {
        body_unread = !parser.is_done();
        // A final answer to a request that asked for a 100 first: botocore (1.29, Debian 12)
        // keeps such an answer's status line as the parse state of the connection's next
        // response, which then reads a stale status (a 400's as a 200's). Closing the
        // connection resets it; clients that did not wait lose one reconnect.
        if (expects_continue) response->close = true;
      } else {
        if (expects_continue && !co_await WriteContinue()) break;
        BodyResult read = co_await ReadBody(parser, *exchange);
        if (read.kind == BodyResult::kClientGone) break;
        body_unread = !parser.is_done();
        if (read.kind == BodyResult::kAnswered || read.kind == BodyResult::kEnded) {
          response = std::move(read.response);
        } else {
          response = co_await Step<HttpResponse>([&exchange] { return exchange->End(); });
        }
      }
    }
    exchange.reset();  // aborts whatever End() did not commit
    if (body_unread || !keep_alive || server_.stopping()) response->close = true;
    const bool close = response->close;
    const bool written = co_await Write(std::move(*response), head_only);
    if (!written) break;
    if (close) {
      if (body_unread) co_await Linger();
      break;
    }
  }
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  server_.Unregister(this);
}

// Does what http::async_read_header does (under the deadline the caller set), and looks at the
// raw bytes as the parser takes them. Beast's parser takes the start line and then each field
// whole, a field together with its fold lines, so a fold always lies inside the bytes of one put.
net::awaitable<HttpServer::Impl::Connection::HeaderRead> HttpServer::Impl::Connection::ReadHeader(
    http::request_parser<http::buffer_body>& parser) {
  HeaderRead read;
  for (;;) {
    if (buffer_.size() > 0) {
      const net::const_buffer data = buffer_.data();
      const size_t used = parser.put(data, read.ec);
      read.obs_fold = HasObsFold({static_cast<const char*>(data.data()), used});
      buffer_.consume(used);
      if (read.obs_fold) {
        read.ec = {};
        co_return read;
      }
      if (parser.is_header_done() || read.ec != http::error::need_more) co_return read;
      read.ec = {};
    }
    if (buffer_.size() >= buffer_.max_size()) {
      read.ec = http::error::buffer_overflow;
      co_return read;
    }
    auto [ec, n] = co_await stream_.async_read_some(
        buffer_.prepare(std::min(kFirstReadBytes, buffer_.max_size() - buffer_.size())), kNoThrow);
    if (ec) {
      read.ec = ec;  // the header timeout, a close by the client, or Stop()
      co_return read;
    }
    buffer_.commit(n);
  }
}

// "100 Continue"; false when the client is gone.
net::awaitable<bool> HttpServer::Impl::Connection::WriteContinue() {
  http::response<http::empty_body> cont{http::status::continue_, 11};
  stream_.expires_after(server_.options().write_timeout);
  auto [ec, n] = co_await http::async_write(stream_, cont, kNoThrow);
  (void)n;
  co_return !ec;
}

// Reads into chunk_ until the body ends or chunk_ is full, under the deadline the caller set.
net::awaitable<HttpServer::Impl::Connection::BodyChunk> HttpServer::Impl::Connection::ReadChunk(
    http::request_parser<http::buffer_body>& parser) {
  HttpHandler& handler = server_.handler();
  auto answer = [](HttpResponse r) {
    r.close = true;
    return BodyChunk{{}, std::move(r), false};
  };
  auto& body = parser.get().body();
  body.data = chunk_.data();
  body.size = chunk_.size();
  auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, kNoThrow);
  (void)n;
  if (ec == http::error::need_buffer) ec = {};  // chunk_ is full: hand it over
  if (ec == http::error::body_limit) {
    co_return answer(handler.Failure(HttpFailure::kBodyTooLarge, "body over max_body_bytes"));
  }
  if (ec == beast::error::timeout) co_return answer(handler.Failure(HttpFailure::kRequestTimeout, "body_timeout"));
  if (ec == http::error::partial_message || ec == net::error::eof || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted) {
    co_return BodyChunk{{}, std::nullopt, true};
  }
  if (ec) co_return answer(handler.Failure(HttpFailure::kBadRequest, ec.message()));
  co_return BodyChunk{std::string_view(chunk_.data(), chunk_.size() - body.size), std::nullopt, false};
}

// Feeds the body to the exchange chunk by chunk, through chunk_ (bounded memory), under one
// deadline for the whole body.
net::awaitable<HttpServer::Impl::Connection::BodyResult> HttpServer::Impl::Connection::ReadBody(
    http::request_parser<http::buffer_body>& parser, Exchange& exchange) {
  stream_.expires_after(server_.options().body_timeout);
  while (!parser.is_done()) {
    BodyChunk read = co_await ReadChunk(parser);
    if (read.client_gone) co_return BodyResult{BodyResult::kClientGone, std::nullopt};
    if (read.answer) co_return BodyResult{BodyResult::kAnswered, std::move(read.answer)};
    const std::string_view chunk = read.bytes;
    if (chunk.empty()) continue;
    if (parser.is_done()) {
      // The last chunk: End runs in the same pool step, one round trip between threads less.
      HttpResponse last = co_await Step<HttpResponse>([&exchange, chunk] {
        if (std::optional<HttpResponse> r = exchange.Body(chunk)) return std::move(*r);
        return exchange.End();
      });
      co_return BodyResult{BodyResult::kEnded, std::move(last)};
    }
    std::optional<HttpResponse> early = co_await Step<std::optional<HttpResponse>>(
        [&exchange, chunk] { return exchange.Body(chunk); });
    if (early) {
      early->close = true;
      co_return BodyResult{BodyResult::kAnswered, std::move(early)};
    }
  }
  co_return BodyResult{};
}

// Writes the response; false when the client is gone (the connection must close).
net::awaitable<bool> HttpServer::Impl::Connection::Write(HttpResponse response, bool head_only) {
  const HttpServerOptions& opt = server_.options();
  http::response<http::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(response.status));
  for (HttpHeader& h : response.headers) res.insert(h.name, h.value);
  const uint64_t length = response.content_length.value_or(
      response.stream ? 0 : static_cast<uint64_t>(response.body.size()));
  if (response.status != 204 && response.status != 304) res.content_length(length);
  res.keep_alive(!response.close);
  const bool stream_body = response.stream && !head_only;
  if (!head_only && !response.stream) res.body() = std::move(response.body);

  stream_.expires_after(opt.write_timeout);
  {
    auto [ec, n] = co_await http::async_write(stream_, res, kNoThrow);
    (void)n;
    if (ec) co_return false;
  }
  if (!stream_body) co_return true;

  BodySource* source = response.stream.get();
  if (std::optional<FileRegion> file = source->File()) co_return co_await SendFile(*file, length);
  uint64_t sent = 0;
  std::span<char> buf(chunk_.data(), chunk_.size());
  while (sent < length) {
    Result<size_t> got = co_await OnPool(server_.pool(), [source, buf]() -> Result<size_t> {
      try {
        return source->Read(buf);
      } catch (...) {
        return Status::Internal("body source threw");
      }
    });
    if (!got.ok() || *got == 0) {
      // The status line is gone; the only way to tell the client is to cut the body short.
      LogError("response body ended early", {{"sent", sent}, {"length", length},
                                            {"error", got.ok() ? "eof" : got.status().ToString()}});
      co_return false;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(*got, length - sent));
    stream_.expires_after(opt.write_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(chunk_.data(), take), kNoThrow);
    (void)n;
    if (ec) co_return false;
    sent += take;
  }
  co_return true;
}

// Sends `length` bytes of `file` with sendfile(2): the bytes go from the page cache to the
// socket without a copy through user space. The socket is non-blocking, so a call never waits
// for the client; it may wait for the disk (a blob not in the page cache), so the calls run on
// the worker pool and the I/O threads never block. Between calls the connection waits for
// the socket to drain, at most write_timeout each time, as the buffered path does per chunk.
net::awaitable<bool> HttpServer::Impl::Connection::SendFile(FileRegion file, uint64_t length) {
  if (file.length < length) {
    LogError("response file region shorter than the body", {{"region", file.length}, {"length", length}});
    co_return false;
  }
  beast::error_code ec;
  stream_.socket().native_non_blocking(true, ec);
  if (ec) co_return false;
  const int sock = stream_.socket().native_handle();
  uint64_t sent = 0;
  while (sent < length) {
    const uint64_t offset = file.offset + sent, left = length - sent;
    const SendfileStep step = co_await OnPool(server_.pool(), [sock, fd = file.fd, offset, left] {
      return SendfileSome(sock, fd, offset, left);
    });
    sent += step.sent;
    if (step.error != 0) {
      // EPIPE / ECONNRESET: the client went away, nothing to report.
      if (step.error != EPIPE && step.error != ECONNRESET) {
        LogError("sendfile failed", {{"sent", sent}, {"length", length},
                                     {"error", step.error < 0 ? "file ended early" : std::strerror(step.error)}});
      }
      co_return false;
    }
    if (step.would_block && !co_await WaitWritable()) co_return false;
  }
  co_return true;
}

// Waits until the socket takes more bytes; false after write_timeout, an error or a Stop().
net::awaitable<bool> HttpServer::Impl::Connection::WaitWritable() {
  const uint64_t wait = ++wait_seq_;
  wait_timed_out_ = false;
  write_timer_.expires_after(server_.options().write_timeout);
  write_timer_.async_wait([self = shared_from_this(), wait](beast::error_code ec) {
    if (ec || self->wait_seq_ != wait) return;
    self->wait_timed_out_ = true;
    beast::error_code ignored;
    self->stream_.socket().cancel(ignored);
  });
  auto [ec] = co_await stream_.socket().async_wait(tcp::socket::wait_write, kNoThrow);
  ++wait_seq_;
  write_timer_.cancel();
  co_return !ec && !wait_timed_out_;
}

net::awaitable<void> HttpServer::Impl::Connection::Linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLingerTime);
  size_t drained = 0;
  while (drained < kLingerMaxBytes) {
    auto [ec, n] = co_await stream_.async_read_some(net::buffer(chunk_), kNoThrow);
    if (ec) break;
    drained += n;
  }
}

void HttpServer::Impl::Register(Connection* c) {
  std::lock_guard lock(mu_);
  connections_.insert(c);
}

void HttpServer::Impl::Unregister(Connection* c) {
  std::lock_guard lock(mu_);
  connections_.erase(c);
  active_.fetch_sub(1);
  drained_.notify_all();
}

net::awaitable<void> HttpServer::Impl::Reject(tcp::socket socket, std::string detail) {
  beast::tcp_stream stream(std::move(socket));
  HttpResponse r = handler_->Failure(HttpFailure::kTooManyConnections, detail);
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  for (HttpHeader& h : r.headers) res.insert(h.name, h.value);
  res.body() = std::move(r.body);
  res.keep_alive(false);
  res.prepare_payload();
  stream.expires_after(kRejectWriteTime);
  co_await http::async_write(stream, res, kNoThrow);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  rejecting_.fetch_sub(1);
}

void HttpServer::Impl::KeepReserveFd() {
  if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

bool HttpServer::Impl::AnswerWithReserveFd() {
  if (reserve_fd_ < 0) return false;
  ::close(reserve_fd_);
  reserve_fd_ = -1;
  tcp::socket socket(net::make_strand(ioc_));
  beast::error_code ec;
  acceptor_.non_blocking(true, ec);  // for this synchronous accept only; async ones ignore it
  if (!ec) acceptor_.accept(socket, ec);
  if (ec) return false;
  rejecting_.fetch_add(1);
  auto ex = socket.get_executor();
  net::co_spawn(ex, Reject(std::move(socket), "out of file descriptors"), net::detached);
  return true;
}

net::awaitable<void> HttpServer::Impl::AcceptLoop() {
  net::steady_timer backoff(ioc_);
  while (!stopping_.load()) {
    KeepReserveFd();
    auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kNoThrow);
    if (ec == net::error::operation_aborted || stopping_.load()) break;
    if (ec) {
      const bool no_fds = ec == boost::system::errc::too_many_files_open ||
                          ec == boost::system::errc::too_many_files_open_in_system;
      if (no_fds && AnswerWithReserveFd()) continue;
      // Out of file descriptors with the reserve in use, and the like: accepting again at
      // once would spin.
      LogWarn("accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    if (active_.load() >= options_.max_connections) {
      if (rejecting_.load() >= options_.max_connections) continue;  // the socket just closes
      rejecting_.fetch_add(1);
      auto ex = socket.get_executor();
      net::co_spawn(ex, Reject(std::move(socket), "max_connections"), net::detached);
      continue;
    }
    active_.fetch_add(1);
    auto ex = socket.get_executor();
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    Register(connection.get());
    net::co_spawn(ex, connection->Run(connection), [](std::exception_ptr e) {
      if (e) LogError("connection coroutine threw");
    });
  }
}

Status HttpServer::Impl::Start() {
  // sendfile(2) has no MSG_NOSIGNAL: a write to a socket the client has reset raises SIGPIPE,
  // whose default action ends the process. Ignored, the write fails with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("cannot parse listen address \"" + options_.host + "\"");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                           ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  net::co_spawn(ioc_, AcceptLoop(), net::detached);
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    io_threads_.emplace_back([this] { ioc_.run(); });
  }
  started_ = true;
  return Status::Ok();
}

void HttpServer::Impl::Stop(Duration grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  net::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  auto for_each_connection = [this](auto action) {
    std::lock_guard lock(mu_);
    for (Connection* c : connections_) {
      net::post(c->executor(), [self = c->shared_from_this(), action] { action(*self); });
    }
  };
  for_each_connection([](Connection& c) { c.CloseIfIdle(); });
  {
    std::unique_lock lock(mu_);
    drained_.wait_for(lock, grace, [this] { return connections_.empty(); });
  }
  for_each_connection([](Connection& c) { c.CloseNow(); });
  {
    // A connection cut off mid-step still waits for its store call to return.
    std::unique_lock lock(mu_);
    drained_.wait_for(lock, std::chrono::seconds(10), [this] { return connections_.empty(); });
  }
  ioc_.stop();
  for (std::thread& t : io_threads_) t.join();
  pool_.join();
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}
HttpServer::~HttpServer() { Stop(Duration{0}); }
Status HttpServer::Start() { return impl_->Start(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop(Duration grace) { impl_->Stop(grace); }
int HttpServer::active_connections() const { return impl_->active(); }
uint64_t HttpServer::exchange_steps() const { return impl_->exchange_steps(); }

}  // namespace thumbpipe::server
