// Conversions between MemoryConfig and its wire form, lrmem.v1.MemoryConfig.

#ifndef LRMEM_COMMON_CONFIG_PROTO_H_
#define LRMEM_COMMON_CONFIG_PROTO_H_

#include "absl/status/statusor.h"
#include "common/memory_config.h"
#include "lrmem/v1/memory.pb.h"

namespace lrmem {

// Every field set explicitly.
v1::MemoryConfig ConfigToProto(const MemoryConfig& config);

// Unset fields take MemoryConfig's defaults; the result is validated.
// INVALID_ARGUMENT names the offending field.
absl::StatusOr<MemoryConfig> ConfigFromProto(const v1::MemoryConfig& proto);

}  // namespace lrmem

#endif  // LRMEM_COMMON_CONFIG_PROTO_H_
