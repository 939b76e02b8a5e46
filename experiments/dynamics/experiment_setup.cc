#include "experiments/dynamics/experiment_setup.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"

DEFINE_int32(memory_local_models, 21, "Local models per memory group.");
DEFINE_string(memory_layout, "log", "Centers: even or log (log-spaced).");
DEFINE_double(memory_clip, 2.0, "Signals are clipped to [-clip, clip].");
DEFINE_double(memory_smallest_magnitude, 1e-4,
              "Log layout: smallest non-zero center magnitude.");
DEFINE_double(memory_width_scale, 0.1, "Width as a fraction of spacing.");
DEFINE_double(memory_meta_learning_rate, 0.01,
              "The memory's own learning rate.");
DEFINE_string(memory_meta_optimizer, "sgd", "sgd or adam.");
DEFINE_string(memory_change_rule, "clamped_product",
              "clamped_product or sign.");
DEFINE_double(memory_lr_min, 1e-9, "Smallest rate the memory predicts.");
DEFINE_double(memory_lr_max, 1.0, "Largest rate the memory predicts.");
DEFINE_double(memory_value_smoothing, 0.0,
              "Pull of each value towards its neighbours per update.");

namespace lrmem::experiments {

absl::StatusOr<MemoryConfig> MemoryConfigFromFlags() {
  MemoryConfig c;
  c.num_local_models = FLAGS_memory_local_models;
  if (FLAGS_memory_layout == "even") {
    c.center_layout = CenterLayout::kEven;
  } else if (FLAGS_memory_layout != "log") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--memory_layout: '", FLAGS_memory_layout, "' (even or log)"));
  }
  if (FLAGS_memory_meta_optimizer == "adam") {
    c.meta_optimizer = MetaOptimizerKind::kAdam;
  } else if (FLAGS_memory_meta_optimizer != "sgd") {
    return absl::InvalidArgumentError(absl::StrCat("--memory_meta_optimizer: '",
                                                   FLAGS_memory_meta_optimizer,
                                                   "' (sgd or adam)"));
  }
  if (FLAGS_memory_change_rule == "sign") {
    c.change_rule = ChangeRule::kSign;
  } else if (FLAGS_memory_change_rule != "clamped_product") {
    return absl::InvalidArgumentError(
        absl::StrCat("--memory_change_rule: '", FLAGS_memory_change_rule,
                     "' (clamped_product or sign)"));
  }
  c.clip = FLAGS_memory_clip;
  c.smallest_magnitude = FLAGS_memory_smallest_magnitude;
  c.width_scale = FLAGS_memory_width_scale;
  c.meta_learning_rate = FLAGS_memory_meta_learning_rate;
  c.lr_min = FLAGS_memory_lr_min;
  c.lr_max = FLAGS_memory_lr_max;
  c.value_smoothing = FLAGS_memory_value_smoothing;
  absl::Status status = ValidateConfig(c);
  if (!status.ok()) return status;
  return c;
}

absl::StatusOr<MemoryServer> MemoryServer::Connect(
    const std::string& server_address, const std::string& embedded_data_dir) {
  MemoryServer out;
  if (!server_address.empty()) {
    out.address_ = server_address;
    return out;
  }
  std::error_code ignored;
  std::filesystem::remove_all(embedded_data_dir, ignored);
  EmbeddedServer::Options options;
  options.data_dir = embedded_data_dir;
  absl::StatusOr<std::unique_ptr<EmbeddedServer>> server =
      EmbeddedServer::Start(options);
  if (!server.ok()) return server.status();
  out.embedded_ = *std::move(server);
  out.address_ = out.embedded_->address();
  return out;
}

absl::Status RunParallel(int jobs, int count,
                         const std::function<absl::Status(int)>& run) {
  std::atomic<int> next{0};
  std::mutex mu;
  absl::Status first_error;
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) {
      absl::Status status = run(i);
      if (status.ok()) continue;
      std::lock_guard<std::mutex> lock(mu);
      if (first_error.ok()) first_error = status;
      next = count;  // start nothing new
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < std::max(1, std::min(jobs, count)); ++j) {
    threads.emplace_back(worker);
  }
  for (std::thread& t : threads) t.join();
  return first_error;
}

}  // namespace lrmem::experiments
