#include "tests/server_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "common/float_bytes.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

extern char** environ;

namespace lrmem::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") +
                        "/lrmem-server-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  const char* made = mkdtemp(buffer.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

LrmemServer::Options TestServerOptions(const std::string& data_dir) {
  LrmemServer::Options options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir;
  options.shutdown_grace_period = absl::Seconds(2);
  return options;
}

std::unique_ptr<v1::LearningRateMemory::Stub> Connect(int port) {
  return v1::LearningRateMemory::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
}

std::string HealthStatus(int port) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) return "error " + std::to_string(status.error_code());
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  // HealthCheckResponse: field 1 (varint) is the status, 1 = SERVING.
  if (bytes.size() == 2 && bytes[0] == 0x08 && bytes[1] == 1) {
    return "SERVING";
  }
  if (bytes.size() == 2 && bytes[0] == 0x08 && bytes[1] == 2) {
    return "NOT_SERVING";
  }
  return "unexpected answer";
}

ServerProcess::ServerProcess(const std::string& data_dir,
                             const std::vector<std::string>& flags) {
  log_path_ = data_dir + ".log";
  std::vector<std::string> args = {LRMEM_SERVER_BINARY, "--listen=127.0.0.1:0",
                                   "--data_dir=" + data_dir};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int error =
      posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << strerror(error);
    pid_ = -1;
    return;
  }

  // The server logs the port it bound once it is serving; the log is
  // appended to across restarts, so take the last such line.
  const std::regex listening(R"(listening on \S+ \(port (\d+)\))");
  for (int attempt = 0; attempt < 400 && port_ == 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string log = Log();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), listening);
         it != std::sregex_iterator(); ++it) {
      port_ = std::stoi((*it)[1]);
    }
    if (port_ != 0 && waitpid(pid_, nullptr, WNOHANG) != 0) port_ = 0;
  }
  if (port_ == 0) ADD_FAILURE() << "lrmem-server did not start:\n" << Log();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) SignalAndWait(SIGKILL);
  std::remove(log_path_.c_str());
}

int ServerProcess::SignalAndWait(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

v1::TrainRequest OpenRequest(
    const std::string& memory, const std::string& learner,
    const std::vector<std::pair<std::string, uint64_t>>& groups,
    v1::SessionMode mode, bool create_if_missing,
    const v1::MemoryConfig& config) {
  v1::TrainRequest request;
  v1::OpenSession* open = request.mutable_open();
  open->set_memory(memory);
  open->set_learner_id(learner);
  for (const auto& [name, size] : groups) {
    v1::GroupSpec* spec = open->add_groups();
    spec->set_name(name);
    spec->set_size(size);
  }
  open->set_mode(mode);
  open->set_create_if_missing(create_if_missing);
  *open->mutable_config() = config;
  return request;
}

v1::TrainRequest StepRequest(
    uint64_t sequence, v1::SessionMode mode,
    const std::vector<std::pair<std::string, std::vector<float>>>& groups) {
  v1::TrainRequest request;
  v1::Step* step = request.mutable_step();
  step->set_sequence(sequence);
  for (const auto& [name, floats] : groups) {
    v1::GroupStep* group = step->add_groups();
    group->set_group(name);
    if (mode == v1::SESSION_MODE_RATES) {
      PackFloats(floats, group->mutable_gradient_signal());
    } else {
      PackFloats(floats, group->mutable_statistic());
    }
  }
  return request;
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> floats;
  EXPECT_TRUE(UnpackFloats(bytes, "answer", &floats).ok());
  return floats;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TrainStream::TrainStream(v1::LearningRateMemory::Stub* stub)
    : stream_(stub->Train(&context_)) {}

TrainStream::~TrainStream() {
  if (!finished_) {
    context_.TryCancel();
    stream_->Finish();
  }
}

bool TrainStream::Exchange(const v1::TrainRequest& request,
                           v1::TrainResponse* response) {
  if (!stream_->Write(request)) return false;
  return stream_->Read(response);
}

v1::SessionOpened TrainStream::Open(const v1::TrainRequest& open) {
  v1::TrainResponse response;
  const bool answered = Exchange(open, &response);
  EXPECT_TRUE(answered && response.has_opened())
      << (answered ? response.DebugString() : Finish().error_message());
  return response.opened();
}

v1::StepResult TrainStream::Step(const v1::TrainRequest& step) {
  v1::TrainResponse response;
  const bool answered = Exchange(step, &response);
  EXPECT_TRUE(answered && response.has_step())
      << (answered ? response.DebugString() : Finish().error_message());
  return response.step();
}

grpc::Status TrainStream::Finish() {
  if (finished_) return grpc::Status(grpc::StatusCode::INTERNAL, "finished");
  finished_ = true;
  stream_->WritesDone();
  v1::TrainResponse ignored;
  while (stream_->Read(&ignored)) {
  }
  return stream_->Finish();
}

grpc::Status TrainStream::AwaitEnd() {
  finished_ = true;
  v1::TrainResponse ignored;
  while (stream_->Read(&ignored)) {
  }
  return stream_->Finish();
}

}  // namespace lrmem::testing
