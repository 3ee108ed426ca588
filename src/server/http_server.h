// HttpServer: HTTP/1.1 on Boost.Beast, with every limit that protects it from its clients.
//
// Threads: `io_threads` run the sockets (parsing, reading, writing; never blocking work);
// `worker_threads` run the handler's exchanges (store reads, writes, fsyncs). A connection has
// at most one exchange step queued on the worker pool at a time, so the pool's queue is
// bounded by max_connections, and a slow client holds a connection but never a thread.
// A request without a body or with a small one (Content-Length up to chunk_bytes) is read
// whole first and runs in one step (Begin, Body, End); "100 Continue" is then sent at once.
// A larger or chunked body runs Begin first, so a refused upload is answered before its body.
//
// Limits: request line + headers over max_header_bytes -> 431 and close; a body over
// max_body_bytes (raw, as framed) -> EntityTooLarge and close; a client that sends nothing for
// idle_timeout between requests, or takes longer than header_timeout for a header (from its
// first byte) or body_timeout for a body, is cut off; connections beyond max_connections get
// 503 SlowDown and are closed. Ambiguous framing (Content-Length with Transfer-Encoding,
// repeated, listed or non-decimal Content-Length, a transfer coding other than chunked, no or
// several Host headers, obs-fold, bare LF/CR line ends, a chunk size that overflows) -> 400
// and close, so a smuggled second request is never run.
//
// Response bodies: a body that lies in a file (BodySource::File) goes with sendfile(2) from the
// file to the non-blocking socket, never through user space; any other body is read through
// a chunk_bytes buffer. Either way a client that stops reading is cut off after write_timeout
// and holds no thread meanwhile. Start() sets SIGPIPE to ignored (sendfile cannot suppress it).
//
// Thread-safety: Start, Stop and Wait are called from one controlling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/duration.h"
#include "common/result.h"
#include "server/http_types.h"

namespace thumbpipe::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // address to listen on (never 0.0.0.0 by default)
  int port = 9000;                 // 0 = any free port; HttpServer::port() tells which
  int io_threads = 2;
  // Store work blocks on disk; more threads than cores keeps the disk busy while some fsync.
  int worker_threads = 8;
  int max_connections = 256;
  uint64_t max_header_bytes = 16384;
  uint64_t max_body_bytes = 5ull << 30;
  Duration idle_timeout = std::chrono::seconds(60);
  Duration header_timeout = std::chrono::seconds(15);
  Duration body_timeout = std::chrono::seconds(300);
  // How long a response may wait on a client that does not read (per chunk written, or per
  // wait for the socket to drain when the body goes with sendfile).
  Duration write_timeout = std::chrono::seconds(60);
  // Size of the buffer a body moves through, in both directions, per connection.
  size_t chunk_bytes = 256 * 1024;
};

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler* handler);
  ~HttpServer();  // stops at once if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. kIOError when the address cannot be bound,
  // kInvalidArgument for an address that does not parse.
  Status Start();
  // The bound port (the chosen one when options.port was 0). REQUIRES: Start() succeeded.
  int port() const;

  // Stops accepting, closes idle connections, lets in-flight requests finish for up to
  // `grace`, then closes what remains and joins every thread. Idempotent.
  void Stop(Duration grace);

  // Connections open right now (for tests and metrics).
  int active_connections() const;
  // Exchange steps run on the worker pool so far, each a round trip between threads (tests:
  // a small body that came with its header takes one step, not one each for Begin and End).
  uint64_t exchange_steps() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thumbpipe::server
