// A bounded loopback flood of raw TCP connections against a real
// cohort-server whose descriptor limit is small: the server must keep
// serving the devices it has, admit new ones once the flood's handshakes
// time out, and accept connections again after the flood.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

using FloodTest = ClusterTest;

// Opens `count` plain TCP connections to 127.0.0.1:port from a child
// process (the attacker is another process) and holds them, sending
// nothing, as clients that never start their TLS handshake. The destructor
// ends the child, which closes them all.
class Flood {
 public:
  Flood(int port, int count) {
    int ready[2], release[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(release), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release[1]);
      char opened = static_cast<char>(Open(port, count) == count);
      [[maybe_unused]] ssize_t w = ::write(ready[1], &opened, 1);
      char c;
      [[maybe_unused]] ssize_t r = ::read(release[0], &c, 1);  // until EOF
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release[0]);
    release_fd_ = release[1];
    char opened = 0;
    ok_ = ::read(ready[0], &opened, 1) == 1 && opened == 1;
    ::close(ready[0]);
  }
  ~Flood() {
    ::close(release_fd_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  bool ok() const { return ok_; }

 private:
  static int Open(int port, int count) {
    rlimit limit;
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int opened = 0;
    for (; opened < count; ++opened) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd < 0) break;
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    }
    return opened;
  }

  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool ok_ = false;
};

TEST_F(FloodTest, RawConnectionFloodNeitherWedgesNorStarvesDevices) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.goal = 50;
  o.max_rounds = 0;
  // 512 descriptors: without bounds, the flood below exhausts them and a
  // gRPC listener never accepts again.
  o.launcher = {"/usr/bin/prlimit", "--nofile=512:512"};
  o.limits = "max_connections: 100 max_unauthenticated_connections: 20 "
             "handshake_timeout_ms: 1500";
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();

  // A new device (a fresh channel each attempt, as a restarted agent) whose
  // check-in is answered within `window`.
  auto new_device_answered = [&](const std::string& id, absl::Duration window) {
    const absl::Time end = absl::Now() + window;
    while (absl::Now() < end) {
      if (CheckInAnswered(*TlsStub(port), id, absl::Seconds(2))) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  };
  auto before = TlsStub(port);
  ASSERT_TRUE(CheckInAnswered(*before, "before", absl::Seconds(10)))
      << server->Log();
  {
    Flood flood(port, 1500);
    ASSERT_TRUE(flood.ok());
    absl::SleepFor(absl::Milliseconds(500));
    // A device connected before the flood keeps being served during it.
    EXPECT_TRUE(CheckInAnswered(*before, "before-again", absl::Seconds(5)))
        << server->Log();
    // A new device gets in once the flood's idle connections time out.
    EXPECT_TRUE(new_device_answered("during", absl::Seconds(15)))
        << server->Log();
  }
  // After the flood the server accepts new connections again.
  EXPECT_TRUE(new_device_answered("after", absl::Seconds(15))) << server->Log();
  EXPECT_TRUE(server->running());
  EXPECT_NE(server->Log().find("refusing connections"), std::string::npos)
      << server->Log();
}

}  // namespace
}  // namespace cohort::testing
