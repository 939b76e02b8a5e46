// Checks on user input shared by the server and the client: finite arrays
// and well-formed names.

#ifndef LRMEM_COMMON_VALIDATION_H_
#define LRMEM_COMMON_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace lrmem {

// Longest accepted name of a memory, snapshot, group or learner, in bytes.
inline constexpr size_t kMaxNameBytes = 256;

// OK when every value is finite; otherwise INVALID_ARGUMENT naming `what`,
// the first bad index and whether it is NaN or an infinity, e.g.
// "group 'conv1': gradient signal at index 17 is NaN".
absl::Status CheckFinite(absl::Span<const float> values,
                         absl::string_view what);

// OK for a non-empty name of at most kMaxNameBytes bytes of valid UTF-8
// without control characters. `kind` ("memory", "snapshot", ...) opens the
// error message. Any other byte sequence is allowed: names are stored
// verbatim and never interpreted as paths.
absl::Status ValidateName(absl::string_view kind, absl::string_view name);

}  // namespace lrmem

#endif  // LRMEM_COMMON_VALIDATION_H_
