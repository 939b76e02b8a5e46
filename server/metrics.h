// Metrics: what the server counts and times, in Prometheus form, optionally
// served over HTTP at /metrics.
//
//   lrmem_steps_total{memory}            steps applied, per memory
//   lrmem_rejected_steps_total{reason}   step errors, by status code
//   lrmem_active_sessions                open training sessions
//   lrmem_memories                       memories hosted
//   lrmem_learner_states                 learners' RAM states held, as of
//                                        the last periodic upkeep
//   lrmem_step_seconds{phase}            per applied step: "compute" (the
//                                        O(D * M) work outside the lock) and
//                                        "storage" (lock, merge and write)
//   lrmem_store_write_seconds            one RocksDB write
//   lrmem_stream_bytes_total{direction}  training-stream payload, "in"/"out"
//
// Thread-safety: all methods are thread-safe.

#ifndef LRMEM_SERVER_METRICS_H_
#define LRMEM_SERVER_METRICS_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace lrmem {

class Metrics {
 public:
  // Serves the metrics on `listen` (host:port; port 0 picks a free one), or
  // only collects them when `listen` is empty. UNAVAILABLE when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(
      const std::string& listen);
  ~Metrics();

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The bound HTTP port, 0 when not serving.
  int port() const { return port_; }

  void StepApplied(absl::string_view memory, double compute_seconds,
                   double storage_seconds);
  void StepRejected(absl::StatusCode code);
  void MemoryDeleted(absl::string_view memory);
  void SessionOpened();
  void SessionClosed();
  void SetMemories(size_t count);
  void SetLearnerStates(size_t count);
  void StoreWrite(double seconds);
  void StreamBytes(size_t in, size_t out);

 private:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  // Owned by registry_.
  prometheus::Family<prometheus::Counter>* steps_ = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_ = nullptr;
  prometheus::Gauge* active_sessions_ = nullptr;
  prometheus::Gauge* memories_ = nullptr;
  prometheus::Gauge* learner_states_ = nullptr;
  prometheus::Histogram* compute_seconds_ = nullptr;
  prometheus::Histogram* storage_seconds_ = nullptr;
  prometheus::Histogram* store_write_seconds_ = nullptr;
  prometheus::Counter* bytes_in_ = nullptr;
  prometheus::Counter* bytes_out_ = nullptr;
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_METRICS_H_
