#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace lrmem {
namespace {

constexpr char kServiceName[] = "lrmem.v1.LearningRateMemory";

// The most floats one training step may carry. A rates-mode answer has as
// many floats as its step, plus the group names and a few bytes of framing
// per group, and it must fit in a message too; so the limit leaves room for
// max_groups_per_session names of the longest length.
absl::StatusOr<size_t> ValuesPerMessage(const LrmemServer::Options& options) {
  const size_t framing =
      options.session.max_groups_per_session * (kMaxNameBytes + 32) + 4096;
  const size_t bytes = static_cast<size_t>(options.max_message_bytes);
  const size_t fit = bytes > framing ? (bytes - framing) / sizeof(float) : 0;
  const size_t asked = options.session.max_values_per_message;
  if (asked == 0 && fit > 0) return fit;
  if (asked == 0 || asked > fit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_values_per_message=", asked, " does not leave room for the ",
        "answer of such a step within --max_message_bytes=",
        options.max_message_bytes, " with up to --max_groups_per_session=",
        options.session.max_groups_per_session, " groups; at most ", fit,
        " values fit"));
  }
  return asked;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LrmemServer>> LrmemServer::Start(
    const Options& options) {
  absl::StatusOr<size_t> values = ValuesPerMessage(options);
  if (!values.ok()) return values.status();
  std::unique_ptr<LrmemServer> server(new LrmemServer(options));

  absl::StatusOr<std::unique_ptr<Metrics>> metrics =
      Metrics::Create(options.metrics_listen);
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = *std::move(metrics);

  // Storage first: nothing is served before every memory is back.
  Store::Options store_options;
  store_options.path = options.data_dir;
  store_options.sync_writes = options.sync_writes;
  store_options.metrics = server->metrics_.get();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(store_options);
  if (!store.ok()) return store.status();
  server->store_ = *std::move(store);
  MemoryRegistry::Options registry_options = options.registry;
  registry_options.metrics = server->metrics_.get();
  absl::StatusOr<std::unique_ptr<MemoryRegistry>> registry =
      MemoryRegistry::Open(registry_options, server->store_.get());
  if (!registry.ok()) return registry.status();
  server->registry_ = *std::move(registry);

  server->admin_ = std::make_unique<MemoryAdmin>(
      options.admin, server->registry_.get(), server->store_.get());
  TrainingSession::Options session_options = options.session;
  session_options.metrics = server->metrics_.get();
  session_options.max_values_per_message = *values;
  server->service_ = std::make_unique<LearningRateMemoryService>(
      session_options, server->admin_.get(), server->registry_.get());
  absl::Status status = server->StartServing();
  if (!status.ok()) return status;
  server->maintenance_ = std::thread([raw = server.get()] { raw->Maintain(); });
  return server;
}

void LrmemServer::Maintain() {
  // Often enough that an idle learner's state goes within about half its
  // timeout more, rarely enough to cost nothing.
  const absl::Duration period =
      std::clamp(options_.registry.memory.learner_idle_timeout / 2,
                 absl::Seconds(1), absl::Seconds(60));
  while (!stop_maintenance_.WaitForNotificationWithTimeout(period)) {
    size_t learner_states = 0;
    for (const std::shared_ptr<LiveMemory>& memory : registry_->All()) {
      memory->DropIdleLearners();
      learner_states += memory->learner_states();
    }
    metrics_->SetLearnerStates(learner_states);
  }
}

absl::Status LrmemServer::StartServing() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(),
                           &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    absl::Status error = absl::UnavailableError(
        absl::StrCat("cannot listen on '", options_.listen, "'"));
    LOG(ERROR) << error;
    server_.reset();
    return error;
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);
  LOG(INFO) << "lrmem server listening on " << options_.listen << " (port "
            << port_ << "), data in '" << options_.data_dir << "', "
            << registry_->size() << " memories";
  return absl::OkStatus();
}

LrmemServer::~LrmemServer() { Shutdown(); }

void LrmemServer::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (maintenance_.joinable()) {
    stop_maintenance_.Notify();
    maintenance_.join();
  }
  if (server_ != nullptr) {
    LOG(INFO) << "shutting down";
    // Health first, so that load balancers stop sending work at once.
    server_->GetHealthCheckService()->Shutdown();
    service_->StopStreams();
    const absl::Time deadline = absl::Now() + options_.shutdown_grace_period;
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
    server_.reset();
  }
  if (store_ != nullptr) {
    absl::Status status = store_->Flush();
    if (!status.ok()) LOG(ERROR) << "flushing the store: " << status;
  }
  service_.reset();
  admin_.reset();
  registry_.reset();
  store_.reset();
  LOG(INFO) << "shut down";
}

}  // namespace lrmem
