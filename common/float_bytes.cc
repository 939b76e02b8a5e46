#include "common/float_bytes.h"

#include <cstring>

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"

namespace lrmem {

static_assert(sizeof(float) == 4, "float32 is required");
#if !defined(ABSL_IS_LITTLE_ENDIAN)
#error "lrmem's wire format is little-endian; big-endian hosts need a swap"
#endif

void PackFloats(absl::Span<const float> values, std::string* out) {
  // assign, unlike resize and copy, writes every byte once.
  out->assign(reinterpret_cast<const char*>(values.data()),
              values.size() * sizeof(float));
}

std::string PackFloats(absl::Span<const float> values) {
  std::string out;
  PackFloats(values, &out);
  return out;
}

absl::Status CountFloats(absl::string_view bytes, absl::string_view what,
                         size_t* count) {
  if (bytes.size() % sizeof(float) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", bytes.size(),
                     " bytes is not a whole number of float32 values"));
  }
  *count = bytes.size() / sizeof(float);
  return absl::OkStatus();
}

absl::Status UnpackFloats(absl::string_view bytes, absl::string_view what,
                          std::vector<float>* out) {
  size_t count = 0;
  absl::Status s = CountFloats(bytes, what, &count);
  if (!s.ok()) return s;
  out->resize(count);
  if (count > 0) std::memcpy(out->data(), bytes.data(), bytes.size());
  return absl::OkStatus();
}

}  // namespace lrmem
