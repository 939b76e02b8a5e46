#include "tests/deploy_subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/deploy_files.h"

namespace lrmem::deploy {
namespace {

using Clock = std::chrono::steady_clock;

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// In the child after fork: sends stdout and stderr to `output_fd` and
// replaces the process with argv. Never returns.
[[noreturn]] void ExecInChild(const std::vector<std::string>& argv,
                              int output_fd) {
  dup2(output_fd, STDOUT_FILENO);
  dup2(output_fd, STDERR_FILENO);
  std::vector<char*> c_argv;
  for (const std::string& word : argv) {
    c_argv.push_back(const_cast<char*>(word.c_str()));
  }
  c_argv.push_back(nullptr);
  execvp(c_argv[0], c_argv.data());
  dprintf(STDERR_FILENO, "cannot run %s: %s\n", c_argv[0], strerror(errno));
  _exit(127);
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         int timeout_seconds) {
  CommandResult result;
  if (argv.empty()) {
    result.output = "empty command";
    return result;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    result.output = std::string("pipe: ") + strerror(errno);
    return result;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    ExecInChild(argv, pipe_fds[1]);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    result.output = std::string("fork: ") + strerror(errno);
    return result;
  }

  // Read until the child closes its end or time runs out.
  const Clock::time_point deadline =
      Clock::now() + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd poll_fd{pipe_fds[0], POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);

  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = timed_out ? -1 : ExitCodeOf(status);
  if (timed_out) result.output += "\n[timed out]";
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::string& log_path)
    : log_path_(log_path) {
  if (argv.empty()) return;
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return;
  pid_ = fork();
  if (pid_ == 0) ExecInChild(argv, log_fd);
  close(log_fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> ChildProcess::WaitForExit(int timeout_ms) {
  if (pid_ <= 0) return std::nullopt;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!exit_code_.has_value()) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = ExitCodeOf(status);
    } else if (Clock::now() >= deadline) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return exit_code_;
}

std::string ChildProcess::Log() const {
  return ReadFile(log_path_).value_or("");
}

int FreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace lrmem::deploy
