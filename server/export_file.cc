#include "server/export_file.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/crc32c.h"
#include "server/time_proto.h"

namespace lrmem {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr int kStateField = v1::ExportFile::kStateFieldNumber;

std::string SerializeDeterministically(const v1::MemoryState& state) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  state.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

// The raw bytes of the (single) state field of a serialized ExportFile.
absl::StatusOr<std::string> RawStateBytes(absl::string_view file) {
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(file.data()),
      static_cast<int>(file.size()));
  std::string raw;
  int occurrences = 0;
  while (uint32_t tag = input.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == kStateField &&
        WireFormatLite::GetTagWireType(tag) ==
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!input.ReadVarint32(&length) ||
          !input.ReadString(&raw, static_cast<int>(length))) {
        break;
      }
      ++occurrences;
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      break;
    }
  }
  if (occurrences != 1) {
    return absl::InvalidArgumentError(
        "export file: expected exactly one memory state");
  }
  return raw;
}

}  // namespace

std::string EncodeExportFile(absl::string_view source_name,
                             const v1::MemoryState& state,
                             absl::Time exported_at) {
  const std::string state_bytes = SerializeDeterministically(state);
  v1::ExportFile envelope;
  envelope.set_format(kExportFormat);
  envelope.set_source_name(std::string(source_name));
  *envelope.mutable_exported_at() = ToTimestamp(exported_at);
  envelope.set_state_crc32c(Crc32c(state_bytes));

  // The state goes in as the exact bytes the checksum was computed over;
  // field order does not matter on the wire.
  std::string file = envelope.SerializeAsString();
  {
    google::protobuf::io::StringOutputStream stream(&file);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.WriteTag(WireFormatLite::MakeTag(
        kStateField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    coded.WriteVarint32(static_cast<uint32_t>(state_bytes.size()));
    coded.WriteString(state_bytes);
  }
  return file;
}

absl::StatusOr<v1::ExportFile> DecodeExportFile(absl::string_view file) {
  v1::ExportFile parsed;
  if (!parsed.ParseFromArray(file.data(), static_cast<int>(file.size()))) {
    return absl::InvalidArgumentError("not an lrmem export file");
  }
  if (parsed.format() != kExportFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("export file: format is '", parsed.format(),
                     "', expected '", kExportFormat, "'"));
  }
  absl::StatusOr<std::string> raw_state = RawStateBytes(file);
  if (!raw_state.ok()) return raw_state.status();
  const uint32_t crc = Crc32c(*raw_state);
  if (crc != parsed.state_crc32c()) {
    return absl::DataLossError(absl::StrCat(
        "export file: checksum mismatch (stored ", parsed.state_crc32c(),
        ", computed ", crc, "); the file is damaged"));
  }
  return parsed;
}

}  // namespace lrmem
