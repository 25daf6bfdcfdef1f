// The element-wise kernels of elementwise.h and Dice's of dice_kernels.h
// instantiated for one instruction set, set by the compiler flags this file is
// built with, and exported as a KernelTable.
//
// This file is compiled once per instruction set. So that the builds cannot be
// mixed up at link time (the linker keeps one copy of each inline function),
// everything here lives in a namespace named after the set: Eigen's through the
// macro below, ours through the inline namespace ACTD_ISA in the kernel
// headers.
#ifndef ACTD_ISA
#error "define ACTD_ISA (baseline, avx2, avx512)"
#endif
#define ACTD_CONCAT2(a, b) a##b
#define ACTD_CONCAT(a, b) ACTD_CONCAT2(a, b)
#define ACTD_STRINGIFY2(a) #a
#define ACTD_STRINGIFY(a) ACTD_STRINGIFY2(a)
#define Eigen ACTD_CONCAT(actd_eigen_, ACTD_ISA)

#include "server/core/dice_kernels.h"
#include "server/core/elementwise.h"
#include "server/core/half_loops.h"
#include "server/core/kernel_table.h"

namespace actd {
inline namespace ACTD_ISA {
namespace {

template <typename T, typename K>
void Forward(const KernelArgs& a, const T* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<K, kernels::Identity<T>>) {
    // The C library's copy is the fastest (per call it is too small to stream).
    if (!a.stream) {
      std::memcpy(y, x, n * sizeof(T));
      return;
    }
  }
  loops::Forward(K(a), x, y, n, a.stream);
}

// Whether K's Backward turns a NaN x into a NaN dx by itself.
template <typename K>
constexpr bool BackwardKeepsNaN() {
  if constexpr (requires { K::kBackwardKeepsNaN; }) {
    return K::kBackwardKeepsNaN;
  } else {
    return false;
  }
}

template <typename T, typename K>
double Backward(const KernelArgs& a, const T* x, const T* dy, T* dx, int64_t n,
                bool sum) {
  const K k(a);
  auto step = [&](const auto& xv, const auto& g, auto& term) {
    return k.Backward(xv, g, term);
  };
  constexpr bool kSelectNaN = !BackwardKeepsNaN<K>();
  return sum ? loops::Backward<true, kSelectNaN>(x, dy, dx, n, a.stream, step)
             : loops::Backward<false, kSelectNaN>(x, dy, dx, n, a.stream, step);
}

template <typename T, typename K>
double BackwardFromOutput(const KernelArgs& a, const T* y, const T* dy, T* dx,
                          int64_t n, bool sum) {
  const K k(a);
  auto step = [&](const auto& yv, const auto& g, auto& term) {
    return k.BackwardFromOutput(yv, g, term);
  };
  return sum ? loops::Backward<true, true>(y, dy, dx, n, a.stream, step)
             : loops::Backward<false, true>(y, dy, dx, n, a.stream, step);
}

// ---- 16-bit storage, float32 compute (half_loops.h). ----

template <template <typename> class K>
constexpr bool kExactKernel =
    std::is_same_v<K<float>, kernels::Identity<float>> ||
    std::is_same_v<K<float>, kernels::Relu<float>>;

template <typename H, bool kInsn, template <typename> class K>
void Forward16(const KernelArgs& a, const H* x, H* y, int64_t n) {
  const K<float> k(a);
  const K<double> k64(a);
  auto eval32 = [&](const float* xs, const float*, float* ys, int64_t m) {
    loops::Forward(k, xs, ys, m, false);
  };
  auto eval64 = [&](const double* xs, const double*, double* ys, int64_t m) {
    loops::Forward(k64, xs, ys, m, false);
  };
  // Exact kernels are not refined, so they narrow without vcvtneps2bf16
  // (which flushes subnormals).
  half_loops::Forward<H, kInsn && !kExactKernel<K>, !kExactKernel<K>>(
      k, x, y, n, eval32, eval64);
}

template <typename H, bool kInsn, template <typename> class K, bool kFromY>
double Backward16(const KernelArgs& a, const H* x, const H* dy, H* dx,
                  int64_t n, bool sum) {
  const K<float> k(a);
  const K<double> k64(a);
  auto step_of = [](const auto& kernel) {
    return [&kernel](const auto& v, const auto& g, auto& term) {
      if constexpr (kFromY) {
        return kernel.BackwardFromOutput(v, g, term);
      } else {
        return kernel.Backward(v, g, term);
      }
    };
  };
  const auto step = step_of(k);
  const auto step64 = step_of(k64);
  constexpr bool kSelectNaN = kFromY || !BackwardKeepsNaN<K<float>>();
  auto eval32 = [&](const float* as, const float* dys, float* dxs, int64_t m) {
    loops::Backward<false, kSelectNaN>(as, dys, dxs, m, false, step);
  };
  auto eval64 = [&](const double* as, const double* dys, double* dxs,
                    int64_t m) {
    loops::Backward<false, kSelectNaN>(as, dys, dxs, m, false, step64);
  };
  constexpr bool kRefine = !kExactKernel<K>;
  constexpr bool kUseInsn = kInsn && kRefine;
  return sum ? half_loops::Backward<H, kUseInsn, kRefine, true, kSelectNaN>(
                   x, dy, dx, n, step, eval32, eval64)
             : half_loops::Backward<H, kUseInsn, kRefine, false, kSelectNaN>(
                   x, dy, dx, n, step, eval32, eval64);
}

template <typename H, bool kInsn, template <typename> class K>
ElementwiseOps<H> Ops16() {
  ElementwiseOps<H> ops;
  ops.forward = &Forward16<H, kInsn, K>;
  ops.backward = &Backward16<H, kInsn, K, false>;
  if constexpr (K<float>::kFromOutput) {
    ops.backward_from_output = &Backward16<H, kInsn, K, true>;
  }
  return ops;
}

// Whether this build may narrow bfloat16 with vcvtneps2bf16 on this CPU.
bool UseBf16Instruction() {
#if defined(__AVX512BF16__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

template <typename T, template <typename> class K>
ElementwiseOps<T> Ops() {
  if constexpr (std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>) {
    return UseBf16Instruction() ? Ops16<T, true, K>() : Ops16<T, false, K>();
  } else {
    ElementwiseOps<T> ops;
    ops.forward = &Forward<T, K<T>>;
    ops.backward = &Backward<T, K<T>>;
    if constexpr (K<T>::kFromOutput) {
      ops.backward_from_output = &BackwardFromOutput<T, K<T>>;
    }
    return ops;
  }
}

template <typename T>
void Fill(ElementwiseOps<T>* ops) {
  auto at = [&](KernelId id) -> ElementwiseOps<T>& {
    return ops[static_cast<int>(id)];
  };
  at(KernelId::kIdentity) = Ops<T, kernels::Identity>();
  at(KernelId::kRelu) = Ops<T, kernels::Relu>();
  at(KernelId::kLeaky) = Ops<T, kernels::Leaky>();
  at(KernelId::kElu) = Ops<T, kernels::Elu>();
  at(KernelId::kSigmoid) = Ops<T, kernels::Sigmoid>();
  at(KernelId::kTanh) = Ops<T, kernels::Tanh>();
  at(KernelId::kSwish) = Ops<T, kernels::Swish>();
  at(KernelId::kGeluTanh) = Ops<T, kernels::GeluTanh>();
  at(KernelId::kGeluErf) = Ops<T, kernels::GeluErf>();
  at(KernelId::kMish) = Ops<T, kernels::Mish>();
}

KernelTable Build() {
  KernelTable t;
  t.isa = ACTD_STRINGIFY(ACTD_ISA);
  Fill<float>(t.f32);
  Fill<double>(t.f64);
  Fill<BFloat16>(t.bf16);
  Fill<Float16>(t.f16);
  t.dice_f32 = dice::Ops<float>();
  t.dice_f64 = dice::Ops<double>();
  return t;
}

}  // namespace

const KernelTable& Table() {
  static const KernelTable table = Build();
  return table;
}

}  // namespace ACTD_ISA
}  // namespace actd
