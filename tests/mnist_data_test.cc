// The main job's data loading and reporting, on small files written here:
// both digit formats, the held-out split, and the samples-to-98% table.

#include "experiments/mnist/mnist_data.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "experiments/mnist/mnist_report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lrmem::mnist {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path ScratchDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Digit d's image i has every pixel equal to (10 * d + i) / 255, so a test
// can tell which image landed where.
float PixelOf(int digit, int index) { return (10 * digit + index) / 255.0f; }

void WriteNpmDigits(const fs::path& dir, int per_class) {
  for (int d = 0; d < kNumClasses; ++d) {
    std::ofstream out(dir / (std::to_string(d) + ".json"));
    out << "{\"data\":[";
    for (int i = 0; i < per_class; ++i) {
      for (int p = 0; p < kImageSize; ++p) {
        out << (i + p > 0 ? "," : "") << PixelOf(d, i);
      }
    }
    out << "]}";
  }
}

void PutBigEndian32(std::ofstream& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.write(bytes, 4);
}

// An IDX pair with `per_class` images of every digit, digits interleaved.
void WriteIdxDigits(const fs::path& dir, int per_class) {
  const uint32_t n = per_class * kNumClasses;
  std::ofstream images(dir / "train-images-idx3-ubyte", std::ios::binary);
  PutBigEndian32(images, 0x803);
  for (uint32_t dim : {n, 28u, 28u}) PutBigEndian32(images, dim);
  std::ofstream labels(dir / "train-labels-idx1-ubyte", std::ios::binary);
  PutBigEndian32(labels, 0x801);
  PutBigEndian32(labels, n);
  for (int i = 0; i < per_class; ++i) {
    for (int d = 0; d < kNumClasses; ++d) {
      const std::string pixels(kImageSize, static_cast<char>(10 * d + i));
      images.write(pixels.data(), pixels.size());
      labels.put(static_cast<char>(d));
    }
  }
}

TEST(MnistDataTest, ReadsNpmJsonPerClass) {
  const fs::path dir = ScratchDir("npm");
  WriteNpmDigits(dir, 3);
  absl::StatusOr<DigitsByClass> digits = LoadNpmDigits(dir.string());
  ASSERT_TRUE(digits.ok()) << digits.status();
  for (int d = 0; d < kNumClasses; ++d) {
    ASSERT_EQ(digits->Count(d), 3);
    // JSON carries the pixels as printed decimals, not bit-exact floats.
    EXPECT_NEAR(digits->images[d][2 * kImageSize], PixelOf(d, 2), 1e-5);
  }
}

TEST(MnistDataTest, ReadsIdxAndScalesToUnitRange) {
  const fs::path dir = ScratchDir("idx");
  WriteIdxDigits(dir, 4);
  absl::StatusOr<DigitsByClass> digits = LoadIdxDigits(dir.string());
  ASSERT_TRUE(digits.ok()) << digits.status();
  for (int d = 0; d < kNumClasses; ++d) {
    ASSERT_EQ(digits->Count(d), 4);
    EXPECT_FLOAT_EQ(digits->images[d][3 * kImageSize + 5], PixelOf(d, 3));
  }
}

TEST(MnistDataTest, RejectsTruncatedIdxNamingTheFile) {
  const fs::path dir = ScratchDir("idx_truncated");
  WriteIdxDigits(dir, 2);
  fs::resize_file(dir / "train-images-idx3-ubyte", 100);
  absl::StatusOr<DigitsByClass> digits = LoadIdxDigits(dir.string());
  EXPECT_EQ(digits.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(digits.status().message(), HasSubstr("train-images-idx3-ubyte"));
}

TEST(MnistDataTest, MissingFilesAreNotFound) {
  const fs::path dir = ScratchDir("empty");
  EXPECT_EQ(LoadIdxDigits(dir.string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadNpmDigits(dir.string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MnistDataTest, HoldsOutTheLastDigitsOfEachClass) {
  const fs::path dir = ScratchDir("split");
  WriteNpmDigits(dir, 5);
  absl::StatusOr<DigitsByClass> digits = LoadNpmDigits(dir.string());
  ASSERT_TRUE(digits.ok());
  absl::StatusOr<BinaryTask> task = MakeBinaryTask(*digits, 1, 3, 2);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->Name(), "1v3");
  ASSERT_EQ(task->train.size(), 6);
  ASSERT_EQ(task->test.size(), 4);
  EXPECT_EQ(task->test.labels, (std::vector<int64_t>{0, 0, 1, 1}));
  // The first test image is digit 1's fourth (index 3).
  EXPECT_NEAR(task->test.pixels[0], PixelOf(1, 3), 1e-5);
  EXPECT_NEAR(task->train.pixels[3 * kImageSize], PixelOf(3, 0), 1e-5);

  EXPECT_EQ(MakeBinaryTask(*digits, 1, 3, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

Curve MakeCurve(Variant v, int seed, std::vector<double> accuracies) {
  Curve c;
  c.variant = v;
  c.seed = seed;
  c.task = "1v2";
  for (size_t i = 0; i < accuracies.size(); ++i) {
    c.points.push_back({static_cast<int>(10 * i), accuracies[i]});
  }
  return c;
}

TEST(MnistReportTest, CountsSamplesToFirstCrossing) {
  const Curve c = MakeCurve(Variant::kSgd, 1, {0.5, 0.97, 0.981, 0.95, 0.99});
  EXPECT_EQ(SamplesToReach(c, 0.98), 20);
  EXPECT_EQ(SamplesToReach(c, 0.995), std::nullopt);
}

TEST(MnistReportTest, TableShowsSpreadPartialAndNotReached) {
  const std::vector<Curve> curves = {
      MakeCurve(Variant::kSgd, 1, {0.5, 0.99}),
      MakeCurve(Variant::kSgd, 2, {0.5, 0.9, 0.99}),
      MakeCurve(Variant::kAdam, 1, {0.5, 0.99}),
      MakeCurve(Variant::kAdam, 2, {0.5, 0.9}),
      MakeCurve(Variant::kSgdMemory, 1, {0.5, 0.9}),
  };
  const std::string table = FormatReachTable(
      curves, {Variant::kSgd, Variant::kAdam, Variant::kSgdMemory}, {"1v2"},
      0.98, 100);
  EXPECT_THAT(table, HasSubstr("15 ± 7"));
  EXPECT_THAT(table, HasSubstr("10 (1/2 seeds)"));
  EXPECT_THAT(table, HasSubstr("not reached"));

  // The bars count a seed that never got there as the whole budget.
  const ReachSummary adam =
      SummarizeReach(curves, Variant::kAdam, "1v2", 0.98, 100);
  EXPECT_DOUBLE_EQ(adam.censored_mean, 55);
}

}  // namespace
}  // namespace lrmem::mnist
