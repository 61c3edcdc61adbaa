#include "server/api/sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/crypto/hex.h"
#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

constexpr absl::string_view kAbstractScheme = "unix-abstract:";
constexpr absl::string_view kRelayPrefix = "cohort-door/";

// "%5B" -> "[": gRPC percent-encodes what a URI path may not hold.
std::string PercentDecoded(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      if (auto byte = crypto::HexToBytes(std::string_view(s.data() + i + 1, 2)); byte.ok()) {
        out.push_back(static_cast<char>((*byte)[0]));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

int ConnectBackend(const std::string& path, absl::string_view client_name) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (!client_name.empty()) {
    // sun_path[0] stays NUL: the abstract namespace, no file to clean up.
    const size_t n = std::min(client_name.size(), sizeof(addr.sun_path) - 1);
    std::memcpy(addr.sun_path + 1, client_name.data(), n);
    const auto len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ::close(fd);
      return -1;
    }
    addr = {};
    addr.sun_family = AF_UNIX;
  }
  std::memcpy(addr.sun_path, path.data(),
              std::min(path.size(), sizeof(addr.sun_path) - 1));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string RelayedPeerName(uint64_t relay_id, const sockaddr_storage& device) {
  char host[INET6_ADDRSTRLEN] = {};
  std::string uri;
  if (device.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(device);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
    uri = absl::StrCat("ipv4:", host, ":", ntohs(a.sin_port));
  } else if (device.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(device);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof(host));
    uri = absl::StrCat("ipv6:[", host, "]:", ntohs(a.sin6_port));
  } else {
    return "";
  }
  return absl::StrCat(kRelayPrefix, ::getpid(), "/", relay_id, "/", uri);
}

std::string DevicePeer(absl::string_view grpc_peer) {
  if (!absl::StartsWith(grpc_peer, kAbstractScheme)) {
    return std::string(grpc_peer);
  }
  const std::string name =
      PercentDecoded(grpc_peer.substr(kAbstractScheme.size()));
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, kRelayPrefix)) return std::string(grpc_peer);
  // Past "<pid>/<relay_id>/".
  for (int i = 0; i < 2; ++i) {
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) return std::string(grpc_peer);
    rest.remove_prefix(slash + 1);
  }
  return std::string(rest);
}

}  // namespace cohort::server
