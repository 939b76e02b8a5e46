// CRC-32C (Castagnoli), the checksum that guards export files.

#ifndef LRMEM_SERVER_CRC32C_H_
#define LRMEM_SERVER_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace lrmem {

// The CRC-32C of `data` (reflected polynomial 0x82F63B78, initial value and
// final xor 0xFFFFFFFF); Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(absl::string_view data);

}  // namespace lrmem

#endif  // LRMEM_SERVER_CRC32C_H_
