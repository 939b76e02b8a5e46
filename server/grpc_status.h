// The one place where an absl::Status becomes a grpc::Status. The codes
// share their numbering (both follow google.rpc.Code).

#ifndef LRMEM_SERVER_GRPC_STATUS_H_
#define LRMEM_SERVER_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace lrmem {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace lrmem

#endif  // LRMEM_SERVER_GRPC_STATUS_H_
