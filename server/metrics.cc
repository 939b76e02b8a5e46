#include "server/metrics.h"

#include <exception>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace lrmem {
namespace {

// From 50 microseconds to about 6.5 seconds, doubling.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double bound = 50e-6; bound < 10.0; bound *= 2) {
    buckets.push_back(bound);
  }
  return buckets;
}

std::string CodeLabel(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  return name.empty() ? absl::StrCat("code_", static_cast<int>(code)) : name;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  steps_ = &prometheus::BuildCounter()
                .Name("lrmem_steps_total")
                .Help("Training steps applied, per memory")
                .Register(*registry_);
  rejected_ = &prometheus::BuildCounter()
                   .Name("lrmem_rejected_steps_total")
                   .Help("Training steps rejected, by status code")
                   .Register(*registry_);
  active_sessions_ = &prometheus::BuildGauge()
                          .Name("lrmem_active_sessions")
                          .Help("Open training sessions")
                          .Register(*registry_)
                          .Add({});
  memories_ = &prometheus::BuildGauge()
                   .Name("lrmem_memories")
                   .Help("Memories hosted")
                   .Register(*registry_)
                   .Add({});
  learner_states_ =
      &prometheus::BuildGauge()
           .Name("lrmem_learner_states")
           .Help(
               "Learners whose previous signals and last answer are held "
               "in RAM, counted by the periodic upkeep")
           .Register(*registry_)
           .Add({});
  auto& step_seconds = prometheus::BuildHistogram()
                           .Name("lrmem_step_seconds")
                           .Help("Time per applied step, by phase")
                           .Register(*registry_);
  compute_seconds_ =
      &step_seconds.Add({{"phase", "compute"}}, LatencyBuckets());
  storage_seconds_ =
      &step_seconds.Add({{"phase", "storage"}}, LatencyBuckets());
  store_write_seconds_ = &prometheus::BuildHistogram()
                              .Name("lrmem_store_write_seconds")
                              .Help("Time per RocksDB write")
                              .Register(*registry_)
                              .Add({}, LatencyBuckets());
  auto& bytes = prometheus::BuildCounter()
                    .Name("lrmem_stream_bytes_total")
                    .Help("Training-stream message bytes, by direction")
                    .Register(*registry_);
  bytes_in_ = &bytes.Add({{"direction", "in"}});
  bytes_out_ = &bytes.Add({{"direction", "out"}});
}

Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(
    const std::string& listen) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  if (listen.empty()) return metrics;
  try {
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    absl::Status error = absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen, "': ", e.what()));
    LOG(ERROR) << error;
    return error;
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  const std::vector<int> ports = metrics->exposer_->GetListeningPorts();
  metrics->port_ = ports.empty() ? 0 : ports.front();
  LOG(INFO) << "metrics on " << listen << " (port " << metrics->port_
            << "), path /metrics";
  return metrics;
}

void Metrics::StepApplied(absl::string_view memory, double compute_seconds,
                          double storage_seconds) {
  steps_->Add({{"memory", std::string(memory)}}).Increment();
  compute_seconds_->Observe(compute_seconds);
  storage_seconds_->Observe(storage_seconds);
}

void Metrics::StepRejected(absl::StatusCode code) {
  rejected_->Add({{"reason", CodeLabel(code)}}).Increment();
}

void Metrics::MemoryDeleted(absl::string_view memory) {
  const prometheus::Labels labels = {{"memory", std::string(memory)}};
  if (steps_->Has(labels)) steps_->Remove(&steps_->Add(labels));
}

void Metrics::SessionOpened() { active_sessions_->Increment(); }
void Metrics::SessionClosed() { active_sessions_->Decrement(); }
void Metrics::SetMemories(size_t count) {
  memories_->Set(static_cast<double>(count));
}
void Metrics::SetLearnerStates(size_t count) {
  learner_states_->Set(static_cast<double>(count));
}
void Metrics::StoreWrite(double seconds) {
  store_write_seconds_->Observe(seconds);
}
void Metrics::StreamBytes(size_t in, size_t out) {
  bytes_in_->Increment(static_cast<double>(in));
  bytes_out_->Increment(static_cast<double>(out));
}

}  // namespace lrmem
