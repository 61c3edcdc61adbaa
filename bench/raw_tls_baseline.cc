#include "bench/raw_tls_baseline.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::bench {
namespace {

using Clock = std::chrono::steady_clock;
using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;

absl::Status SslError(const std::string& what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

// A socket listening on 127.0.0.1 on a free port (in *port).
absl::StatusOr<int> Listen(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd, 1) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::InternalError("loopback listen failed");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

absl::StatusOr<int> Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::InternalError("loopback connect failed");
  }
  return fd;
}

// Accepts one connection on `listener` and reads `bytes` over TLS.
absl::Status Serve(SSL_CTX* ctx, int listener, int64_t bytes) {
  const int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0) return absl::InternalError("accept failed");
  SslPtr ssl(SSL_new(ctx), &SSL_free);
  SSL_set_fd(ssl.get(), fd);
  absl::Status s;
  if (SSL_accept(ssl.get()) != 1) s = SslError("TLS accept");
  std::vector<char> buf(1 << 16);
  for (int64_t got = 0; s.ok() && got < bytes;) {
    const int n = SSL_read(ssl.get(), buf.data(), static_cast<int>(buf.size()));
    if (n <= 0) s = SslError("TLS read");
    got += std::max(n, 0);
  }
  if (s.ok()) SSL_write(ssl.get(), "k", 1);  // all read
  ::close(fd);
  return s;
}

// One connection: seconds from the first write to the server's last read
// (signalled by its one-byte answer).
absl::StatusOr<double> OneRun(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                              int64_t bytes) {
  int port = 0;
  auto listener = Listen(&port);
  if (!listener.ok()) return listener.status();
  absl::Status served;
  std::thread server([&] { served = Serve(server_ctx, *listener, bytes); });
  absl::StatusOr<double> result = absl::InternalError("not run");
  auto fd = Connect(port);
  if (fd.ok()) {
    SslPtr ssl(SSL_new(client_ctx), &SSL_free);
    SSL_set_fd(ssl.get(), *fd);
    if (SSL_connect(ssl.get()) != 1) {
      result = SslError("TLS connect");
    } else {
      const std::vector<char> record(16384, 'x');
      const auto t0 = Clock::now();
      absl::Status s;
      for (int64_t sent = 0; s.ok() && sent < bytes;) {
        const int n = static_cast<int>(
            std::min<int64_t>(record.size(), bytes - sent));
        if (SSL_write(ssl.get(), record.data(), n) != n) s = SslError("TLS write");
        sent += n;
      }
      char done = 0;
      if (s.ok() && SSL_read(ssl.get(), &done, 1) != 1) s = SslError("TLS answer");
      result = s.ok() ? absl::StatusOr<double>(
                            std::chrono::duration<double>(Clock::now() - t0).count())
                      : absl::StatusOr<double>(s);
    }
    ::close(*fd);
  } else {
    result = fd.status();
  }
  server.join();
  ::close(*listener);
  if (!served.ok()) return served;
  return result;
}

}  // namespace

absl::StatusOr<double> RawTlsBytesPerSecond(const std::string& cert_path,
                                            const std::string& key_path,
                                            int64_t bytes, int reps) {
  CtxPtr server(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  CtxPtr client(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (server == nullptr || client == nullptr ||
      SSL_CTX_use_certificate_chain_file(server.get(), cert_path.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server.get(), key_path.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return SslError("TLS set-up with " + cert_path);
  }
  SSL_CTX_set_min_proto_version(server.get(), TLS1_3_VERSION);
  SSL_CTX_set_min_proto_version(client.get(), TLS1_3_VERSION);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto seconds = OneRun(server.get(), client.get(), bytes);
    if (!seconds.ok()) return seconds.status();
    best = std::max(best, static_cast<double>(bytes) / *seconds);
  }
  return best;
}

}  // namespace cohort::bench
