// -----------------------------------------------------------------------------
// File: client.h
// -----------------------------------------------------------------------------
//
// `lrmem::Client` is the admin side of the lrmem C++ client library: it
// creates, inspects, copies and deletes the learning-rate memories that an
// lrmem server hosts, takes and restores their snapshots, and exports and
// imports them as portable files. Training itself goes through a
// `lrmem::LearnerSession` (learner_session.h) opened on the same client.
//
// Every call is one RPC with the client's deadline. Failures come back as an
// `absl::Status` carrying the server's code and message unchanged, so that
// callers can branch on the standard codes:
//
//   INVALID_ARGUMENT   a name, a config or an imported file is not valid;
//   NOT_FOUND          the memory or snapshot does not exist;
//   ALREADY_EXISTS     the target name is taken (and overwrite was not asked);
//   RESOURCE_EXHAUSTED the server's limits were reached;
//   UNAVAILABLE        the server cannot be reached;
//   DEADLINE_EXCEEDED  the call took longer than `ClientOptions::deadline`.
//
// Example:
//
//   lrmem::Client client("localhost:50051");
//   lrmem::MemoryConfig config;
//   config.initial_learning_rate = 0.05f;
//   absl::StatusOr<lrmem::v1::MemoryInfo> info =
//       client.CreateMemory("mnist/1v2", config);
//   if (absl::IsAlreadyExists(info.status())) { /* reuse it */ }
//   ...
//   absl::StatusOr<lrmem::v1::SnapshotInfo> snapshot =
//       client.CreateSnapshot("mnist/1v2", "after-task-1");
//
// Thread-safety: a Client is thread-safe; calls from several threads run
// concurrently over the same channel.

#ifndef LRMEM_CLIENT_H_
#define LRMEM_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/memory_config.h"
#include "grpcpp/channel.h"
#include "lrmem/v1/service.grpc.pb.h"

namespace lrmem {

struct ClientOptions {
  // Deadline of every admin call. (Training streams live as long as their
  // session and have none; connect_timeout bounds their connection.)
  absl::Duration deadline = absl::Seconds(30);

  // How long to wait for the server to accept a connection before a call or
  // a session reports UNAVAILABLE. Also bounds the reconnection of a
  // training session whose stream broke.
  absl::Duration connect_timeout = absl::Seconds(10);

  // Largest message the client sends or receives (a step of a large model
  // in rates mode, an exported file). Used only by the address constructor.
  int max_message_bytes = 64 << 20;
};

// What RestoreSnapshot does besides copying the snapshot into `memory`.
struct RestoreOptions {
  // Replace the target memory when it exists; otherwise ALREADY_EXISTS.
  bool overwrite = false;
  // Keep only the learned values: clear the memory's own optimizer, its
  // step count and the learners' sequence numbers. This is how a memory
  // learned on one task is reused on the next.
  bool reset_optimizer = false;
};

class Client {
 public:
  // Connects lazily to `address` ("host:port") over an insecure channel:
  // construction never fails, the first call reports an unreachable server.
  explicit Client(const std::string& address, ClientOptions options = {});

  // Uses an existing channel (credentials, interceptors, in-process
  // channels). `channel` must not be null.
  explicit Client(std::shared_ptr<grpc::Channel> channel,
                  ClientOptions options = {});

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- Memories -------------------------------------------------------------

  // Creates an empty memory: every value at config.initial_learning_rate.
  // INVALID_ARGUMENT for a bad name or config; ALREADY_EXISTS when taken.
  absl::StatusOr<v1::MemoryInfo> CreateMemory(absl::string_view name,
                                              const MemoryConfig& config);

  // Describes a memory; with `include_values`, also every group's learned
  // values. NOT_FOUND when there is no such memory.
  absl::StatusOr<v1::MemoryInfo> GetMemory(absl::string_view name,
                                           bool include_values = false);

  // Every memory, in name order (all pages fetched).
  absl::StatusOr<std::vector<v1::MemoryInfo>> ListMemories();

  // Deletes a memory; open training sessions on it end at their next step.
  // Its snapshots stay. NOT_FOUND when there is no such memory.
  absl::Status DeleteMemory(absl::string_view name);

  // Copies a memory's full state under a new name. NOT_FOUND for the
  // source, ALREADY_EXISTS for the destination.
  absl::StatusOr<v1::MemoryInfo> CopyMemory(absl::string_view source,
                                            absl::string_view destination);

  // ---- Snapshots ------------------------------------------------------------

  // Records the memory's current state as `snapshot`. NOT_FOUND for the
  // memory, ALREADY_EXISTS when the snapshot name is taken.
  absl::StatusOr<v1::SnapshotInfo> CreateSnapshot(absl::string_view memory,
                                                  absl::string_view snapshot);

  // Snapshots taken from `memory`, or all of them when it is empty.
  absl::StatusOr<std::vector<v1::SnapshotInfo>> ListSnapshots(
      absl::string_view memory = "");

  // NOT_FOUND when there is no such snapshot.
  absl::Status DeleteSnapshot(absl::string_view snapshot);

  // Makes `memory` hold the snapshot's state. NOT_FOUND for the snapshot;
  // ALREADY_EXISTS when `memory` exists and options.overwrite is false.
  absl::StatusOr<v1::MemoryInfo> RestoreSnapshot(absl::string_view snapshot,
                                                 absl::string_view memory,
                                                 RestoreOptions options = {});

  // ---- Files ----------------------------------------------------------------

  // A memory's or a snapshot's state as a portable, checksummed file (the
  // bytes `lrmemctl export` writes). NOT_FOUND when it does not exist.
  absl::StatusOr<std::string> ExportMemory(absl::string_view memory);
  absl::StatusOr<std::string> ExportSnapshot(absl::string_view snapshot);

  // Hosts an exported file as `memory`. INVALID_ARGUMENT for a damaged or
  // foreign file; ALREADY_EXISTS when `memory` exists and !overwrite.
  absl::StatusOr<v1::MemoryInfo> Import(const std::string& file,
                                        absl::string_view memory,
                                        bool overwrite = false);

  // ---- Plumbing -------------------------------------------------------------

  const ClientOptions& options() const { return options_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  v1::LearningRateMemory::Stub& stub() const { return *stub_; }

  // Waits until the channel is connected, at most options().connect_timeout.
  // UNAVAILABLE naming the target otherwise.
  absl::Status WaitForConnection() const;

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LearningRateMemory::Stub> stub_;
};

}  // namespace lrmem

#endif  // LRMEM_CLIENT_H_
