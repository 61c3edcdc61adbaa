#include "tests/testing/raw_tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cohort::testing {

struct RawTlsConnection::Impl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
};

namespace {

std::string OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  char buf[256] = "";
  if (code != 0) ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return absl::StrCat(what, ": ", buf);
}

// Waits until `fd` is ready for `events` or `deadline`; false on timeout.
bool WaitFor(int fd, short events, absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return false;
  pollfd p = {fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000))) > 0 ||
         absl::Now() < deadline;
}

}  // namespace

RawTlsConnection::~RawTlsConnection() = default;

absl::StatusOr<std::unique_ptr<RawTlsConnection>> RawTlsConnection::Connect(
    int port, const std::string& ca_path, const std::string& server_name,
    const std::string& cert_path, const std::string& key_path) {
  // OpenSSL writes with write(2): a server that closed first must not kill
  // the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<RawTlsConnection> c(new RawTlsConnection());
  c->impl_ = std::make_unique<Impl>();
  Impl& i = *c->impl_;
  i.ctx = SSL_CTX_new(TLS_client_method());
  if (i.ctx == nullptr ||
      SSL_CTX_load_verify_locations(i.ctx, ca_path.c_str(), nullptr) != 1) {
    return absl::UnavailableError(OpenSslError("CA " + ca_path));
  }
  SSL_CTX_set_verify(i.ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(i.ctx, kH2, sizeof(kH2));
  if (!cert_path.empty() &&
      (SSL_CTX_use_certificate_chain_file(i.ctx, cert_path.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(i.ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return absl::UnavailableError(OpenSslError("client certificate"));
  }
  i.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(i.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  }
  timeval timeout = {10, 0};  // the handshake, blocking
  ::setsockopt(i.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  i.ssl = SSL_new(i.ctx);
  SSL_set_fd(i.ssl, i.fd);
  SSL_set_tlsext_host_name(i.ssl, server_name.c_str());
  SSL_set1_host(i.ssl, server_name.c_str());
  if (SSL_connect(i.ssl) != 1) {
    return absl::UnavailableError(OpenSslError("TLS handshake"));
  }
  ::fcntl(i.fd, F_SETFL, ::fcntl(i.fd, F_GETFL) | O_NONBLOCK);
  return c;
}

bool RawTlsConnection::Write(absl::string_view bytes) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!bytes.empty() && !closed_) {
    const int n = SSL_write(impl_->ssl, bytes.data(), static_cast<int>(bytes.size()));
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    const int err = SSL_get_error(impl_->ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      if (!WaitFor(impl_->fd, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
                   deadline)) {
        return false;
      }
      continue;
    }
    closed_ = true;
  }
  ERR_clear_error();
  return bytes.empty();
}

std::string RawTlsConnection::ReadFor(absl::Duration timeout) {
  std::string got;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[16384];
  while (!closed_ && absl::Now() < deadline) {
    const int n = SSL_read(impl_->ssl, buf, sizeof(buf));
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    const int err = SSL_get_error(impl_->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      WaitFor(impl_->fd, POLLIN, deadline);
      continue;
    }
    closed_ = true;  // close_notify, an alert, or a reset
  }
  ERR_clear_error();
  return got;
}

namespace http2 {
namespace {

void AppendU32(std::string* out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// An HPACK string literal (no Huffman), its length a 7-bit-prefix integer.
void AppendHpackString(std::string* out, absl::string_view s) {
  size_t n = s.size();
  if (n < 127) {
    out->push_back(static_cast<char>(n));
  } else {
    out->push_back(static_cast<char>(127));
    for (n -= 127; n >= 128; n >>= 7) out->push_back(static_cast<char>(n % 128 + 128));
    out->push_back(static_cast<char>(n));
  }
  out->append(s.data(), s.size());
}

}  // namespace

std::string ClientPreface() {
  return absl::StrCat("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Frame(kSettings, 0, 0, ""));
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                  absl::string_view payload) {
  std::string out;
  AppendU32(&out, static_cast<uint32_t>(payload.size()), 3);
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  AppendU32(&out, stream & 0x7fffffffu, 4);
  out.append(payload.data(), payload.size());
  return out;
}

std::string GrpcRequestHeaders(uint32_t stream, absl::string_view path,
                               absl::string_view authority) {
  std::string block;
  const std::pair<absl::string_view, absl::string_view> fields[] = {
      {":method", "POST"},       {":scheme", "https"},
      {":path", path},           {":authority", authority},
      {"content-type", "application/grpc"}, {"te", "trailers"}};
  for (const auto& [name, value] : fields) {
    block.push_back(0);  // literal header field without indexing, new name
    AppendHpackString(&block, name);
    AppendHpackString(&block, value);
  }
  return Frame(kHeaders, kEndHeaders, stream, block);
}

std::string GrpcMessagePrefix(uint32_t length) {
  std::string out(1, '\0');
  AppendU32(&out, length, 4);
  return out;
}

bool HasFrame(absl::string_view bytes, uint8_t type, uint32_t stream,
              uint8_t flags) {
  while (bytes.size() >= 9) {
    FrameHeader h;
    h.length = (static_cast<uint8_t>(bytes[0]) << 16) |
               (static_cast<uint8_t>(bytes[1]) << 8) | static_cast<uint8_t>(bytes[2]);
    h.type = static_cast<uint8_t>(bytes[3]);
    h.flags = static_cast<uint8_t>(bytes[4]);
    h.stream = ((static_cast<uint32_t>(static_cast<uint8_t>(bytes[5])) << 24) |
                (static_cast<uint8_t>(bytes[6]) << 16) |
                (static_cast<uint8_t>(bytes[7]) << 8) | static_cast<uint8_t>(bytes[8])) &
               0x7fffffffu;
    if (h.type == type && h.stream == stream && (h.flags & flags) == flags) {
      return true;
    }
    if (bytes.size() < 9 + h.length) return false;
    bytes.remove_prefix(9 + h.length);
  }
  return false;
}

}  // namespace http2
}  // namespace cohort::testing
