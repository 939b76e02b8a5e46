// Export files: a memory's full state in a portable, checked envelope
// (lrmem.v1.ExportFile, serialized). The CRC-32C covers the exact bytes of
// the embedded state as they appear in the file.

#ifndef LRMEM_SERVER_EXPORT_FILE_H_
#define LRMEM_SERVER_EXPORT_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lrmem/v1/service.pb.h"

namespace lrmem {

// The value of ExportFile.format.
inline constexpr char kExportFormat[] = "lrmem.v1.MemoryState";

// The file for `state`, taken from `source_name` at `exported_at`.
std::string EncodeExportFile(absl::string_view source_name,
                             const v1::MemoryState& state,
                             absl::Time exported_at);

// Parses and checks a file: INVALID_ARGUMENT when it is not an export file
// or of another format, DATA_LOSS when the checksum does not match. The
// state itself is not validated here (see Memory::FromProto).
absl::StatusOr<v1::ExportFile> DecodeExportFile(absl::string_view file);

}  // namespace lrmem

#endif  // LRMEM_SERVER_EXPORT_FILE_H_
