// -----------------------------------------------------------------------------
// File: learner_session.h
// -----------------------------------------------------------------------------
//
// A `lrmem::LearnerSession` is one learner's training stream on a memory:
// at every step the learner hands over the gradient signal of each of its
// parameter groups and gets back one learning rate per parameter. The
// memory on the server learns from the signals as training goes on.
//
// Two modes give the same rates, bit for bit, for the same signals:
//
//   - kRates: the signals travel to the server (D floats per group of D
//     parameters) and the rates come back. Simple, heavy traffic.
//   - kStatistics: the session keeps the learner's previous signal, forms
//     the memory's learning statistic locally, sends only that (M floats per
//     group, M the number of local models), receives the group's updated
//     values and predicts the rates locally. Traffic independent of D.
//
// Steps are numbered internally. When the stream breaks (the server
// restarted, the connection dropped), Step reopens it, trying for up to
// ClientOptions::connect_timeout, and resends the same step once under the
// same number; the server recognises a step it already applied and answers
// it again without applying it twice.
//
// Example:
//
//   lrmem::Client client("localhost:50051");
//   lrmem::SessionOptions options;
//   options.memory = "mnist/1v2";
//   options.learner_id = "job-17";
//   options.groups = {{"conv1", 250}, {"fc", 1210}};
//   absl::StatusOr<std::unique_ptr<lrmem::LearnerSession>> session =
//       lrmem::LearnerSession::Open(&client, options);
//   if (!session.ok()) return session.status();
//
//   std::vector<std::vector<float>> rates;
//   absl::Status status = (*session)->Step(
//       {{"conv1", conv1_gradient}, {"fc", fc_gradient}}, &rates);
//   // rates[0] has 250 rates for conv1, rates[1] 1210 for fc.
//
// Thread-safety: a session is not thread-safe; use it from one thread at a
// time. Sessions are independent of each other, also on the same Client.

#ifndef LRMEM_LEARNER_SESSION_H_
#define LRMEM_LEARNER_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/local_models.h"
#include "common/memory_config.h"
#include "common/signal_history.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "lrmem/client.h"
#include "lrmem/v1/service.pb.h"

namespace lrmem {

enum class SessionMode {
  kRates,       // send gradient signals, receive learning rates
  kStatistics,  // send learning statistics, receive values, predict locally
};

// A parameter group as declared when the session opens: a name unique in
// the session, and its number of parameters.
struct GroupDeclaration {
  std::string name;
  uint64_t size = 0;
};

struct SessionOptions {
  // The memory to train with. Required.
  std::string memory;

  // Identifies the learner across reconnects and restarts: a step resent
  // under the same learner id and number is not applied twice. Two jobs
  // sharing a memory must use different ids.
  std::string learner_id = "learner";

  // The learner's parameter groups; each group learns its own
  // learning-rate curve in the memory.
  std::vector<GroupDeclaration> groups;

  SessionMode mode = SessionMode::kStatistics;

  // Create the memory with `config` when it does not exist; otherwise a
  // missing memory is NOT_FOUND. An existing memory keeps its own config.
  bool create_if_missing = false;
  MemoryConfig config;
};

// One group's part of a step.
struct GroupSignal {
  // A declared group's name.
  absl::string_view group;
  // The group's gradient signal: as many floats as the group declared.
  absl::Span<const float> signal;
};

class LearnerSession {
 public:
  // Opens the stream and the session on it. `client` must outlive the
  // session. Errors:
  //   INVALID_ARGUMENT  bad names, duplicate groups, bad config;
  //   NOT_FOUND         no such memory and !create_if_missing;
  //   UNAVAILABLE       the server cannot be reached;
  //   FAILED_PRECONDITION the client cannot reproduce the memory's local
  //                     models (statistics mode only; a version mismatch).
  static absl::StatusOr<std::unique_ptr<LearnerSession>> Open(
      Client* client, SessionOptions options);

  // Ends the stream.
  ~LearnerSession();

  LearnerSession(const LearnerSession&) = delete;
  LearnerSession& operator=(const LearnerSession&) = delete;

  // One training step: the signals of some or all declared groups, each
  // group at most once. On success `rates` holds one vector per entry of
  // `signals`, in the same order, each with one rate per parameter.
  //
  // Errors, after which the session stays usable:
  //   INVALID_ARGUMENT  refused locally, nothing sent: an undeclared or
  //                     repeated group, a wrong size, or a non-finite
  //                     signal (the message names group and index);
  //   any code          the server rejected the step (its message kept);
  //                     nothing of the step was applied.
  // Errors that end the session (later steps fail too):
  //   UNAVAILABLE       the stream broke and reconnecting failed;
  //   NOT_FOUND         the memory was deleted.
  absl::Status Step(absl::Span<const GroupSignal> signals,
                    std::vector<std::vector<float>>* rates);

  const SessionOptions& options() const { return options_; }
  // The memory's config, as the server reported it when the session opened.
  const MemoryConfig& config() const { return models_->config(); }
  // The memory's step count after the last successful step.
  uint64_t memory_steps() const { return memory_steps_; }
  // The sequence number the next step will carry.
  uint64_t next_sequence() const { return next_sequence_; }
  // Times the stream was reopened after breaking.
  int reconnects() const { return reconnects_; }

 private:
  using Stream = grpc::ClientReaderWriter<v1::TrainRequest, v1::TrainResponse>;

  LearnerSession(Client* client, SessionOptions options);

  absl::Status Connect();
  absl::Status Reconnect();
  absl::Status CheckLocalModels(const v1::SessionOpened& opened);
  absl::Status CheckSignals(absl::Span<const GroupSignal> signals) const;
  void BuildStep(absl::Span<const GroupSignal> signals, v1::Step* step);
  absl::StatusOr<v1::StepResult> Exchange(const v1::TrainRequest& request);
  absl::StatusOr<v1::StepResult> ExchangeOnce(const v1::TrainRequest& request);
  absl::Status ReadRates(absl::Span<const GroupSignal> signals,
                         const v1::StepResult& result,
                         std::vector<std::vector<float>>* rates);
  absl::Status CloseStream();

  Client* const client_;
  const SessionOptions options_;
  // Index in options_.groups, by group name.
  absl::flat_hash_map<std::string, size_t> group_index_;
  std::shared_ptr<const LocalModels> models_;
  // Statistics mode: the previous signal of every declared group.
  std::vector<SignalHistory> histories_;

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  // A status that ended the session, returned by every later step.
  absl::Status broken_;

  uint64_t next_sequence_ = 1;
  uint64_t memory_steps_ = 0;
  int reconnects_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_LEARNER_SESSION_H_
