// Running the real binaries from a test: a command to completion with its
// output captured, or a long-running child (the server) that the test
// signals and waits for. POSIX only.

#ifndef LRMEM_TESTS_DEPLOY_SUBPROCESS_H_
#define LRMEM_TESTS_DEPLOY_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace lrmem::deploy {

struct CommandResult {
  // The exit code, 128 + N when killed by signal N, -1 when it could not
  // start or ran out of time (then `output` says which).
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH unless it has a slash) with the rest as
// its arguments and waits for it, killing it after `timeout_seconds`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         int timeout_seconds = 60);

// A child process whose stdout and stderr go to a file. The destructor
// kills it (SIGKILL) if it is still running. Not thread-safe.
class ChildProcess {
 public:
  // Starts `argv`; `started()` says whether fork and exec worked.
  ChildProcess(const std::vector<std::string>& argv,
               const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  void Signal(int signal);
  // The exit code as RunCommand reports it, or nullopt if the child is
  // still running after `timeout_ms`.
  std::optional<int> WaitForExit(int timeout_ms);
  // Everything the child has written so far.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (another process may
// still take it before the caller binds it).
int FreeLocalPort();

}  // namespace lrmem::deploy

#endif  // LRMEM_TESTS_DEPLOY_SUBPROCESS_H_
