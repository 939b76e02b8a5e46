#include "bench/bench_learner.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"

namespace lrmem::bench {
namespace {

std::vector<float> Gradient(int64_t size, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> g(size);
  for (float& x : g) x = normal(rng);
  return g;
}

std::vector<GroupDeclaration> Groups(const BenchLearnerOptions& options) {
  std::vector<GroupDeclaration> groups;
  for (int64_t start = 0; start < options.parameters;
       start += options.group_size) {
    const int64_t size =
        std::min(options.group_size, options.parameters - start);
    groups.push_back(
        {absl::StrCat("g", groups.size()), static_cast<uint64_t>(size)});
  }
  return groups;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchLearner>> BenchLearner::Open(
    Client* client, const BenchLearnerOptions& options) {
  if (options.group_size > options.max_message_floats) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a group of ", options.group_size, " floats exceeds the message ",
        "limit of ", options.max_message_floats, " floats"));
  }
  SessionOptions session_options;
  session_options.memory = options.memory;
  session_options.learner_id = options.learner_id;
  session_options.groups = Groups(options);
  session_options.mode = options.mode;
  session_options.create_if_missing = true;

  std::unique_ptr<BenchLearner> learner(new BenchLearner());
  std::mt19937 rng(options.seed);
  for (const GroupDeclaration& group : session_options.groups) {
    for (auto& gradients : learner->gradients_) {
      gradients.push_back(Gradient(static_cast<int64_t>(group.size), rng));
    }
  }
  absl::StatusOr<std::unique_ptr<LearnerSession>> session =
      LearnerSession::Open(client, std::move(session_options));
  if (!session.ok()) return session.status();
  learner->session_ = std::move(*session);
  learner->PlanMessages(options.max_message_floats);
  return learner;
}

void BenchLearner::PlanMessages(int64_t max_message_floats) {
  int64_t floats = 0;
  for (size_t g = 0; g < gradients_[0].size(); ++g) {
    const int64_t size = static_cast<int64_t>(gradients_[0][g].size());
    if (messages_.empty() || floats + size > max_message_floats) {
      messages_.emplace_back();
      floats = 0;
    }
    messages_.back().push_back(g);
    floats += size;
  }
}

absl::Status BenchLearner::Step() {
  const auto& gradients = gradients_[turn_];
  turn_ = 1 - turn_;
  const auto& declared = session_->options().groups;
  for (const std::vector<size_t>& message : messages_) {
    std::vector<GroupSignal> signals;
    for (size_t g : message) {
      signals.push_back({declared[g].name, gradients[g]});
    }
    if (absl::Status s = session_->Step(signals, &rates_); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace lrmem::bench
