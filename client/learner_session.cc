#include "lrmem/learner_session.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_status.h"
#include "common/config_proto.h"
#include "common/float_bytes.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace lrmem {
namespace {

v1::SessionMode ModeToProto(SessionMode mode) {
  return mode == SessionMode::kRates ? v1::SESSION_MODE_RATES
                                     : v1::SESSION_MODE_STATISTICS;
}

// True when both hold the same floats, bit for bit.
bool SameFloats(absl::Span<const float> a,
                const google::protobuf::RepeatedField<float>& b) {
  return a.size() == static_cast<size_t>(b.size()) &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

std::string GroupWhat(absl::string_view group, absl::string_view what) {
  return absl::StrCat("group '", group, "': ", what);
}

}  // namespace

LearnerSession::LearnerSession(Client* client, SessionOptions options)
    : client_(client), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<LearnerSession>> LearnerSession::Open(
    Client* client, SessionOptions options) {
  std::unique_ptr<LearnerSession> session(
      new LearnerSession(client, std::move(options)));
  for (size_t i = 0; i < session->options_.groups.size(); ++i) {
    const std::string& name = session->options_.groups[i].name;
    if (!session->group_index_.emplace(name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", name, "' is declared twice"));
    }
  }
  session->histories_.resize(session->options_.groups.size());
  absl::Status status = session->Connect();
  if (!status.ok()) return status;
  return session;
}

LearnerSession::~LearnerSession() {
  if (stream_ == nullptr) return;
  stream_->WritesDone();
  CloseStream().IgnoreError();
}

absl::Status LearnerSession::Connect() {
  absl::Status status = client_->WaitForConnection();
  if (!status.ok()) return status;

  // A fresh stream, opened with the session's declaration.
  context_ = std::make_unique<grpc::ClientContext>();
  stream_ = client_->stub().Train(context_.get());
  v1::TrainRequest request;
  v1::OpenSession* open = request.mutable_open();
  open->set_memory(options_.memory);
  open->set_learner_id(options_.learner_id);
  open->set_mode(ModeToProto(options_.mode));
  open->set_create_if_missing(options_.create_if_missing);
  *open->mutable_config() = ConfigToProto(options_.config);
  for (const GroupDeclaration& group : options_.groups) {
    v1::GroupSpec* spec = open->add_groups();
    spec->set_name(group.name);
    spec->set_size(group.size);
  }
  v1::TrainResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) {
    return CloseStream();
  }
  if (!response.has_opened()) {
    return absl::InternalError("the server answered `open` with a step");
  }

  // The memory's local models, which statistics mode evaluates here.
  const bool first_connect = models_ == nullptr;
  status = CheckLocalModels(response.opened());
  if (!status.ok()) return status;

  // A new session continues after the learner's last applied step; a
  // reconnected one keeps its numbering, to resend its pending step.
  if (first_connect) {
    next_sequence_ = response.opened().last_sequence() + 1;
  }
  return absl::OkStatus();
}

absl::Status LearnerSession::Reconnect() {
  // Right after a break the channel may still hand out the dying
  // connection, so an UNAVAILABLE open is tried again until the connection
  // timeout has passed.
  const absl::Time deadline = absl::Now() + client_->options().connect_timeout;
  absl::Duration backoff = absl::Milliseconds(10);
  while (true) {
    absl::Status status = Connect();
    if (!absl::IsUnavailable(status) || absl::Now() + backoff > deadline) {
      return status;
    }
    absl::SleepFor(backoff);
    backoff = std::min(2 * backoff, absl::Milliseconds(500));
  }
}

absl::Status LearnerSession::CheckLocalModels(const v1::SessionOpened& opened) {
  absl::StatusOr<MemoryConfig> config = ConfigFromProto(opened.config());
  if (!config.ok()) return config.status();
  absl::StatusOr<std::shared_ptr<const LocalModels>> models =
      LocalModels::Create(*config);
  if (!models.ok()) return models.status();
  if (!SameFloats((*models)->centers(), opened.centers()) ||
      !SameFloats((*models)->widths(), opened.widths())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "memory '", options_.memory,
        "': the client lays out different local models than the server "
        "(client and server versions differ?)"));
  }
  models_ = *std::move(models);
  return absl::OkStatus();
}

absl::Status LearnerSession::CloseStream() {
  grpc::Status status = stream_->Finish();
  stream_.reset();
  context_.reset();
  if (status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the server closed the training stream on memory '",
                     options_.memory, "'"));
  }
  return FromGrpcStatus(status);
}

absl::Status LearnerSession::CheckSignals(
    absl::Span<const GroupSignal> signals) const {
  std::vector<bool> seen(options_.groups.size(), false);
  for (const GroupSignal& signal : signals) {
    auto it = group_index_.find(signal.group);
    if (it == group_index_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group '", signal.group, "' was not declared in the session"));
    }
    if (seen[it->second]) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", signal.group, "' appears twice in the step"));
    }
    seen[it->second] = true;
    const uint64_t size = options_.groups[it->second].size;
    if (signal.signal.size() != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          GroupWhat(signal.group, "gradient signal"), " has ",
          signal.signal.size(), " values, the session declared ", size));
    }
    absl::Status status =
        CheckFinite(signal.signal, GroupWhat(signal.group, "gradient signal"));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void LearnerSession::BuildStep(absl::Span<const GroupSignal> signals,
                               v1::Step* step) {
  step->set_sequence(next_sequence_);
  std::vector<float> statistic(models_->size());
  for (const GroupSignal& signal : signals) {
    v1::GroupStep* group_step = step->add_groups();
    group_step->set_group(std::string(signal.group));
    if (options_.mode == SessionMode::kRates) {
      PackFloats(signal.signal, group_step->mutable_gradient_signal());
      continue;
    }
    // No previous signal yet (or no parameters): an empty statistic, which
    // teaches nothing, as the server does in rates mode.
    const SignalHistory& history = histories_[group_index_.at(signal.group)];
    if (!signal.signal.empty() &&
        history.ComputeStatistic(*models_, signal.signal,
                                 absl::MakeSpan(statistic))) {
      PackFloats(statistic, group_step->mutable_statistic());
    }
  }
}

absl::StatusOr<v1::StepResult> LearnerSession::ExchangeOnce(
    const v1::TrainRequest& request) {
  if (stream_ == nullptr) {
    return absl::UnavailableError("the training stream is not open");
  }
  v1::TrainResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) {
    return CloseStream();
  }
  if (!response.has_step()) {
    return absl::InternalError("the server answered a step with `opened`");
  }
  return std::move(*response.mutable_step());
}

absl::StatusOr<v1::StepResult> LearnerSession::Exchange(
    const v1::TrainRequest& request) {
  absl::StatusOr<v1::StepResult> result = ExchangeOnce(request);
  if (absl::IsUnavailable(result.status())) {
    // The stream broke: once, reopen it and send the same step again. The
    // server answers a step it already applied without applying it again.
    LOG(WARNING) << "lrmem: training stream on memory '" << options_.memory
                 << "' broke (" << result.status()
                 << "); reconnecting and resending step "
                 << request.step().sequence();
    ++reconnects_;
    absl::Status status = Reconnect();
    result = status.ok() ? ExchangeOnce(request) : status;
  }
  if (!result.ok()) broken_ = result.status();
  return result;
}

absl::Status LearnerSession::Step(absl::Span<const GroupSignal> signals,
                                  std::vector<std::vector<float>>* rates) {
  if (!broken_.ok()) return broken_;
  absl::Status status = CheckSignals(signals);
  if (!status.ok()) return status;

  // Send the step and wait for its answer.
  v1::TrainRequest request;
  BuildStep(signals, request.mutable_step());
  absl::StatusOr<v1::StepResult> result = Exchange(request);
  if (!result.ok()) return result.status();
  ++next_sequence_;
  if (result->has_error()) {
    return absl::Status(static_cast<absl::StatusCode>(result->error().code()),
                        result->error().message());
  }

  // The rates, received or predicted here from the received values.
  status = ReadRates(signals, *result, rates);
  if (!status.ok()) return status;
  memory_steps_ = result->memory_steps();
  return absl::OkStatus();
}

absl::Status LearnerSession::ReadRates(absl::Span<const GroupSignal> signals,
                                       const v1::StepResult& result,
                                       std::vector<std::vector<float>>* rates) {
  if (result.groups_size() != static_cast<int>(signals.size())) {
    return absl::InternalError(
        absl::StrCat("the server answered ", result.groups_size(),
                     " groups for a step of ", signals.size()));
  }
  rates->resize(signals.size());
  std::vector<float> values;
  for (size_t i = 0; i < signals.size(); ++i) {
    const v1::GroupResult& group = result.groups(static_cast<int>(i));
    const GroupSignal& signal = signals[i];
    std::vector<float>& group_rates = (*rates)[i];
    if (options_.mode == SessionMode::kRates) {
      absl::Status status =
          UnpackFloats(group.learning_rates(), GroupWhat(signal.group, "rates"),
                       &group_rates);
      if (!status.ok()) return status;
      if (group_rates.size() != signal.signal.size()) {
        return absl::InternalError(GroupWhat(
            signal.group, "the server answered the wrong number of rates"));
      }
      continue;
    }
    absl::Status status = UnpackFloats(
        group.values(), GroupWhat(signal.group, "values"), &values);
    if (!status.ok()) return status;
    if (values.size() != static_cast<size_t>(models_->size())) {
      return absl::InternalError(GroupWhat(
          signal.group, "the server answered the wrong number of values"));
    }
    group_rates.resize(signal.signal.size());
    models_->PredictRates(values, signal.signal, absl::MakeSpan(group_rates));
    histories_[group_index_.at(signal.group)].Remember(signal.signal);
  }
  return absl::OkStatus();
}

}  // namespace lrmem
