#include "lrmem/client.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"
#include "common/config_proto.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace lrmem {
namespace {

using Stub = v1::LearningRateMemory::Stub;

template <typename Request, typename Response>
using UnaryMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&,
                                           Response*);

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// One unary RPC with the client's deadline.
template <typename Request, typename Response>
absl::StatusOr<Response> Call(Stub& stub, UnaryMethod<Request, Response> method,
                              const Request& request,
                              const ClientOptions& options) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

Client::Client(const std::string& address, ClientOptions options)
    : Client(MakeChannel(address, options), options) {}

Client::Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(options),
      channel_(std::move(channel)),
      stub_(v1::LearningRateMemory::NewStub(channel_)) {}

absl::Status Client::WaitForConnection() const {
  const auto deadline =
      absl::ToChronoTime(absl::Now() + options_.connect_timeout);
  if (channel_->WaitForConnected(deadline)) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("cannot connect to the lrmem server within ",
                   absl::FormatDuration(options_.connect_timeout)));
}

absl::StatusOr<v1::MemoryInfo> Client::CreateMemory(
    absl::string_view name, const MemoryConfig& config) {
  v1::CreateMemoryRequest request;
  request.set_name(std::string(name));
  *request.mutable_config() = ConfigToProto(config);
  return Call(*stub_, &Stub::CreateMemory, request, options_);
}

absl::StatusOr<v1::MemoryInfo> Client::GetMemory(absl::string_view name,
                                                 bool include_values) {
  v1::GetMemoryRequest request;
  request.set_name(std::string(name));
  request.set_include_values(include_values);
  return Call(*stub_, &Stub::GetMemory, request, options_);
}

absl::StatusOr<std::vector<v1::MemoryInfo>> Client::ListMemories() {
  std::vector<v1::MemoryInfo> memories;
  v1::ListMemoriesRequest request;
  do {
    absl::StatusOr<v1::ListMemoriesResponse> page =
        Call(*stub_, &Stub::ListMemories, request, options_);
    if (!page.ok()) return page.status();
    for (v1::MemoryInfo& info : *page->mutable_memories()) {
      memories.push_back(std::move(info));
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return memories;
}

absl::Status Client::DeleteMemory(absl::string_view name) {
  v1::DeleteMemoryRequest request;
  request.set_name(std::string(name));
  return Call(*stub_, &Stub::DeleteMemory, request, options_).status();
}

absl::StatusOr<v1::MemoryInfo> Client::CopyMemory(
    absl::string_view source, absl::string_view destination) {
  v1::CopyMemoryRequest request;
  request.set_source(std::string(source));
  request.set_destination(std::string(destination));
  return Call(*stub_, &Stub::CopyMemory, request, options_);
}

absl::StatusOr<v1::SnapshotInfo> Client::CreateSnapshot(
    absl::string_view memory, absl::string_view snapshot) {
  v1::CreateSnapshotRequest request;
  request.set_memory(std::string(memory));
  request.set_snapshot(std::string(snapshot));
  return Call(*stub_, &Stub::CreateSnapshot, request, options_);
}

absl::StatusOr<std::vector<v1::SnapshotInfo>> Client::ListSnapshots(
    absl::string_view memory) {
  std::vector<v1::SnapshotInfo> snapshots;
  v1::ListSnapshotsRequest request;
  request.set_memory(std::string(memory));
  do {
    absl::StatusOr<v1::ListSnapshotsResponse> page =
        Call(*stub_, &Stub::ListSnapshots, request, options_);
    if (!page.ok()) return page.status();
    for (v1::SnapshotInfo& info : *page->mutable_snapshots()) {
      snapshots.push_back(std::move(info));
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return snapshots;
}

absl::Status Client::DeleteSnapshot(absl::string_view snapshot) {
  v1::DeleteSnapshotRequest request;
  request.set_snapshot(std::string(snapshot));
  return Call(*stub_, &Stub::DeleteSnapshot, request, options_).status();
}

absl::StatusOr<v1::MemoryInfo> Client::RestoreSnapshot(
    absl::string_view snapshot, absl::string_view memory,
    RestoreOptions options) {
  v1::RestoreSnapshotRequest request;
  request.set_snapshot(std::string(snapshot));
  request.set_memory(std::string(memory));
  request.set_overwrite(options.overwrite);
  request.set_reset_optimizer(options.reset_optimizer);
  return Call(*stub_, &Stub::RestoreSnapshot, request, options_);
}

absl::StatusOr<std::string> Client::ExportMemory(absl::string_view memory) {
  v1::ExportRequest request;
  request.set_memory(std::string(memory));
  absl::StatusOr<v1::ExportResponse> response =
      Call(*stub_, &Stub::Export, request, options_);
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_file());
}

absl::StatusOr<std::string> Client::ExportSnapshot(absl::string_view snapshot) {
  v1::ExportRequest request;
  request.set_snapshot(std::string(snapshot));
  absl::StatusOr<v1::ExportResponse> response =
      Call(*stub_, &Stub::Export, request, options_);
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_file());
}

absl::StatusOr<v1::MemoryInfo> Client::Import(const std::string& file,
                                              absl::string_view memory,
                                              bool overwrite) {
  v1::ImportRequest request;
  request.set_file(file);
  request.set_memory(std::string(memory));
  request.set_overwrite(overwrite);
  return Call(*stub_, &Stub::Import, request, options_);
}

}  // namespace lrmem
