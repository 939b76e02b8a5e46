// Small inline pieces shared by the O(D) loops over gradient signals in
// LocalModels and SignalGrid: float bit access, clipping, the change term,
// and the attribute that compiles a loop for AVX2 and for baseline x86-64.
// Internal to common/; not part of the client's interface.

#ifndef LRMEM_COMMON_SIGNAL_KERNELS_H_
#define LRMEM_COMMON_SIGNAL_KERNELS_H_

#include <cstdint>
#include <cstring>

#include "common/memory_config.h"

// The hot loops are compiled twice, for AVX2 and for the baseline x86-64
// instruction set, and the loader picks one for the running CPU. The
// library is built without fused multiply-adds, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LRMEM_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define LRMEM_MULTIVERSION
#endif

namespace lrmem {
namespace kernels {

inline uint32_t FloatBits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

inline float BitsFloat(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

// z clamped into [-clip, clip], written so that loops over it vectorize.
inline float Clip(float z, float clip) {
  z = z < -clip ? -clip : z;
  return z > clip ? clip : z;
}

// The change term of one parameter from its raw (unclipped) signals. The
// sign rule multiplies signs, not values, so that tiny signals whose
// product underflows still count.
inline float Change(ChangeRule rule, float previous, float current) {
  if (rule == ChangeRule::kSign) {
    const float a = previous > 0.0f ? 1.0f : (previous < 0.0f ? -1.0f : 0.0f);
    const float b = current > 0.0f ? 1.0f : (current < 0.0f ? -1.0f : 0.0f);
    return a * b;
  }
  const float product = previous * current;
  return product < -1.0f ? -1.0f : (product > 1.0f ? 1.0f : product);
}

}  // namespace kernels
}  // namespace lrmem

#endif  // LRMEM_COMMON_SIGNAL_KERNELS_H_
