#include "server/crc32c.h"

#include <array>

namespace lrmem {
namespace {

constexpr uint32_t kReflectedPolynomial = 0x82F63B78u;

// One entry per byte value: the CRC of that byte alone, without the initial
// value and final xor.
std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) ? (crc >> 1) ^ kReflectedPolynomial : crc >> 1;
    }
    table[byte] = crc;
  }
  return table;
}

}  // namespace

uint32_t Crc32c(absl::string_view data) {
  // Export files are small and rare: a byte-wise table is fast enough.
  static const std::array<uint32_t, 256> kTable = MakeTable();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc = kTable[(crc ^ c) & 0xFFu] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace lrmem
