#include "lrmem/memory_wrapped_optimizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace lrmem {
namespace {

std::string GradientWhat(absl::string_view group) {
  return absl::StrCat("group '", group, "': gradient");
}

}  // namespace

absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>>
MemoryWrappedOptimizer::Create(Client* client, SessionOptions session_options,
                               WrappedOptimizerOptions options) {
  absl::StatusOr<std::unique_ptr<LearnerSession>> session =
      LearnerSession::Open(client, std::move(session_options));
  if (!session.ok()) return session.status();
  return std::make_unique<MemoryWrappedOptimizer>(*std::move(session), options);
}

MemoryWrappedOptimizer::MemoryWrappedOptimizer(
    std::unique_ptr<LearnerSession> session, WrappedOptimizerOptions options)
    : session_(std::move(session)), options_(options) {
  const std::vector<GroupDeclaration>& groups = session_->options().groups;
  for (size_t i = 0; i < groups.size(); ++i) {
    group_index_.emplace(groups[i].name, i);
  }
  if (options_.base == BaseOptimizer::kAdam) {
    adam_.assign(groups.size(), AdamRule(options_.adam));
  }
}

absl::Status MemoryWrappedOptimizer::CheckGradients(
    absl::Span<const GroupParameters> groups) const {
  for (const GroupParameters& group : groups) {
    if (!group_index_.contains(group.group)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group '", group.group, "' was not declared in the session"));
    }
    if (group.params.size() != group.gradient.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group '", group.group, "': ", group.params.size(),
          " parameters but ", group.gradient.size(), " gradient values"));
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryWrappedOptimizer::ComputeSignals(
    absl::Span<const GroupParameters> groups,
    std::vector<GroupSignal>* signals) {
  signals->clear();
  for (const GroupParameters& group : groups) {
    absl::Span<const float> signal = group.gradient;
    if (options_.base == BaseOptimizer::kAdam) {
      signal = adam_[group_index_.at(group.group)].Signal(group.gradient);
    }
    signals->push_back({group.group, signal});
  }
  return absl::OkStatus();
}

absl::Status MemoryWrappedOptimizer::Step(
    absl::Span<const GroupParameters> groups) {
  last_step_skipped_ = false;
  absl::Status status = CheckGradients(groups);
  if (!status.ok()) return status;

  // A non-finite gradient skips the whole step before anything changes.
  for (const GroupParameters& group : groups) {
    status = CheckFinite(group.gradient, GradientWhat(group.group));
    if (!status.ok()) {
      last_step_skipped_ = true;
      ++skipped_steps_;
      return status;
    }
  }

  // The base optimizer's signals, and the memory's rates for them.
  std::vector<GroupSignal> signals;
  status = ComputeSignals(groups, &signals);
  if (!status.ok()) return status;
  status = session_->Step(signals, &rates_);
  if (!status.ok()) return status;

  // The base optimizer's update with those rates.
  for (size_t i = 0; i < groups.size(); ++i) {
    const GroupParameters& group = groups[i];
    if (options_.base == BaseOptimizer::kAdam) {
      adam_[group_index_.at(group.group)].Apply(group.gradient, rates_[i],
                                                group.params);
    } else {
      SgdRule().Apply(group.gradient, rates_[i], group.params);
    }
  }
  return absl::OkStatus();
}

}  // namespace lrmem
