#include "sim/output/process_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"

extern char** environ;

namespace cohort::sim {
namespace {

absl::Status ErrnoError(absl::string_view what, int err) {
  return base::ErrnoError(what, "", err);
}

// Owns the spawn attributes so every return path releases them.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Reads `fd` to EOF, keeping only the last `keep` bytes so a chatty child
// cannot make us buffer without bound.
void DrainKeepingTail(int fd, size_t keep, std::string* tail) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    tail->append(buf, static_cast<size_t>(n));
    if (tail->size() > 2 * keep) tail->erase(0, tail->size() - keep);
  }
  if (tail->size() > keep) tail->erase(0, tail->size() - keep);
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::string& cwd,
                                         size_t stderr_tail_bytes) {
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");
  // A failed chdir in the child also reports ENOENT, which would read as a
  // missing binary; rule it out first.
  struct stat st;
  if (!cwd.empty() && (::stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
    return absl::FailedPreconditionError(
        absl::StrCat("working directory ", cwd, " is not a directory"));
  }
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int pipe_fds[2];
  // O_CLOEXEC on both ends: only the dup2'd copy survives into the child, so
  // the read below sees EOF as soon as the child exits.
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  FileActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), pipe_fds[1], STDERR_FILENO);
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(actions.get(), cwd.c_str());
  }
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(),
                          environ);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    if (rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR ||
        rc == EPERM) {
      return absl::UnavailableError(
          absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
    }
    return ErrnoError(absl::StrCat("posix_spawn ", argv[0]), rc);
  }

  ProcessResult result;
  DrainKeepingTail(pipe_fds[0], stderr_tail_bytes, &result.stderr_tail);
  ::close(pipe_fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid", errno);
  }
  if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) result.term_signal = WTERMSIG(wstatus);
  return result;
}

}  // namespace cohort::sim
