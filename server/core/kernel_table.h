// The element-wise kernels as a table of plain functions, one table per
// instruction set.
//
// kernels_isa.cc and the activation files that define kernels are compiled
// once per instruction set (x86-64 baseline, AVX2+FMA, AVX-512) into its own
// namespace, each build filling a table (activations/kernel_export.h); at
// startup the widest set the CPU supports is chosen (cpuid), unless SelectIsa
// forces a narrower one. Everything else in the core calls kernels only through
// Kernels().
#ifndef ACTD_SERVER_CORE_KERNEL_TABLE_H_
#define ACTD_SERVER_CORE_KERNEL_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/core/activations/list.h"

namespace actd {

// One id per element-wise kernel: the K entries of activations/list.h, in its
// order.
#define ACTD_KERNEL_ID(Kernel) k##Kernel,
enum class KernelId { ACTD_ACTIVATIONS(ACTD_LIST_SKIP, ACTD_KERNEL_ID) kCount };
#undef ACTD_KERNEL_ID

// The scalars a kernel takes (unused ones are ignored), and how it stores.
struct KernelArgs {
  double alpha = 0;
  double scale = 1;
  double beta = 1;
  // Write the output with non-temporal stores, past the caches: for outputs
  // too large to stay cached (StreamOutput), where it saves reading each
  // destination line before writing it. Backward ignores it when it sums a
  // parameter gradient (the sum's order must not depend on alignment).
  bool stream = false;
};

// Whether an output of `bytes` is written with non-temporal stores: beyond
// 16 MiB, more than a core's share of a typical last-level cache. (The C
// library's memcpy switches to such stores at a similar size.)
inline bool StreamOutput(int64_t bytes) { return bytes >= (int64_t{16} << 20); }

// One kernel on one dtype. Backward functions return the float64 sum of the
// kernel's learnable-scalar gradient terms when `sum` is true (0 otherwise); dy
// == nullptr means ones.
template <typename T>
struct ElementwiseOps {
  void (*forward)(const KernelArgs&, const T* x, T* y, int64_t n) = nullptr;
  double (*backward)(const KernelArgs&, const T* x, const T* dy, T* dx,
                     int64_t n, bool sum) = nullptr;
  // From y instead of x; null when the kernel has no such form.
  double (*backward_from_output)(const KernelArgs&, const T* y, const T* dy,
                                 T* dx, int64_t n, bool sum) = nullptr;
  // The gated form (gated.h) with this kernel as the gate g: y = a·g(b), and
  // backward da = dy·g(b), db = dy·a·g'(b), over n elements of each half.
  void (*gated_forward)(const KernelArgs&, const T* a, const T* b, T* y,
                        int64_t n) = nullptr;
  void (*gated_backward)(const KernelArgs&, const T* a, const T* b, const T* dy,
                         T* da, T* db, int64_t n) = nullptr;
};

// Dice's passes (dice.cc, dice_kernels.h) over one block: whole rows of the
// input's [outer, channels, inner] view. The arithmetic is float64 whatever T;
// per-channel arrays have `channels` float64 entries, and each pass adds its
// per-channel sums into the arrays it is given.
template <typename T>
struct DiceBlock {
  const T* x = nullptr;   // the block's first element
  const T* dy = nullptr;  // backward; nullptr means ones
  T* out = nullptr;       // y (forward) or dx (backward)
  int64_t rows = 0, channels = 0, inner = 0;
  const double* mean = nullptr;   // μ_c
  const double* inv_r = nullptr;  // 1/√(var_c + ε)
  const double* alpha = nullptr;  // α_c
  // Training backward's second pass: mean_c(g) and mean_c(g·z).
  const double* mean_g = nullptr;
  const double* mean_gz = nullptr;
};
// With z = (x - μ)/r, p = σ(z), q = σ(-z), g = dy·(1-α)·x·p·q:
template <typename T>
struct DiceOps {
  // sum[c] += Σ x.
  void (*sum)(const DiceBlock<T>&, double* sum) = nullptr;
  // sum[c] += Σ (x - μ_c)².
  void (*centred_squares)(const DiceBlock<T>&, double* sum) = nullptr;
  // y = x·(α + (1-α)·p).
  void (*forward)(const DiceBlock<T>&) = nullptr;
  // Inference: dx = dy·(α + (1-α)p) + g/r; dalpha[c] += Σ dy·x·q.
  void (*backward_inference)(const DiceBlock<T>&, double* dalpha) = nullptr;
  // Training, first pass: dalpha[c] += Σ dy·x·q, g[c] += Σ g, gz[c] += Σ g·z.
  void (*backward_sums)(const DiceBlock<T>&, double* dalpha, double* g,
                        double* gz) = nullptr;
  // Training, second pass: dx = dy·(α + (1-α)p) + (g - mean_g - z·mean_gz)/r.
  void (*backward_training)(const DiceBlock<T>&) = nullptr;
};

struct KernelTable {
  const char* isa;  // "baseline", "avx2", "avx512"
  ElementwiseOps<float> f32[static_cast<int>(KernelId::kCount)];
  ElementwiseOps<double> f64[static_cast<int>(KernelId::kCount)];
  DiceOps<float> dice_f32;
  DiceOps<double> dice_f64;

  template <typename T>
  const ElementwiseOps<T>& ops(KernelId id) const {
    if constexpr (sizeof(T) == 4) {
      return f32[static_cast<int>(id)];
    } else {
      return f64[static_cast<int>(id)];
    }
  }
  template <typename T>
  const DiceOps<T>& dice() const {
    if constexpr (sizeof(T) == 4) {
      return dice_f32;
    } else {
      return dice_f64;
    }
  }
};

// The table in use. Thread-safe.
const KernelTable& Kernels();
// The instruction sets this build has and this CPU runs, narrowest first.
std::vector<std::string> SupportedIsas();
// Forces an instruction set ("baseline", "avx2", "avx512", or "auto" for the
// widest); INVALID_ARGUMENT naming the value when this CPU or build lacks it.
// Call before serving.
absl::Status SelectIsa(absl::string_view isa);

}  // namespace actd

#endif  // ACTD_SERVER_CORE_KERNEL_TABLE_H_
