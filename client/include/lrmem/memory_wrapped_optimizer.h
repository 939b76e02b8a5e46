// -----------------------------------------------------------------------------
// File: memory_wrapped_optimizer.h
// -----------------------------------------------------------------------------
//
// `lrmem::MemoryWrappedOptimizer` is a base optimizer (SGD or Adam) whose
// learning rates come from a learning-rate memory, one rate per parameter,
// for parameters held as raw float arrays. Each step, for every parameter
// group:
//
//   SGD:  signal = g;  rates = memory(signal);  w -= rate * g
//   Adam: signal = Adam's bias-corrected first moment m_hat;
//         rates = memory(signal);  w -= rate * m_hat / (sqrt(v_hat) + eps)
//
// with the update rules of common/base_optimizers.h. A step whose gradients
// are not all finite is skipped: nothing is sent, no parameter and no Adam
// moment changes, and the step is counted in skipped_steps().
//
// Example:
//
//   lrmem::SessionOptions session_options;
//   session_options.memory = "quadratic";
//   session_options.groups = {{"w", w.size()}};
//   session_options.create_if_missing = true;
//   lrmem::WrappedOptimizerOptions options;
//   options.base = lrmem::BaseOptimizer::kAdam;
//   auto optimizer = lrmem::MemoryWrappedOptimizer::Create(
//       &client, session_options, options);
//   if (!optimizer.ok()) return optimizer.status();
//   for (...) {
//     ComputeGradient(w, absl::MakeSpan(g));
//     absl::Status status = (*optimizer)->Step({{"w", absl::MakeSpan(w), g}});
//   }
//
// Thread-safety: not thread-safe; one thread at a time.

#ifndef LRMEM_MEMORY_WRAPPED_OPTIMIZER_H_
#define LRMEM_MEMORY_WRAPPED_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/base_optimizers.h"
#include "lrmem/client.h"
#include "lrmem/learner_session.h"

namespace lrmem {

// The learner the memory wraps.
enum class BaseOptimizer { kSgd, kAdam };

struct WrappedOptimizerOptions {
  BaseOptimizer base = BaseOptimizer::kSgd;
  // Used when base == kAdam.
  AdamOptions adam;
};

// One parameter group's part of a step.
struct GroupParameters {
  // A group declared in the session.
  absl::string_view group;
  // Updated in place.
  absl::Span<float> params;
  // Same size as params.
  absl::Span<const float> gradient;
};

class MemoryWrappedOptimizer {
 public:
  // Opens a training session with `session_options` on `client`, which must
  // outlive the optimizer. Errors as LearnerSession::Open.
  static absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> Create(
      Client* client, SessionOptions session_options,
      WrappedOptimizerOptions options = {});

  // Wraps an open session.
  MemoryWrappedOptimizer(std::unique_ptr<LearnerSession> session,
                         WrappedOptimizerOptions options);

  // One step over some or all of the session's groups. Errors:
  //   INVALID_ARGUMENT  a gradient is not finite: the step was skipped
  //                     (last_step_skipped() is true), nothing changed;
  //   INVALID_ARGUMENT  params and gradient differ in size, or a group is
  //                     unknown: nothing changed;
  //   other codes       as LearnerSession::Step: no parameter changed, but
  //                     Adam's moments have taken in the gradients.
  absl::Status Step(absl::Span<const GroupParameters> groups);

  // Whether the last Step was skipped for a non-finite gradient.
  bool last_step_skipped() const { return last_step_skipped_; }
  // Steps skipped so far.
  int64_t skipped_steps() const { return skipped_steps_; }
  // The learning rates the last successful step applied, per group of that
  // step, in its order.
  const std::vector<std::vector<float>>& last_rates() const { return rates_; }

  LearnerSession& session() { return *session_; }

 private:
  absl::Status CheckGradients(absl::Span<const GroupParameters> groups) const;
  absl::Status ComputeSignals(absl::Span<const GroupParameters> groups,
                              std::vector<GroupSignal>* signals);

  std::unique_ptr<LearnerSession> session_;
  const WrappedOptimizerOptions options_;
  // Adam only: one rule per declared group, in declaration order.
  std::vector<AdamRule> adam_;
  absl::flat_hash_map<std::string, size_t> group_index_;
  std::vector<std::vector<float>> rates_;
  bool last_step_skipped_ = false;
  int64_t skipped_steps_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_MEMORY_WRAPPED_OPTIMIZER_H_
