#include "client/transport/tls_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/host_port.h"
#include "common/base/status_macros.h"

namespace cohort::client {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A connected TCP socket, closed on destruction.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Time FromAsn1(const ASN1_TIME* t) {
  std::tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::string When(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::StatusOr<X509Ptr> ReadCertificate(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string pem, base::ReadFile(path, 1 << 20));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
               &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM certificate"));
  }
  return cert;
}

// UNAUTHENTICATED unless `now` lies in the certificate's validity period.
absl::Status CheckValidAt(const X509* cert, absl::Time now,
                          const std::string& what, const std::string& fix) {
  const absl::Time from = FromAsn1(X509_get0_notBefore(cert));
  const absl::Time until = FromAsn1(X509_get0_notAfter(cert));
  if (now < from) {
    return absl::UnauthenticatedError(absl::StrCat(
        what, " is valid from ", When(from), ", but the device clock reads ",
        When(now), " (", absl::FormatDuration(from - now),
        " behind): set the device clock (enable NTP)"));
  }
  if (now > until) {
    return absl::UnauthenticatedError(absl::StrCat(
        what, " expired at ", When(until), " (the device clock reads ",
        When(now), "): ", fix));
  }
  return absl::OkStatus();
}

// Connects with `timeout` and leaves the socket blocking with I/O timeouts.
absl::Status Connect(const std::string& address, absl::Duration timeout,
                     Socket* s) {
  COHORT_ASSIGN_OR_RETURN(base::HostPort host_port,
                          base::SplitHostPort(address, "server_address"));
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(host_port.port);
  if (::getaddrinfo(host_port.host.c_str(), port.c_str(), &hints, &found) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", address));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  s->fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv = absl::ToTimeval(timeout);
  ::setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (s->fd < 0 || ::connect(s->fd, found->ai_addr, found->ai_addrlen) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", address, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>> MakeContext(
    const cohort::v1::TlsConfig& tls) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_cert_path().c_str(),
                                    nullptr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ca_cert_path ", tls.ca_cert_path()));
  }
  if (!tls.cert_path().empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_path().c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_path().c_str(),
                                   SSL_FILETYPE_PEM) != 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot use cert_path ", tls.cert_path(), " with key_path ",
        tls.key_path()));
  }
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  return ctx;
}

void ExpectName(SSL* ssl, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  in6_addr ip;
  if (::inet_pton(AF_INET, name.c_str(), &ip) == 1 ||
      ::inet_pton(AF_INET6, name.c_str(), &ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    return;
  }
  SSL_set_tlsext_host_name(ssl, name.c_str());
  X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
}

// The server's certificate failed verification with `result`.
absl::Status ServerCertificateError(SSL* ssl, long result,
                                    const cohort::v1::TlsConfig& tls,
                                    const std::string& server_name) {
  const X509* cert = SSL_get0_peer_certificate(ssl);
  switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return absl::UnauthenticatedError(absl::StrCat(
          "the coordinator's certificate does not name '", server_name,
          "' (server_name_override): set server_name_override to a name the "
          "certificate holds, or leave it empty for the default"));
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
      if (cert != nullptr) {
        return CheckValidAt(cert, absl::Now(), "the coordinator's certificate",
                            "renew it on the coordinator, or fix the clock");
      }
      [[fallthrough]];
    default:
      return absl::UnauthenticatedError(absl::StrCat(
          "the coordinator's certificate is not trusted by ca_cert_path ",
          tls.ca_cert_path(), " (", X509_verify_cert_error_string(result),
          "): use the CA file of this fleet"));
  }
}

// The server ended the handshake, or the first read, with an alert.
absl::Status DeviceRefused(const cohort::v1::TlsConfig& tls,
                           const std::string& reason) {
  if (tls.cert_path().empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the coordinator requires a device certificate (mutual TLS; ", reason,
        "): set tls.cert_path and tls.key_path"));
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "the coordinator refused this device's certificate ", tls.cert_path(),
      " (", reason, "): it must be signed by the CA the coordinator trusts; "
      "use the certificate issued for this fleet"));
}

// The reason of the last TLS alert in OpenSSL's error queue, or "".
std::string AlertReason() {
  std::string reason;
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    if (r != nullptr && absl::StrContains(r, "alert")) reason = r;
  }
  return reason;
}

}  // namespace

absl::Status CheckDeviceCertificate(const cohort::v1::TlsConfig& tls,
                                    absl::Time now) {
  if (tls.cert_path().empty()) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(tls.cert_path()));
  COHORT_RETURN_IF_ERROR(
      CheckValidAt(cert.get(), now,
                   absl::StrCat("the device certificate ", tls.cert_path()),
                   "enroll again for a new certificate"));
  COHORT_ASSIGN_OR_RETURN(std::string key_pem, base::ReadFile(tls.key_path(), 1 << 20));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (key == nullptr || X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError(absl::StrCat(
        "key_path ", tls.key_path(), " does not hold the key of cert_path ",
        tls.cert_path()));
  }
  return absl::OkStatus();
}

absl::Status ProbeTls(const std::string& address,
                      const cohort::v1::TlsConfig& tls,
                      const std::string& server_name, absl::Duration timeout) {
  COHORT_ASSIGN_OR_RETURN(auto ctx, MakeContext(tls));
  Socket socket;
  COHORT_RETURN_IF_ERROR(Connect(address, timeout, &socket));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  SSL_set_fd(ssl.get(), socket.fd);
  ExpectName(ssl.get(), server_name);
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    const long result = SSL_get_verify_result(ssl.get());
    if (result != X509_V_OK) {
      ERR_clear_error();
      return ServerCertificateError(ssl.get(), result, tls, server_name);
    }
    const std::string alert = AlertReason();
    if (!alert.empty()) return DeviceRefused(tls, alert);
    return absl::UnavailableError(
        absl::StrCat("TLS handshake with ", address, " did not complete"));
  }
  // TLS 1.3 lets the server refuse the device's certificate after the
  // client's side of the handshake is done: the alert arrives on first read.
  // A healthy coordinator speaks first (HTTP/2 SETTINGS); one that refused
  // the certificate sends an alert or just closes the connection.
  char first[16];
  errno = 0;
  const int n = SSL_read(ssl.get(), first, sizeof(first));
  if (n > 0) return absl::OkStatus();
  const int err = SSL_get_error(ssl.get(), n);
  const bool timed_out = err == SSL_ERROR_SYSCALL &&
                         (errno == EAGAIN || errno == EWOULDBLOCK);
  const std::string alert = AlertReason();
  if (!alert.empty()) return DeviceRefused(tls, alert);
  if (timed_out) return absl::OkStatus();
  return DeviceRefused(tls, "the connection was closed right after the handshake");
}

}  // namespace cohort::client
