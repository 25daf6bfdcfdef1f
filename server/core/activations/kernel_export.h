// The kernel half of an activation file: included first by every source
// compiled once per instruction set (kernels_isa.cc and the activation files
// with K entries in list.h, which CMakeLists.txt builds with ACTD_ISA set).
//
// So that the builds cannot be mixed up at link time (the linker keeps one copy
// of each inline function), everything lives in a namespace named after the
// set: Eigen's through the macro below (which must precede every Eigen
// include), ours through the inline namespace ACTD_ISA.
//
// An activation file defines its functor in kernels:: (see elementwise.h for
// the interface) and exports it with ACTD_EXPORT_KERNEL(Kernel), which fills
// the kernel's slots of this build's table: the element-wise forward and
// backward, and the gated forms (a·g(b)) built from the same functor.
#ifndef ACTD_SERVER_CORE_ACTIVATIONS_KERNEL_EXPORT_H_
#define ACTD_SERVER_CORE_ACTIVATIONS_KERNEL_EXPORT_H_

#ifndef ACTD_ISA
#error "define ACTD_ISA (baseline, avx2, avx512)"
#endif
#define ACTD_CONCAT2(a, b) a##b
#define ACTD_CONCAT(a, b) ACTD_CONCAT2(a, b)
#define ACTD_STRINGIFY2(a) #a
#define ACTD_STRINGIFY(a) ACTD_STRINGIFY2(a)
#define Eigen ACTD_CONCAT(actd_eigen_, ACTD_ISA)

#include <cstring>
#include <type_traits>

#include "server/core/elementwise.h"
#include "server/core/gated.h"
#include "server/core/half_loops.h"
#include "server/core/kernel_table.h"

namespace actd {
inline namespace ACTD_ISA {
namespace exported {

template <typename T, typename K>
void Forward(const KernelArgs& a, const T* x, T* y, int64_t n) {
  if constexpr (requires { K::kForwardIsCopy; }) {
    // The C library's copy is the fastest (per call it is too small to
    // stream).
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

template <typename T, typename K>
void GatedForward(const KernelArgs& args, const T* a, const T* b, T* y,
                  int64_t n) {
  gated::Forward(K(args), a, b, y, n, args.stream);
}

template <typename T, typename K>
void GatedBackward(const KernelArgs& args, const T* a, const T* b, const T* dy,
                   T* da, T* db, int64_t n) {
  gated::Backward(K(args), a, b, dy, da, db, n, args.stream);
}

template <typename T, template <typename> class K>
ElementwiseOps<T> Ops() {
  ElementwiseOps<T> ops;
  ops.forward = &Forward<T, K<T>>;
  ops.backward = &Backward<T, K<T>>;
  if constexpr (K<T>::kFromOutput) {
    ops.backward_from_output = &BackwardFromOutput<T, K<T>>;
  }
  ops.gated_forward = &GatedForward<T, K<T>>;
  ops.gated_backward = &GatedBackward<T, K<T>>;
  return ops;
}

// The type T's elements are computed in: float32 for bfloat16 and float16.
template <typename T>
using ComputeType = std::conditional_t<std::is_floating_point_v<T>, T, float>;

// Kernel K's ops on T: the loops above for float32 and float64, half_loops.h's
// for bfloat16 and float16.
template <typename T, template <typename> class K>
ElementwiseOps<T> OpsFor() {
  if constexpr (std::is_floating_point_v<T>) {
    return Ops<T, K>();
  } else {
    return half_loops::Ops16<T, K>();
  }
}

// The ops of kernel A where `use_a`, else of kernel B: for activations that
// pick a cheaper kernel by their parameters (built once per T).
template <typename T, template <typename> class A, template <typename> class B>
const ElementwiseOps<T>& OpsEither(bool use_a) {
  static const ElementwiseOps<T> a = OpsFor<T, A>();
  static const ElementwiseOps<T> b = OpsFor<T, B>();
  return use_a ? a : b;
}

// Fills kernel K's slots (id) of `table`, for every dtype.
template <template <typename> class K>
void Export(KernelTable& table, KernelId id) {
  table.f32[static_cast<int>(id)] = OpsFor<float, K>();
  table.f64[static_cast<int>(id)] = OpsFor<double, K>();
  table.bf16[static_cast<int>(id)] = OpsFor<BFloat16, K>();
  table.f16[static_cast<int>(id)] = OpsFor<Float16, K>();
}

}  // namespace exported
}  // namespace ACTD_ISA
}  // namespace actd

// Defines this build's Export<Kernel>(KernelTable&), which kernels_isa.cc calls
// for every K entry of list.h. Use at namespace scope, outside any namespace.
#define ACTD_EXPORT_KERNEL(Kernel)                                 \
  namespace actd {                                                 \
  inline namespace ACTD_ISA {                                      \
  void Export##Kernel(KernelTable& table) {                        \
    exported::Export<kernels::Kernel>(table, KernelId::k##Kernel); \
  }                                                                \
  }                                                                \
  }

#endif  // ACTD_SERVER_CORE_ACTIVATIONS_KERNEL_EXPORT_H_
