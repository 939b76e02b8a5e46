#include "experiments/mnist/mnist_variants.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lrmem::mnist {
namespace {

constexpr std::pair<Variant, const char*> kVariantNames[] = {
    {Variant::kSgd, "sgd"},
    {Variant::kAdam, "adam"},
    {Variant::kSgdMemory, "sgd+memory"},
    {Variant::kSgdMemoryReload, "sgd+memory+reload"},
    {Variant::kAdamMemory, "adam+memory"},
    {Variant::kAdamMemoryReload, "adam+memory+reload"},
};

}  // namespace

std::string VariantName(Variant variant) {
  for (const auto& [v, name] : kVariantNames) {
    if (v == variant) return name;
  }
  return "unknown";
}

absl::StatusOr<Variant> ParseVariant(const std::string& name) {
  for (const auto& [v, known] : kVariantNames) {
    if (name == known) return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown variant '", name,
                   "' (sgd, adam, sgd+memory, sgd+memory+reload, adam+memory, "
                   "adam+memory+reload)"));
}

absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names) {
  std::vector<Variant> variants;
  for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipEmpty())) {
    absl::StatusOr<Variant> v = ParseVariant(std::string(name));
    if (!v.ok()) return v.status();
    variants.push_back(*v);
  }
  if (variants.empty()) return absl::InvalidArgumentError("no variants given");
  return variants;
}

std::vector<Variant> AllVariants() {
  std::vector<Variant> all;
  for (const auto& [v, name] : kVariantNames) all.push_back(v);
  return all;
}

bool UsesMemory(Variant variant) {
  return variant != Variant::kSgd && variant != Variant::kAdam;
}

bool ReloadsMemory(Variant variant) {
  return variant == Variant::kSgdMemoryReload ||
         variant == Variant::kAdamMemoryReload;
}

bool UsesAdam(Variant variant) {
  return variant == Variant::kAdam || variant == Variant::kAdamMemory ||
         variant == Variant::kAdamMemoryReload;
}

Variant WithoutReload(Variant variant) {
  switch (variant) {
    case Variant::kSgdMemoryReload:
      return Variant::kSgdMemory;
    case Variant::kAdamMemoryReload:
      return Variant::kAdamMemory;
    default:
      return variant;
  }
}

}  // namespace lrmem::mnist
