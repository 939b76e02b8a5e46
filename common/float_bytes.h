// Float arrays on the wire: packed little-endian IEEE-754 float32, four
// bytes per value, no header. One memcpy on little-endian hosts.

#ifndef LRMEM_COMMON_FLOAT_BYTES_H_
#define LRMEM_COMMON_FLOAT_BYTES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace lrmem {

// Appends nothing else to `out`: replaces its contents.
void PackFloats(absl::Span<const float> values, std::string* out);
std::string PackFloats(absl::Span<const float> values);

// Number of floats in `bytes`, or INVALID_ARGUMENT naming `what` when the
// length is not a multiple of four.
absl::Status CountFloats(absl::string_view bytes, absl::string_view what,
                         size_t* count);

// Replaces `out` with the floats in `bytes`. INVALID_ARGUMENT naming `what`
// when the length is not a multiple of four.
absl::Status UnpackFloats(absl::string_view bytes, absl::string_view what,
                          std::vector<float>* out);

}  // namespace lrmem

#endif  // LRMEM_COMMON_FLOAT_BYTES_H_
