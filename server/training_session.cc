#include "server/training_session.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/config_proto.h"
#include "common/float_bytes.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "server/status_macros.h"

namespace lrmem {
namespace {

v1::StepResult Rejected(uint64_t sequence, const absl::Status& status) {
  VLOG(1) << "step " << sequence << " rejected: " << status;
  v1::StepResult result;
  result.set_sequence(sequence);
  result.mutable_error()->set_code(static_cast<int32_t>(status.code()));
  result.mutable_error()->set_message(std::string(status.message()));
  return result;
}

std::string GroupWhat(absl::string_view group, absl::string_view what) {
  return absl::StrCat("group '", group, "': ", what);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

TrainingSession::TrainingSession(const Options& options,
                                 MemoryRegistry* registry)
    : options_(options), registry_(registry) {}

TrainingSession::~TrainingSession() {
  if (memory_ == nullptr) return;
  learner_.reset();
  memory_->CloseLearner(learner_id_);
  memory_->RemoveSession();
  if (options_.metrics != nullptr) options_.metrics->SessionClosed();
}

absl::StatusOr<v1::TrainResponse> TrainingSession::Handle(
    const v1::TrainRequest& request) {
  absl::StatusOr<v1::TrainResponse> response = HandleRequest(request);
  Count(request, response);
  return response;
}

void TrainingSession::Count(
    const v1::TrainRequest& request,
    const absl::StatusOr<v1::TrainResponse>& response) const {
  if (options_.metrics == nullptr) return;
  options_.metrics->StreamBytes(request.ByteSizeLong(),
                                response.ok() ? response->ByteSizeLong() : 0);
  if (response.ok() && response->step().has_error()) {
    options_.metrics->StepRejected(
        static_cast<absl::StatusCode>(response->step().error().code()));
  }
}

absl::StatusOr<v1::TrainResponse> TrainingSession::HandleRequest(
    const v1::TrainRequest& request) {
  v1::TrainResponse response;
  if (request.has_open()) {
    if (memory_ != nullptr) {
      return absl::FailedPreconditionError("the session is already open");
    }
    absl::StatusOr<v1::SessionOpened> opened = Open(request.open());
    if (!opened.ok()) return opened.status();
    *response.mutable_opened() = *std::move(opened);
    return response;
  }
  if (!request.has_step()) {
    return absl::InvalidArgumentError("empty request: neither open nor step");
  }
  if (memory_ == nullptr) {
    return absl::FailedPreconditionError(
        "the first message of a Train stream must be `open`");
  }
  absl::StatusOr<v1::StepResult> result = Step(request.step());
  if (!result.ok()) return result.status();
  *response.mutable_step() = *std::move(result);
  return response;
}

absl::Status TrainingSession::CheckOpen(const v1::OpenSession& open) {
  LRMEM_RETURN_IF_ERROR(ValidateName("memory", open.memory()));
  LRMEM_RETURN_IF_ERROR(ValidateName("learner id", open.learner_id()));
  if (open.mode() != v1::SESSION_MODE_RATES &&
      open.mode() != v1::SESSION_MODE_STATISTICS) {
    return absl::InvalidArgumentError(
        "session mode must be SESSION_MODE_RATES or SESSION_MODE_STATISTICS");
  }
  if (static_cast<size_t>(open.groups_size()) >
      options_.max_groups_per_session) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the session declares ", open.groups_size(), " groups, the limit is ",
        options_.max_groups_per_session, " per session"));
  }
  for (const v1::GroupSpec& group : open.groups()) {
    LRMEM_RETURN_IF_ERROR(ValidateName("group", group.name()));
    if (!groups_.emplace(group.name(), group).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", group.name(), "' is declared twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SessionOpened> TrainingSession::Open(
    const v1::OpenSession& open) {
  LRMEM_RETURN_IF_ERROR(CheckOpen(open));

  // Find the memory, or create it when asked to.
  absl::StatusOr<std::shared_ptr<LiveMemory>> memory;
  if (open.create_if_missing()) {
    absl::StatusOr<MemoryConfig> config = ConfigFromProto(open.config());
    if (!config.ok()) return config.status();
    memory = registry_->FindOrCreate(open.memory(), *config);
  } else {
    memory = registry_->Find(open.memory());
  }
  if (!memory.ok()) return memory.status();

  memory_ = *std::move(memory);
  memory_->AddSession();
  if (options_.metrics != nullptr) options_.metrics->SessionOpened();
  learner_ = memory_->OpenLearner(open.learner_id());
  learner_id_ = open.learner_id();
  mode_ = open.mode();

  const LiveMemory::View view = memory_->Look(learner_id_);
  opened_models_ = view.models;
  v1::SessionOpened opened;
  *opened.mutable_config() = ConfigToProto(view.models->config());
  const LocalModels& models = *view.models;
  opened.mutable_centers()->Add(models.centers().begin(),
                                models.centers().end());
  opened.mutable_widths()->Add(models.widths().begin(), models.widths().end());
  opened.set_last_sequence(view.last_sequence);
  VLOG(1) << "learner '" << learner_id_ << "' opened a session on memory '"
          << memory_->name() << "' with " << groups_.size() << " groups";
  return opened;
}

absl::Status TrainingSession::MemoryGone() const {
  return absl::NotFoundError(absl::StrCat(
      "memory '", memory_->name(), "' was deleted while the session was open"));
}

absl::Status TrainingSession::ParseGroup(const v1::GroupStep& group_step,
                                         const LocalModels& models,
                                         ParsedGroup* parsed) {
  const std::string& name = group_step.group();
  auto it = groups_.find(name);
  if (it == groups_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", name, "' was not declared when the session was opened"));
  }
  parsed->spec = &it->second;

  if (mode_ == v1::SESSION_MODE_RATES) {
    if (!group_step.statistic().empty()) {
      return absl::InvalidArgumentError(GroupWhat(
          name, "a rates-mode step carries gradient signals, not statistics"));
    }
    const std::string what = GroupWhat(name, "gradient signal");
    size_t count = 0;
    LRMEM_RETURN_IF_ERROR(
        CountFloats(group_step.gradient_signal(), what, &count));
    if (count != parsed->spec->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has ", count, " values, the session declared ",
                       parsed->spec->size()));
    }
    if (!spare_signals_.empty()) {
      parsed->signal = std::move(spare_signals_.back());
      spare_signals_.pop_back();
    }
    LRMEM_RETURN_IF_ERROR(
        UnpackFloats(group_step.gradient_signal(), what, &parsed->signal));
    return CheckFinite(parsed->signal, what);
  }

  if (!group_step.gradient_signal().empty()) {
    return absl::InvalidArgumentError(GroupWhat(
        name, "a statistics-mode step carries statistics, not signals"));
  }
  if (group_step.statistic().empty()) return absl::OkStatus();
  const std::string what = GroupWhat(name, "statistic");
  size_t count = 0;
  LRMEM_RETURN_IF_ERROR(CountFloats(group_step.statistic(), what, &count));
  if (count != static_cast<size_t>(models.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", count, " values, the memory has ",
                     models.size(), " local models"));
  }
  LRMEM_RETURN_IF_ERROR(
      UnpackFloats(group_step.statistic(), what, &parsed->statistic));
  return CheckFinite(parsed->statistic, what);
}

absl::Status TrainingSession::ParseStep(const v1::Step& step,
                                        const LocalModels& models,
                                        std::vector<ParsedGroup>* groups) {
  // Bound the work before unpacking anything.
  size_t values = 0;
  for (const v1::GroupStep& group_step : step.groups()) {
    values +=
        (group_step.gradient_signal().size() + group_step.statistic().size()) /
        sizeof(float);
  }
  if (values > options_.max_values_per_message) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "step ", step.sequence(), " carries ", values, " values, the limit is ",
        options_.max_values_per_message, " values per message"));
  }

  groups->resize(step.groups_size());
  for (int i = 0; i < step.groups_size(); ++i) {
    LRMEM_RETURN_IF_ERROR(ParseGroup(step.groups(i), models, &(*groups)[i]));
    for (int j = 0; j < i; ++j) {
      if ((*groups)[j].spec == (*groups)[i].spec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "group '", step.groups(i).group(), "' appears twice in the step"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StepResult> TrainingSession::Step(const v1::Step& step) {
  absl::MutexLock learner_lock(&learner_->mu);
  const LiveMemory::View view = memory_->Look(learner_id_);
  if (view.deleted) return MemoryGone();
  if (mode_ == v1::SESSION_MODE_STATISTICS && view.models != opened_models_) {
    // The learner computes statistics for the local models it was given at
    // open; they no longer apply.
    return absl::AbortedError(absl::StrCat(
        "memory '", memory_->name(),
        "' was replaced (restore or import) by one with a different config; "
        "open a new session to get its local models"));
  }
  if (step.sequence() == 0) {
    return Rejected(
        0, absl::InvalidArgumentError("step sequence numbers start at 1"));
  }
  if (step.sequence() < view.last_sequence) {
    return Rejected(
        step.sequence(),
        absl::FailedPreconditionError(absl::StrCat(
            "learner '", learner_id_, "': step ", step.sequence(),
            " is older than the last applied step ", view.last_sequence)));
  }

  std::vector<ParsedGroup> groups;
  absl::Status status = ParseStep(step, *view.models, &groups);
  if (!status.ok()) return Rejected(step.sequence(), status);

  if (step.sequence() == view.last_sequence) {
    return Replay(step, view, groups);
  }
  return Apply(step, view, groups);
}

absl::StatusOr<v1::StepResult> TrainingSession::Apply(
    const v1::Step& step, const LiveMemory::View& view,
    std::vector<ParsedGroup>& groups) {
  // The statistics, outside the memory's lock.
  const auto start = std::chrono::steady_clock::now();
  const LocalModels& models = *view.models;
  std::vector<LiveMemory::GroupUpdate> updates(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    ParsedGroup& group = groups[i];
    LiveMemory::GroupUpdate& update = updates[i];
    update.group = group.spec->name();
    update.size = group.spec->size();
    if (mode_ == v1::SESSION_MODE_STATISTICS) {
      update.statistic = std::move(group.statistic);
      continue;
    }
    if (group.signal.empty()) continue;
    std::vector<float> statistic(models.size());
    if (learner_->histories[update.group].ComputeStatistic(
            models, group.signal, absl::MakeSpan(statistic))) {
      update.statistic = std::move(statistic);
    }
  }

  // The merge, under the memory's lock, persisted before we answer.
  const double statistics_seconds = SecondsSince(start);
  const auto merge_start = std::chrono::steady_clock::now();
  absl::StatusOr<LiveMemory::Outcome> outcome =
      memory_->ApplyStep(learner_id_, step.sequence(), view, updates);
  const double storage_seconds = SecondsSince(merge_start);
  if (absl::IsNotFound(outcome.status())) return MemoryGone();
  if (!outcome.ok()) return Rejected(step.sequence(), outcome.status());

  // The answer, outside the lock.
  v1::StepResult result;
  result.set_sequence(step.sequence());
  const auto answer_start = std::chrono::steady_clock::now();
  Answer(*outcome->models, view.generation, groups, *outcome, &result);
  if (options_.metrics != nullptr) {
    options_.metrics->StepApplied(
        memory_->name(), statistics_seconds + SecondsSince(answer_start),
        storage_seconds);
  }
  VLOG(2) << "memory '" << memory_->name() << "': learner '" << learner_id_
          << "' step " << step.sequence() << " applied";
  return result;
}

absl::StatusOr<v1::StepResult> TrainingSession::Replay(
    const v1::Step& step, const LiveMemory::View& view,
    std::vector<ParsedGroup>& groups) {
  VLOG(1) << "memory '" << memory_->name() << "': learner '" << learner_id_
          << "' resent step " << step.sequence();
  if (CanAnswerAgain(step, view, groups)) {
    v1::StepResult result = AnswerAgain(*view.models);
    result.set_replayed(true);
    return result;
  }

  // The answer was lost with a restart: answer from the current values
  // without applying anything.
  std::vector<std::string> names;
  for (const ParsedGroup& group : groups) names.push_back(group.spec->name());
  const LiveMemory::Outcome outcome = memory_->CurrentValues(names);
  v1::StepResult result;
  result.set_sequence(step.sequence());
  Answer(*outcome.models, view.generation, groups, outcome, &result);
  result.set_replayed(true);
  return result;
}

void TrainingSession::Answer(const LocalModels& models, uint64_t generation,
                             std::vector<ParsedGroup>& groups,
                             const LiveMemory::Outcome& outcome,
                             v1::StepResult* result) {
  v1::StepResult kept;
  kept.set_sequence(result->sequence());
  kept.set_memory_steps(outcome.steps);
  result->set_memory_steps(outcome.steps);
  for (size_t i = 0; i < groups.size(); ++i) {
    ParsedGroup& group = groups[i];
    const std::string& name = group.spec->name();
    const std::vector<float>& values = outcome.values[i];
    v1::GroupResult* group_result = result->add_groups();
    group_result->set_group(name);
    v1::GroupResult* kept_group = kept.add_groups();
    kept_group->set_group(name);
    PackFloats(values, kept_group->mutable_values());
    if (mode_ == v1::SESSION_MODE_STATISTICS) {
      PackFloats(values, group_result->mutable_values());
      continue;
    }
    rates_.resize(group.signal.size());
    models.PredictRates(values, group.signal, absl::MakeSpan(rates_));
    PackFloats(rates_, group_result->mutable_learning_rates());
    // The signal becomes the group's previous one; the storage of the one
    // before serves the next step.
    learner_->histories[name].Exchange(&group.signal);
    spare_signals_.push_back(std::move(group.signal));
  }
  learner_->last_result = std::move(kept);
  learner_->last_result_mode = mode_;
  learner_->last_result_generation = generation;
}

bool TrainingSession::CanAnswerAgain(const v1::Step& step,
                                     const LiveMemory::View& view,
                                     const std::vector<ParsedGroup>& groups) {
  // The kept answer is the one to this step, computed on these contents,
  // in this session's mode, for the same groups of the same sizes.
  const std::optional<v1::StepResult>& kept = learner_->last_result;
  if (!kept.has_value() || kept->sequence() != step.sequence() ||
      learner_->last_result_generation != view.generation ||
      learner_->last_result_mode != mode_ ||
      kept->groups_size() != static_cast<int>(groups.size())) {
    return false;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string& name = groups[i].spec->name();
    if (kept->groups(static_cast<int>(i)).group() != name) return false;
    if (mode_ == v1::SESSION_MODE_RATES &&
        learner_->histories[name].previous().size() != groups[i].spec->size()) {
      return false;
    }
  }
  return true;
}

v1::StepResult TrainingSession::AnswerAgain(const LocalModels& models) {
  v1::StepResult result = *learner_->last_result;
  if (learner_->last_result_mode != v1::SESSION_MODE_RATES) return result;
  std::vector<float> values;
  for (v1::GroupResult& group : *result.mutable_groups()) {
    // The values were packed by Answer; they unpack.
    UnpackFloats(group.values(), "kept values", &values).IgnoreError();
    absl::Span<const float> signal =
        learner_->histories[group.group()].previous();
    rates_.resize(signal.size());
    models.PredictRates(values, signal, absl::MakeSpan(rates_));
    PackFloats(rates_, group.mutable_learning_rates());
    group.clear_values();
  }
  return result;
}

}  // namespace lrmem
