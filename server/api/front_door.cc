#include "server/api/front_door.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/base/listen_socket.h"
#include "glog/logging.h"
#include "server/api/sockets.h"

namespace cohort::server {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr uint64_t kListenTag = ~uint64_t{0};
constexpr uint64_t kWakeTag = ~uint64_t{0} - 1;

// Bytes read from one side that the other has not taken yet. Most of the
// time a relay forwards what it reads at once and holds nothing: `held` is
// allocated only for a remainder, so an idle connection costs no buffer.
struct Pipe {
  std::unique_ptr<char[]> held;
  size_t begin = 0;
  size_t end = 0;
  bool src_eof = false;  // the source sent FIN
  bool shut = false;     // FIN passed on to the destination
  bool empty() const { return begin == end; }
};

// The first byte of a TLS record of application data (RFC 8446, 5.1).
constexpr unsigned char kTlsApplicationData = 0x17;

// One device connection and its twin towards gRPC. pipe[i] carries bytes
// from fd[i] to fd[1 - i]; side 0 is the device, side 1 the backend.
struct Relay {
  int fd[2] = {-1, -1};
  Pipe pipe[2];
  uint32_t interest[2] = {0, 0};
  bool young = true;
  bool failed = false;
  // Flights: runs of bytes from one side between bytes from the other.
  int last_side = -1;       // the side of the latest bytes read
  int backend_flights = 0;  // flights gRPC sent towards the device
  // gRPC sent application data after its first flight: the TLS handshake
  // is over. Its first flight (ServerHello, or a HelloRetryRequest) begins
  // with a handshake record (0x16) and a TLS 1.2 CCS+Finished flight with a
  // change_cipher_spec record (0x14) instead.
  bool handshake_done = false;
  bool done() const { return failed || (pipe[0].shut && pipe[1].shut); }
};

// Bytes from side `d`, beginning with `first`, follow bytes from the other.
void NewFlight(Relay& r, int d, char first) {
  r.last_side = d;
  if (d != 1 || r.handshake_done) return;
  if (r.backend_flights++ > 0 &&
      static_cast<unsigned char>(first) == kTlsApplicationData) {
    r.handshake_done = true;
  }
}

// Sends what `dst` takes of `data` now: the bytes written, 0 if it would
// block; -1 (and r.failed) on an error.
ssize_t SendSome(Relay& r, int dst, const char* data, size_t size) {
  for (;;) {
    const ssize_t w = ::send(dst, data, size, MSG_NOSIGNAL);
    if (w >= 0) return w;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    r.failed = true;
    return -1;
  }
}

// Moves bytes from r.fd[d] to r.fd[1 - d] until either would block, reading
// through `scratch` (kRelayBufferBytes, shared by all relays). A side is
// read only while nothing it sent is held, so each pipe holds at most one
// buffer.
void Transfer(Relay& r, int d, char* scratch) {
  Pipe& p = r.pipe[d];
  const int src = r.fd[d], dst = r.fd[1 - d];
  while (!r.failed) {
    if (!p.empty()) {
      const ssize_t w =
          SendSome(r, dst, p.held.get() + p.begin, p.end - p.begin);
      if (w <= 0) return;
      p.begin += static_cast<size_t>(w);
      if (p.empty()) {
        p.held.reset();
        p.begin = p.end = 0;
      }
      continue;
    }
    if (p.src_eof) {
      if (!p.shut) ::shutdown(dst, SHUT_WR);
      p.shut = true;
      return;
    }
    const ssize_t n = ::read(src, scratch, FrontDoor::kRelayBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.failed = errno != EAGAIN;
      return;
    }
    if (n == 0) {
      p.src_eof = true;
      continue;
    }
    if (r.last_side != d) NewFlight(r, d, scratch[0]);
    const ssize_t w = SendSome(r, dst, scratch, static_cast<size_t>(n));
    if (w < 0) return;
    if (w < n) {
      p.held = std::make_unique_for_overwrite<char[]>(static_cast<size_t>(n - w));
      std::memcpy(p.held.get(), scratch + w, static_cast<size_t>(n - w));
      p.end = static_cast<size_t>(n - w);
    }
  }
}

}  // namespace

// The epoll loop; runs on FrontDoor's thread only, apart from Wake().
class FrontDoor::Loop {
 public:
  Loop(int listen_fd, const std::string& backend_path,
       const FrontDoorOptions& options, Counters* counters)
      : listen_fd_(listen_fd),
        backend_path_(backend_path),
        options_(options),
        counters_(*counters),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        reserve_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
    CHECK_GE(epoll_fd_, 0) << "epoll_create1";
    CHECK_GE(wake_fd_, 0) << "eventfd";
    Watch(listen_fd_, kListenTag, EPOLLIN, EPOLL_CTL_ADD);
    Watch(wake_fd_, kWakeTag, EPOLLIN, EPOLL_CTL_ADD);
  }

  ~Loop() {
    for (auto& [id, relay] : relays_) CloseFds(*relay);
    ::close(epoll_fd_);
    ::close(wake_fd_);
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }

  void Wake() {
    stopping_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }

  void Run() {
    epoll_event events[64];
    while (!stopping_.load()) {
      int n = ::epoll_wait(epoll_fd_, events, 64, NextTimeoutMs());
      for (int i = 0; i < n && !stopping_.load(); ++i) {
        Dispatch(events[i].data.u64, events[i].events);
      }
      ExpireYoung(std::chrono::steady_clock::now());
    }
  }

 private:
  void Watch(int fd, uint64_t tag, uint32_t events, int op) {
    epoll_event ev = {};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll_fd_, op, fd, &ev);
  }

  void Dispatch(uint64_t tag, uint32_t events) {
    if (tag == kListenTag) return AcceptPending();
    if (tag == kWakeTag) return;
    auto it = relays_.find(tag >> 1);
    if (it == relays_.end()) return;
    Relay& r = *it->second;
    Transfer(r, 0, scratch_.get());
    Transfer(r, 1, scratch_.get());
    // A hang-up or error on either socket ends the relay: nothing more can
    // cross it, and level-triggered epoll would report it again forever.
    if ((events & (EPOLLHUP | EPOLLERR)) || r.done()) return Close(it);
    if (r.young && r.handshake_done) {
      r.young = false;
      counters_.unauthenticated--;
    }
    UpdateInterest(tag >> 1, r);
  }

  void AcceptPending() {
    for (;;) {
      sockaddr_storage device = {};
      socklen_t len = sizeof(device);
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&device),
                         &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        Admit(fd, device);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        ShedOne(errno);
      } else if (errno != EAGAIN) {
        LOG(WARNING) << "accept4: " << std::strerror(errno);
      }
      return;
    }
  }

  // Out of descriptors: drop the reserve to accept one pending connection
  // and close it, so the backlog drains instead of filling for good.
  void ShedOne(int err) {
    counters_.shed_on_descriptor_exhaustion++;
    LogRefusal(absl::StrCat("out of descriptors (", std::strerror(err), ")"));
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // `device` is where the connection came from; gRPC sees it as the
  // relay's peer (RelayedPeerName).
  void Admit(int fd, const sockaddr_storage& device) {
    counters_.accepted++;
    const bool full =
        counters_.open.load() >= options_.max_connections ||
        counters_.unauthenticated.load() >= options_.max_unauthenticated;
    const uint64_t id = next_id_++;
    int backend =
        full ? -1 : ConnectBackend(backend_path_, RelayedPeerName(id, device));
    if (backend < 0) {
      counters_.refused++;  // before the close, which the peer can observe
      ::close(fd);
      LogRefusal(full ? "connection limit reached"
                      : "gRPC backend unreachable");
      return;
    }
    // gRPC sets TCP_NODELAY on the sockets it owns; this one is the door's.
    // Without it, Nagle's algorithm holds a small message (a SecAgg phase,
    // a stream's trailers) until the device acknowledges the one before,
    // which a delayed ACK can put off by 40 ms.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto relay = std::make_unique<Relay>();
    relay->fd[0] = fd;
    relay->fd[1] = backend;
    for (int side = 0; side < 2; ++side) {
      relay->interest[side] = EPOLLIN;
      Watch(relay->fd[side], (id << 1) | side, EPOLLIN, EPOLL_CTL_ADD);
    }
    relays_.emplace(id, std::move(relay));
    young_.push_back({std::chrono::steady_clock::now(), id});
    counters_.open++;
    counters_.unauthenticated++;
  }

  void UpdateInterest(uint64_t id, Relay& r) {
    for (int side = 0; side < 2; ++side) {
      uint32_t want = 0;
      if (r.pipe[side].empty() && !r.pipe[side].src_eof) want |= EPOLLIN;
      if (!r.pipe[1 - side].empty()) want |= EPOLLOUT;
      if (want == r.interest[side]) continue;
      r.interest[side] = want;
      Watch(r.fd[side], (id << 1) | side, want, EPOLL_CTL_MOD);
    }
  }

  void Close(
      std::unordered_map<uint64_t, std::unique_ptr<Relay>>::iterator it) {
    if (it->second->young) counters_.unauthenticated--;
    counters_.open--;
    CloseFds(*it->second);
    relays_.erase(it);
  }

  static void CloseFds(Relay& r) {
    for (int fd : r.fd) ::close(fd);  // closing also removes it from epoll
  }

  void ExpireYoung(SteadyTime now) {
    const auto age = absl::ToChronoMilliseconds(options_.handshake_timeout);
    while (!young_.empty() && young_.front().first + age <= now) {
      auto it = relays_.find(young_.front().second);
      if (it != relays_.end() && it->second->young) {
        it->second->young = false;
        counters_.unauthenticated--;
      }
      young_.pop_front();
    }
  }

  int NextTimeoutMs() const {
    if (young_.empty()) return 1000;
    const auto due = young_.front().first +
                     absl::ToChronoMilliseconds(options_.handshake_timeout);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        due - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 1000));
  }

  // One warning per 10 s, so a flood cannot flood the log as well.
  void LogRefusal(const std::string& why) {
    const SteadyTime now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ < std::chrono::seconds(10)) return;
    last_refusal_log_ = now;
    LOG(WARNING) << "refusing connections: " << why << "; open "
                 << counters_.open.load() << "/" << options_.max_connections
                 << ", unauthenticated " << counters_.unauthenticated.load()
                 << "/" << options_.max_unauthenticated << ", refused so far "
                 << counters_.refused.load() << ", shed "
                 << counters_.shed_on_descriptor_exhaustion.load();
  }

  const int listen_fd_;
  const std::string backend_path_;
  const FrontDoorOptions options_;
  Counters& counters_;
  const int epoll_fd_;
  const int wake_fd_;
  int reserve_fd_;
  std::atomic<bool> stopping_{false};
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Relay>> relays_;
  const std::unique_ptr<char[]> scratch_ =
      std::make_unique<char[]>(FrontDoor::kRelayBufferBytes);
  std::deque<std::pair<SteadyTime, uint64_t>> young_;  // by accept time
  SteadyTime last_refusal_log_{};
};

absl::StatusOr<std::unique_ptr<FrontDoor>> FrontDoor::Listen(
    const std::string& listen_address, std::string backend_path,
    FrontDoorOptions options) {
  sockaddr_un probe;
  if (backend_path.size() >= sizeof(probe.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unix socket path too long: ", backend_path));
  }
  auto fd = base::BindListener(listen_address);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<FrontDoor>(new FrontDoor(
      *fd, base::BoundPort(*fd), std::move(backend_path), options));
}

FrontDoor::FrontDoor(int listen_fd, int port, std::string backend_path,
                     FrontDoorOptions options)
    : listen_fd_(listen_fd),
      port_(port),
      backend_path_(std::move(backend_path)),
      options_(options) {}

FrontDoor::~FrontDoor() {
  Stop();
  ::close(listen_fd_);
}

void FrontDoor::Start() {
  CHECK(loop_ == nullptr) << "FrontDoor::Start called twice";
  loop_ =
      std::make_unique<Loop>(listen_fd_, backend_path_, options_, &counters_);
  thread_ = std::thread([this] { loop_->Run(); });
}

void FrontDoor::Stop() {
  if (loop_ == nullptr) return;
  loop_->Wake();
  if (thread_.joinable()) thread_.join();
  loop_.reset();
}

}  // namespace cohort::server
