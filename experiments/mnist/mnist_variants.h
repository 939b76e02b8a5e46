// The optimizer variants the main job compares, and their names:
//
//   sgd, adam                    libtorch's own optimizers
//   sgd+memory, adam+memory      the base optimizer wrapped by a fresh
//                                learning-rate memory for every task
//   sgd+memory+reload,           the same, but each task after the first
//   adam+memory+reload           starts from a snapshot of the memory the
//                                previous task left behind

#ifndef LRMEM_EXPERIMENTS_MNIST_MNIST_VARIANTS_H_
#define LRMEM_EXPERIMENTS_MNIST_MNIST_VARIANTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lrmem::mnist {

enum class Variant {
  kSgd,
  kAdam,
  kSgdMemory,
  kSgdMemoryReload,
  kAdamMemory,
  kAdamMemoryReload,
};

// "sgd", "adam", "sgd+memory", "sgd+memory+reload", "adam+memory",
// "adam+memory+reload".
std::string VariantName(Variant variant);
absl::StatusOr<Variant> ParseVariant(const std::string& name);
// A comma-separated list of names; INVALID_ARGUMENT on an unknown one.
absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names);
std::vector<Variant> AllVariants();

// Whether the variant trains with a learning-rate memory, and whether that
// memory comes from the previous task.
bool UsesMemory(Variant variant);
bool ReloadsMemory(Variant variant);
// Whether the base optimizer is Adam (otherwise SGD).
bool UsesAdam(Variant variant);
// The variant with a fresh memory per task in place of a reload variant;
// any other variant unchanged.
Variant WithoutReload(Variant variant);

}  // namespace lrmem::mnist

#endif  // LRMEM_EXPERIMENTS_MNIST_MNIST_VARIANTS_H_
