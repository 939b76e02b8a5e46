// The one place where the client turns a grpc::Status into an absl::Status.
// The two share the google.rpc.Code numbering, so the server's code and
// message pass through unchanged.

#ifndef LRMEM_CLIENT_GRPC_STATUS_H_
#define LRMEM_CLIENT_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace lrmem {

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace lrmem

#endif  // LRMEM_CLIENT_GRPC_STATUS_H_
