#include "common/validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/signal_kernels.h"

namespace lrmem {
namespace {

// Length of the UTF-8 sequence starting at `s[i]` and its code point, or 0
// when the bytes there are not well-formed UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t lead = byte(i);
  size_t length = 0;
  uint32_t cp = 0;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[length] || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  *code_point = cp;
  return length;
}

// Floats checked per block by AllFinite.
constexpr size_t kFiniteBlock = 4096;

// Whether none of the n floats is NaN or an infinity: their exponent bits
// are all ones.
LRMEM_MULTIVERSION
bool AllFinite(const float* __restrict values, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = kernels::FloatBits(values[i]);
    bad |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
  }
  return bad == 0;
}

}  // namespace

absl::Status CheckFinite(absl::Span<const float> values,
                         absl::string_view what) {
  // Look for the first bad block with a loop that vectorizes (no early
  // exit inside a block), then for the bad index inside it.
  size_t from = 0;
  while (from < values.size()) {
    const size_t count = std::min(kFiniteBlock, values.size() - from);
    if (!AllFinite(values.data() + from, count)) break;
    from += count;
  }
  for (size_t i = from; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    const char* kind = std::isnan(values[i]) ? "NaN"
                       : values[i] > 0       ? "+Inf"
                                             : "-Inf";
    return absl::InvalidArgumentError(
        absl::StrCat(what, " at index ", i, " is ", kind));
  }
  return absl::OkStatus();
}

absl::Status ValidateName(absl::string_view kind, absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kind, " name is empty"));
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " name is ", name.size(),
                     " bytes long; the limit is ", kMaxNameBytes));
  }
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    const size_t length = DecodeUtf8(name, i, &cp);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, " name is not valid UTF-8 (at byte ", i, ")"));
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s name contains control character U+%04X at byte %d", kind, cp, i));
    }
    i += length;
  }
  return absl::OkStatus();
}

}  // namespace lrmem
