// lrmemctl: the admin command-line tool of an lrmem server.
//
//   lrmemctl [--server=HOST:PORT] [--json] COMMAND ARGS...
//
// Prints the result on stdout (as JSON with --json). On failure prints one
// line on stderr and exits non-zero: 1 for an error from the server, 2 for
// a usage error, 3 for a local file error.

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gflags/gflags.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "lrmem/v1/service.grpc.pb.h"
#include "nlohmann/json.hpp"

DEFINE_string(server, "127.0.0.1:50051", "the lrmem server, HOST:PORT");
DEFINE_bool(json, false, "print results as JSON");
DEFINE_int32(timeout_ms, 30000, "deadline of each call");
DEFINE_bool(overwrite, false, "restore, import: replace an existing memory");
DEFINE_bool(reset_optimizer, false,
            "restore: keep only the learned values (clear the optimizer's "
            "moments, counts and learners' sequence numbers)");
DEFINE_bool(from_snapshot, false, "export: NAME is a snapshot, not a memory");
DEFINE_string(memory, "", "snapshots: only those taken from this memory");

// Config of `create`; a flag left at its default leaves the field unset,
// which means the server's default.
DEFINE_uint32(num_local_models, 21, "create: local models per group");
DEFINE_string(center_layout, "log", "create: 'even' or 'log'");
DEFINE_double(clip, 2.0, "create: signals are clipped to [-clip, clip]");
DEFINE_double(smallest_magnitude, 1e-4,
              "create: smallest nonzero center magnitude (log layout)");
DEFINE_double(width_scale, 0.1, "create: width as a fraction of spacing");
DEFINE_double(initial_learning_rate, 1e-3, "create: where values start");
DEFINE_double(lr_min, 1e-9, "create: lower bound of the learned values");
DEFINE_double(lr_max, 1.0, "create: upper bound of the learned values");
DEFINE_string(meta_optimizer, "sgd", "create: 'sgd' or 'adam'");
DEFINE_double(meta_learning_rate, 0.01, "create: the memory's own step size");
DEFINE_double(adam_beta1, 0.9, "create: Adam meta optimizer beta1");
DEFINE_double(adam_beta2, 0.999, "create: Adam meta optimizer beta2");
DEFINE_double(adam_epsilon, 1e-8, "create: Adam meta optimizer epsilon");
DEFINE_string(change_rule, "clamped_product",
              "create: 'clamped_product' or 'sign'");
DEFINE_double(value_smoothing, 0.0,
              "create: pull of each value towards its neighbours, [0, 1)");

namespace {

using lrmem::v1::LearningRateMemory;
using nlohmann::json;

constexpr char kUsage[] =
    R"(lrmemctl [--server=HOST:PORT] [--json] COMMAND ARGS...

commands:
  create NAME [--num_local_models=N --center_layout=even|log --clip=X ...]
  list
  show NAME                       config, steps and each group's curve
  delete NAME
  snapshot MEMORY SNAPSHOT        take a snapshot
  snapshots [--memory=NAME]       list snapshots
  restore SNAPSHOT MEMORY [--overwrite] [--reset_optimizer]
  copy SOURCE DESTINATION
  export NAME FILE [--from_snapshot]
  import FILE MEMORY [--overwrite]
  health)";

// A failure to report: its exit code and one line of text.
struct Failure {
  int exit_code;
  std::string message;
};

[[noreturn]] void Fail(const Failure& failure) {
  std::cerr << "lrmemctl: " << failure.message << "\n";
  std::exit(failure.exit_code);
}

[[noreturn]] void UsageError(const std::string& message) {
  Fail({2, absl::StrCat(message, " (lrmemctl --help for usage)")});
}

std::string CodeName(grpc::StatusCode code) {
  static const std::map<int, std::string> kNames = {{0, "OK"},
                                                    {1, "CANCELLED"},
                                                    {2, "UNKNOWN"},
                                                    {3, "INVALID_ARGUMENT"},
                                                    {4, "DEADLINE_EXCEEDED"},
                                                    {5, "NOT_FOUND"},
                                                    {6, "ALREADY_EXISTS"},
                                                    {7, "PERMISSION_DENIED"},
                                                    {8, "RESOURCE_EXHAUSTED"},
                                                    {9, "FAILED_PRECONDITION"},
                                                    {10, "ABORTED"},
                                                    {11, "OUT_OF_RANGE"},
                                                    {12, "UNIMPLEMENTED"},
                                                    {13, "INTERNAL"},
                                                    {14, "UNAVAILABLE"},
                                                    {15, "DATA_LOSS"},
                                                    {16, "UNAUTHENTICATED"}};
  auto it = kNames.find(static_cast<int>(code));
  return it == kNames.end() ? absl::StrCat("code ", code) : it->second;
}

void CheckRpc(const grpc::Status& status) {
  if (status.ok()) return;
  Fail({1, absl::StrCat(CodeName(status.error_code()), ": ",
                        status.error_message())});
}

json ToJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  google::protobuf::util::MessageToJsonString(message, &text, options);
  return json::parse(text);
}

void PrintJson(const json& value) { std::cout << value.dump(2) << "\n"; }

// Everything a command needs: its arguments and a stub to the server.
struct Context {
  std::vector<std::string> args;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<LearningRateMemory::Stub> stub;

  std::unique_ptr<grpc::ClientContext> Call() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(FLAGS_timeout_ms));
    return context;
  }
  void ExpectArgs(size_t count, const char* usage) const {
    if (args.size() != count) UsageError(absl::StrCat("usage: ", usage));
  }
};

bool FlagIsSet(const char* name) {
  return !gflags::GetCommandLineFlagInfoOrDie(name).is_default;
}

// The value of a config flag, which the API carries as a 32-bit float: a
// usage error when it does not fit one (beyond +-3.4e38, or so small that it
// would become 0).
float FloatFlag(const char* name) {
  const std::string text =
      gflags::GetCommandLineFlagInfoOrDie(name).current_value;
  const double value = std::strtod(text.c_str(), nullptr);
  const float rounded = static_cast<float>(value);
  if (std::isinf(rounded) != std::isinf(value) ||
      (rounded == 0.0f && value != 0.0)) {
    UsageError(
        absl::StrCat("--", name, "=", value, " does not fit a 32-bit float"));
  }
  return rounded;
}

lrmem::v1::MemoryConfig ConfigFromFlags() {
  lrmem::v1::MemoryConfig config;
  if (FlagIsSet("num_local_models")) {
    config.set_num_local_models(FLAGS_num_local_models);
  }
  if (FlagIsSet("center_layout")) {
    if (FLAGS_center_layout == "even") {
      config.set_center_layout(lrmem::v1::CENTER_LAYOUT_EVEN);
    } else if (FLAGS_center_layout == "log") {
      config.set_center_layout(lrmem::v1::CENTER_LAYOUT_LOG);
    } else {
      UsageError("--center_layout must be 'even' or 'log'");
    }
  }
  if (FlagIsSet("meta_optimizer")) {
    if (FLAGS_meta_optimizer == "sgd") {
      config.set_meta_optimizer(lrmem::v1::META_OPTIMIZER_SGD);
    } else if (FLAGS_meta_optimizer == "adam") {
      config.set_meta_optimizer(lrmem::v1::META_OPTIMIZER_ADAM);
    } else {
      UsageError("--meta_optimizer must be 'sgd' or 'adam'");
    }
  }
  if (FlagIsSet("change_rule")) {
    if (FLAGS_change_rule == "clamped_product") {
      config.set_change_rule(lrmem::v1::CHANGE_RULE_CLAMPED_PRODUCT);
    } else if (FLAGS_change_rule == "sign") {
      config.set_change_rule(lrmem::v1::CHANGE_RULE_SIGN);
    } else {
      UsageError("--change_rule must be 'clamped_product' or 'sign'");
    }
  }
  const std::vector<std::pair<const char*, std::function<void(float)>>> floats =
      {{"clip", [&](float v) { config.set_clip(v); }},
       {"smallest_magnitude",
        [&](float v) { config.set_smallest_magnitude(v); }},
       {"width_scale", [&](float v) { config.set_width_scale(v); }},
       {"initial_learning_rate",
        [&](float v) { config.set_initial_learning_rate(v); }},
       {"lr_min", [&](float v) { config.set_lr_min(v); }},
       {"lr_max", [&](float v) { config.set_lr_max(v); }},
       {"meta_learning_rate",
        [&](float v) { config.set_meta_learning_rate(v); }},
       {"adam_beta1", [&](float v) { config.set_adam_beta1(v); }},
       {"adam_beta2", [&](float v) { config.set_adam_beta2(v); }},
       {"adam_epsilon", [&](float v) { config.set_adam_epsilon(v); }},
       {"value_smoothing", [&](float v) { config.set_value_smoothing(v); }}};
  for (const auto& [name, set] : floats) {
    if (!FlagIsSet(name)) continue;
    set(FloatFlag(name));
  }
  return config;
}

void PrintMemory(const lrmem::v1::MemoryInfo& info, bool with_curves) {
  if (FLAGS_json) {
    json out = ToJson(info);
    if (with_curves) {
      for (size_t g = 0; g < out["groups"].size(); ++g) {
        json curve = json::array();
        const auto& group = info.groups(static_cast<int>(g));
        for (int m = 0; m < group.values_size() && m < info.centers_size();
             ++m) {
          curve.push_back(
              {{"center", info.centers(m)}, {"value", group.values(m)}});
        }
        out["groups"][g]["curve"] = curve;
      }
    }
    PrintJson(out);
    return;
  }
  std::cout << "memory " << info.name() << ": " << info.steps() << " steps, "
            << info.groups_size() << " groups, " << info.active_sessions()
            << " active sessions\n";
  if (!with_curves) return;
  std::string config;
  google::protobuf::util::MessageToJsonString(info.config(), &config);
  std::cout << "config " << config << "\n";
  for (const lrmem::v1::GroupInfo& group : info.groups()) {
    std::cout << "group " << group.name() << ": " << group.updates()
              << " updates, last size " << group.last_size() << "\n";
    for (int m = 0; m < group.values_size() && m < info.centers_size(); ++m) {
      std::cout << absl::StrFormat("  %+14.6g -> %.9g\n", info.centers(m),
                                   group.values(m));
    }
  }
}

void PrintSnapshot(const lrmem::v1::SnapshotInfo& info) {
  std::cout << "snapshot " << info.name() << ": memory " << info.source_memory()
            << " at step " << info.source_steps() << ", " << info.groups()
            << " groups\n";
}

int Create(const Context& c) {
  c.ExpectArgs(1, "create NAME [config flags]");
  lrmem::v1::CreateMemoryRequest request;
  request.set_name(c.args[0]);
  *request.mutable_config() = ConfigFromFlags();
  lrmem::v1::MemoryInfo info;
  CheckRpc(c.stub->CreateMemory(c.Call().get(), request, &info));
  PrintMemory(info, /*with_curves=*/false);
  return 0;
}

int List(const Context& c) {
  c.ExpectArgs(0, "list");
  lrmem::v1::ListMemoriesRequest request;
  json all = json::array();
  do {
    lrmem::v1::ListMemoriesResponse response;
    CheckRpc(c.stub->ListMemories(c.Call().get(), request, &response));
    for (const lrmem::v1::MemoryInfo& info : response.memories()) {
      if (FLAGS_json) {
        all.push_back(ToJson(info));
      } else {
        PrintMemory(info, /*with_curves=*/false);
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (FLAGS_json) PrintJson(all);
  return 0;
}

int Show(const Context& c) {
  c.ExpectArgs(1, "show NAME");
  lrmem::v1::GetMemoryRequest request;
  request.set_name(c.args[0]);
  request.set_include_values(true);
  lrmem::v1::MemoryInfo info;
  CheckRpc(c.stub->GetMemory(c.Call().get(), request, &info));
  PrintMemory(info, /*with_curves=*/true);
  return 0;
}

int Delete(const Context& c) {
  c.ExpectArgs(1, "delete NAME");
  lrmem::v1::DeleteMemoryRequest request;
  request.set_name(c.args[0]);
  lrmem::v1::DeleteMemoryResponse response;
  CheckRpc(c.stub->DeleteMemory(c.Call().get(), request, &response));
  if (FLAGS_json) {
    PrintJson({{"deleted", c.args[0]}});
  } else {
    std::cout << "deleted memory " << c.args[0] << "\n";
  }
  return 0;
}

int Snapshot(const Context& c) {
  c.ExpectArgs(2, "snapshot MEMORY SNAPSHOT");
  lrmem::v1::CreateSnapshotRequest request;
  request.set_memory(c.args[0]);
  request.set_snapshot(c.args[1]);
  lrmem::v1::SnapshotInfo info;
  CheckRpc(c.stub->CreateSnapshot(c.Call().get(), request, &info));
  if (FLAGS_json) {
    PrintJson(ToJson(info));
  } else {
    PrintSnapshot(info);
  }
  return 0;
}

int Snapshots(const Context& c) {
  c.ExpectArgs(0, "snapshots [--memory=NAME]");
  lrmem::v1::ListSnapshotsRequest request;
  request.set_memory(FLAGS_memory);
  json all = json::array();
  do {
    lrmem::v1::ListSnapshotsResponse response;
    CheckRpc(c.stub->ListSnapshots(c.Call().get(), request, &response));
    for (const lrmem::v1::SnapshotInfo& info : response.snapshots()) {
      if (FLAGS_json) {
        all.push_back(ToJson(info));
      } else {
        PrintSnapshot(info);
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (FLAGS_json) PrintJson(all);
  return 0;
}

int Restore(const Context& c) {
  c.ExpectArgs(2, "restore SNAPSHOT MEMORY [--overwrite] [--reset_optimizer]");
  lrmem::v1::RestoreSnapshotRequest request;
  request.set_snapshot(c.args[0]);
  request.set_memory(c.args[1]);
  request.set_overwrite(FLAGS_overwrite);
  request.set_reset_optimizer(FLAGS_reset_optimizer);
  lrmem::v1::MemoryInfo info;
  CheckRpc(c.stub->RestoreSnapshot(c.Call().get(), request, &info));
  PrintMemory(info, /*with_curves=*/false);
  return 0;
}

int Copy(const Context& c) {
  c.ExpectArgs(2, "copy SOURCE DESTINATION");
  lrmem::v1::CopyMemoryRequest request;
  request.set_source(c.args[0]);
  request.set_destination(c.args[1]);
  lrmem::v1::MemoryInfo info;
  CheckRpc(c.stub->CopyMemory(c.Call().get(), request, &info));
  PrintMemory(info, /*with_curves=*/false);
  return 0;
}

int Export(const Context& c) {
  c.ExpectArgs(2, "export NAME FILE [--from_snapshot]");
  lrmem::v1::ExportRequest request;
  if (FLAGS_from_snapshot) {
    request.set_snapshot(c.args[0]);
  } else {
    request.set_memory(c.args[0]);
  }
  lrmem::v1::ExportResponse response;
  CheckRpc(c.stub->Export(c.Call().get(), request, &response));
  std::ofstream out(c.args[1], std::ios::binary | std::ios::trunc);
  out.write(response.file().data(),
            static_cast<std::streamsize>(response.file().size()));
  out.close();
  if (!out) Fail({3, absl::StrCat("cannot write '", c.args[1], "'")});
  if (FLAGS_json) {
    PrintJson({{"exported", c.args[0]},
               {"file", c.args[1]},
               {"bytes", response.file().size()}});
  } else {
    std::cout << "exported " << c.args[0] << " to " << c.args[1] << " ("
              << response.file().size() << " bytes)\n";
  }
  return 0;
}

int Import(const Context& c) {
  c.ExpectArgs(2, "import FILE MEMORY [--overwrite]");
  std::error_code error;
  if (!std::filesystem::is_regular_file(c.args[0], error)) {
    Fail({3, absl::StrCat("cannot read '", c.args[0], "': ",
                          error ? error.message() : "not a regular file")});
  }
  std::ifstream in(c.args[0], std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in || in.bad()) Fail({3, absl::StrCat("cannot read '", c.args[0], "'")});
  lrmem::v1::ImportRequest request;
  request.set_file(contents.str());
  request.set_memory(c.args[1]);
  request.set_overwrite(FLAGS_overwrite);
  lrmem::v1::MemoryInfo info;
  CheckRpc(c.stub->Import(c.Call().get(), request, &info));
  PrintMemory(info, /*with_curves=*/false);
  return 0;
}

int Health(const Context& c) {
  c.ExpectArgs(0, "health");
  // grpc.health.v1.Health/Check by hand: the request is an empty service
  // name, the answer field 1 holds the status (1 = SERVING).
  grpc::GenericStub generic(c.channel);
  grpc::ByteBuffer request_buffer;
  grpc::Slice empty_request("", 0);
  request_buffer = grpc::ByteBuffer(&empty_request, 1);
  grpc::ByteBuffer response_buffer;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status status;
  auto context = c.Call();
  generic.UnaryCall(context.get(), "/grpc.health.v1.Health/Check",
                    grpc::StubOptions(), &request_buffer, &response_buffer,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = std::move(s);
                      done = true;
                      done_cv.notify_one();
                    });
  {
    std::unique_lock<std::mutex> lock(mu);
    done_cv.wait(lock, [&] { return done; });
  }
  CheckRpc(status);
  std::vector<grpc::Slice> slices;
  response_buffer.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  // Field 1, varint: tag byte 0x08 then the value.
  const int serving_status =
      (bytes.size() >= 2 && bytes[0] == 0x08) ? bytes[1] : 0;
  static const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                 "SERVICE_UNKNOWN"};
  const char* name = serving_status >= 0 && serving_status <= 3
                         ? kNames[serving_status]
                         : "UNKNOWN";
  if (FLAGS_json) {
    PrintJson({{"status", name}});
  } else {
    std::cout << name << "\n";
  }
  return serving_status == 1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (argc < 2) UsageError("missing command");

  const std::map<std::string, std::function<int(const Context&)>> commands = {
      {"create", Create},   {"list", List},         {"show", Show},
      {"delete", Delete},   {"snapshot", Snapshot}, {"snapshots", Snapshots},
      {"restore", Restore}, {"copy", Copy},         {"export", Export},
      {"import", Import},   {"health", Health}};
  auto command = commands.find(argv[1]);
  if (command == commands.end()) {
    UsageError(absl::StrCat("unknown command '", argv[1], "'"));
  }

  Context context;
  context.args.assign(argv + 2, argv + argc);
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(-1);
  context.channel = grpc::CreateCustomChannel(
      FLAGS_server, grpc::InsecureChannelCredentials(), channel_args);
  context.stub = LearningRateMemory::NewStub(context.channel);
  return command->second(context);
}
