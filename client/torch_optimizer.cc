#include "lrmem/torch_optimizer.h"

#include <cstring>
#include <stdexcept>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "torch/utils.h"

namespace lrmem {
namespace {

// The defaults torch::optim::Optimizer requires. The memory decides the
// learning rates; get_lr reports the memory's initial one so that code
// printing the optimizer's rate shows something meaningful.
class TorchDefaults
    : public torch::optim::OptimizerCloneableOptions<TorchDefaults> {
 public:
  explicit TorchDefaults(double lr) : lr_(lr) {}
  double get_lr() const override { return lr_; }
  void set_lr(const double lr) override { lr_ = lr; }

 private:
  double lr_;
};

std::string GroupOf(const std::string& name, Grouping grouping) {
  if (grouping == Grouping::kPerParameter) return name;
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

absl::Status CheckParameter(const std::string& name,
                            const torch::Tensor& tensor) {
  if (!tensor.defined() || tensor.scalar_type() != torch::kFloat32 ||
      !tensor.device().is_cpu() || !tensor.is_contiguous()) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", name,
                     "' must be a defined, contiguous float32 CPU tensor"));
  }
  return absl::OkStatus();
}

absl::Span<float> Floats(const torch::Tensor& tensor) {
  return absl::MakeSpan(tensor.data_ptr<float>(),
                        static_cast<size_t>(tensor.numel()));
}

}  // namespace

// A memory group and the tensors it covers. A group of several tensors is
// gathered into contiguous buffers for the step and scattered back.
struct MemoryOptimizer::Binding {
  std::string group;
  std::vector<torch::Tensor> params;
  int64_t size = 0;
  std::vector<float> param_buffer;
  std::vector<float> grad_buffer;
  // A contiguous float32 copy of a gradient that was neither, kept alive
  // for the step.
  torch::Tensor grad_holder;

  bool HasGradient() const {
    for (const torch::Tensor& param : params) {
      if (param.grad().defined()) return true;
    }
    return false;
  }
  GroupParameters Prepare();
  void Finish();
};

GroupParameters MemoryOptimizer::Binding::Prepare() {
  if (params.size() == 1) {
    grad_holder = params[0].grad().to(torch::kFloat32).contiguous();
    return {group, Floats(params[0]), Floats(grad_holder)};
  }
  param_buffer.resize(size);
  grad_buffer.assign(size, 0.0f);
  size_t offset = 0;
  for (const torch::Tensor& param : params) {
    const size_t n = static_cast<size_t>(param.numel());
    std::memcpy(&param_buffer[offset], param.data_ptr<float>(), n * 4);
    if (param.grad().defined()) {
      torch::Tensor grad = param.grad().to(torch::kFloat32).contiguous();
      std::memcpy(&grad_buffer[offset], grad.data_ptr<float>(), n * 4);
    }
    offset += n;
  }
  return {group, absl::MakeSpan(param_buffer), grad_buffer};
}

void MemoryOptimizer::Binding::Finish() {
  grad_holder = torch::Tensor();
  if (params.size() == 1) return;
  size_t offset = 0;
  for (const torch::Tensor& param : params) {
    const size_t n = static_cast<size_t>(param.numel());
    std::memcpy(param.data_ptr<float>(), &param_buffer[offset], n * 4);
    offset += n;
  }
}

absl::StatusOr<std::unique_ptr<MemoryOptimizer>> MemoryOptimizer::Create(
    const std::vector<std::pair<std::string, torch::Tensor>>& named_parameters,
    MemoryOptimizerOptions options) {
  if (options.memory.empty()) {
    return absl::InvalidArgumentError("MemoryOptimizer needs a memory name");
  }
  if (options.server_address.empty() && options.embedded_data_dir.empty()) {
    return absl::InvalidArgumentError(
        "MemoryOptimizer needs a server address or an embedded data dir");
  }

  // Group the parameters, keeping their order.
  std::vector<torch::Tensor> parameters;
  std::vector<Binding> bindings;
  absl::flat_hash_map<std::string, size_t> binding_of;
  for (const auto& [name, tensor] : named_parameters) {
    absl::Status status = CheckParameter(name, tensor);
    if (!status.ok()) return status;
    parameters.push_back(tensor);
    const std::string group = GroupOf(name, options.grouping);
    auto [it, added] = binding_of.emplace(group, bindings.size());
    if (added) {
      bindings.emplace_back();
      bindings.back().group = group;
    }
    bindings[it->second].params.push_back(tensor);
    bindings[it->second].size += tensor.numel();
  }

  std::unique_ptr<MemoryOptimizer> optimizer(
      new MemoryOptimizer(std::move(parameters), std::move(options)));
  optimizer->bindings_ = std::move(bindings);
  absl::Status status = optimizer->Connect();
  if (!status.ok()) return status;
  return optimizer;
}

MemoryOptimizer::MemoryOptimizer(std::vector<torch::Tensor> parameters,
                                 MemoryOptimizerOptions options)
    : torch::optim::Optimizer(
          {torch::optim::OptimizerParamGroup(std::move(parameters))},
          std::make_unique<TorchDefaults>(
              options.config.initial_learning_rate)),
      options_(std::move(options)) {}

MemoryOptimizer::~MemoryOptimizer() = default;

absl::Status MemoryOptimizer::Connect() {
  // The server: the given one, or one of our own.
  address_ = options_.server_address;
  if (address_.empty()) {
    EmbeddedServer::Options embedded_options;
    embedded_options.data_dir = options_.embedded_data_dir;
    absl::StatusOr<std::unique_ptr<EmbeddedServer>> embedded =
        EmbeddedServer::Start(embedded_options);
    if (!embedded.ok()) return embedded.status();
    embedded_ = *std::move(embedded);
    address_ = embedded_->address();
  }
  client_ = std::make_unique<Client>(address_, options_.client);

  // The training session, one group per binding.
  SessionOptions session;
  session.memory = options_.memory;
  session.learner_id = options_.learner_id;
  session.mode =
      options_.statistics_mode ? SessionMode::kStatistics : SessionMode::kRates;
  session.create_if_missing = options_.create_if_missing;
  session.config = options_.config;
  for (const Binding& binding : bindings_) {
    session.groups.push_back(
        {binding.group, static_cast<uint64_t>(binding.size)});
  }
  WrappedOptimizerOptions wrapped;
  wrapped.base = options_.base;
  wrapped.adam = options_.adam;
  absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> optimizer =
      MemoryWrappedOptimizer::Create(client_.get(), std::move(session),
                                     wrapped);
  if (!optimizer.ok()) return optimizer.status();
  optimizer_ = *std::move(optimizer);
  return absl::OkStatus();
}

absl::Status MemoryOptimizer::StepGroups() {
  torch::NoGradGuard no_grad;
  std::vector<Binding*> stepped;
  std::vector<GroupParameters> groups;
  for (Binding& binding : bindings_) {
    if (!binding.HasGradient()) continue;
    groups.push_back(binding.Prepare());
    stepped.push_back(&binding);
  }
  if (groups.empty()) return absl::OkStatus();

  absl::Status status = optimizer_->Step(groups);
  for (Binding* binding : stepped) {
    if (status.ok()) binding->Finish();
    binding->grad_holder = torch::Tensor();
  }
  return status;
}

torch::Tensor MemoryOptimizer::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure != nullptr) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  last_status_ = StepGroups();
  if (!last_status_.ok() && !optimizer_->last_step_skipped()) {
    throw std::runtime_error(last_status_.ToString());
  }
  return loss;
}

int64_t MemoryOptimizer::skipped_steps() const {
  return optimizer_->skipped_steps();
}

const std::vector<GroupDeclaration>& MemoryOptimizer::groups() const {
  return optimizer_->session().options().groups;
}

}  // namespace lrmem
