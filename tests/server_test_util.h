// Helpers for the server tests: a server on a free localhost port over a
// RocksDB in a fresh temporary directory (in process, or the real
// lrmem-server binary as a child process), and a synchronous client for
// the training stream.

#ifndef LRMEM_TESTS_SERVER_TEST_UTIL_H_
#define LRMEM_TESTS_SERVER_TEST_UTIL_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "lrmem/v1/service.grpc.pb.h"
#include "server/server.h"

namespace lrmem::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Options for a test server: port 0, small limits where a test needs them.
LrmemServer::Options TestServerOptions(const std::string& data_dir);

std::unique_ptr<v1::LearningRateMemory::Stub> Connect(int port);

// grpc.health.v1 status of the whole server: "SERVING", "NOT_SERVING", or
// the failed call's code name.
std::string HealthStatus(int port);

// The real lrmem-server binary, started with `flags` plus --listen on a
// free port and --data_dir.
class ServerProcess {
 public:
  ServerProcess(const std::string& data_dir,
                const std::vector<std::string>& flags = {});
  // Kills the process (SIGKILL) if still running.
  ~ServerProcess();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the exit; returns the exit status as
  // waitpid reports it.
  int SignalAndWait(int signal);
  // What the server wrote on stderr so far.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// Request builders.
v1::TrainRequest OpenRequest(
    const std::string& memory, const std::string& learner,
    const std::vector<std::pair<std::string, uint64_t>>& groups,
    v1::SessionMode mode, bool create_if_missing = false,
    const v1::MemoryConfig& config = {});
// One step; in rates mode the arrays are gradient signals, in statistics
// mode statistics.
v1::TrainRequest StepRequest(
    uint64_t sequence, v1::SessionMode mode,
    const std::vector<std::pair<std::string, std::vector<float>>>& groups);

std::vector<float> Floats(const std::string& bytes);
// Bitwise equality of float arrays.
bool BitEqual(const std::vector<float>& a, const std::vector<float>& b);

// A synchronous Train stream.
class TrainStream {
 public:
  explicit TrainStream(v1::LearningRateMemory::Stub* stub);
  ~TrainStream();

  // Sends `request` and reads one answer; false when the stream ended
  // (see Finish for its status).
  bool Exchange(const v1::TrainRequest& request, v1::TrainResponse* response);
  // Opens the session; the test fails if it does not open.
  v1::SessionOpened Open(const v1::TrainRequest& open);
  // One step that must be answered (it may carry a step error).
  v1::StepResult Step(const v1::TrainRequest& step);
  // Closes the sending side and returns the stream's status.
  grpc::Status Finish();
  // Waits until the server ends the stream; returns its status.
  grpc::Status AwaitEnd();

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TrainRequest, v1::TrainResponse>>
      stream_;
  bool finished_ = false;
};

}  // namespace lrmem::testing

#endif  // LRMEM_TESTS_SERVER_TEST_UTIL_H_
