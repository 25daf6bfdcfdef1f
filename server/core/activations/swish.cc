// swish: x·σ(beta·x) with a learnable beta. Its kernel also runs silu and
// gelu(approximate=sigmoid).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// Swish x·σ(βx), and GELU's sigmoid form (β = 1.702). `term` is dL/dβ =
// dy·x²·s(1-s). kNonzeroBeta: the caller has checked β ≠ 0, so β·x needs no
// guard, and a NaN x reaches dx by itself (β·x is NaN, so s and s(1-s) are, as
// in Sigmoid's backward): the loop skips its NaN select. Results are bitwise
// the same but for which NaN a NaN x gives.
template <typename T, bool kNonzeroBeta = false>
struct Swish {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;
  static constexpr bool kBackwardKeepsNaN = kNonzeroBeta;
  P beta;
  explicit Swish(const KernelArgs& args)
      : beta(pm::pset1<P>(static_cast<T>(args.beta))) {}
  // β·x, but 0 when β = 0 (where the product with x = ±inf would be NaN).
  P BetaX(const P& x) const {
    if constexpr (kNonzeroBeta) {
      return pm::pmul(beta, x);
    } else {
      return pm::Select(pm::IsZero(beta), pm::Zero<P>(), pm::pmul(beta, x));
    }
  }
  // float32, in lanes with |βx| ≤ 87: x/(1 + e^{-βx}), with the same
  // roundings as σ's 1/(1 + e^{-|βx|}) but no select or second multiply
  // (swish and silu forward ~27% faster on AVX-512, swiglu ~15%). Elsewhere
  // x·σ(βx), which keeps the limits at ±inf and the subnormal results of the
  // far left tail. A packet with lanes of both kinds takes both forms, lane by
  // lane (pm::WideLanes).
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    const P bx = BetaX(x);
    if constexpr (std::is_same_v<T, float>) {
      const P minus_bx = pm::psub(pm::Zero<P>(), bx);
      if (!pm::ExpNeedsWideRange(bx)) {
        return pm::pdiv(x,
                        pm::padd(pm::One<P>(), pm::ExpFloatNarrow(minus_bx)));
      }
      const P quotient =
          pm::pdiv(x, pm::padd(pm::One<P>(), pm::ExpFloatWide(minus_bx)));
      return pm::MaskSelect(pm::WideLanes(bx),
                            pm::TimesVanishing(x, pm::Sigmoid(bx)), quotient);
    }
    return pm::TimesVanishing(x, pm::Sigmoid(bx));
  }
  // dx = s + βx·s(1-s); the second term is 0 wherever s(1-s) is (so 1 at +inf,
  // 0 at -inf). Where |βx| ≤ 87, s(1-s) ≥ e^{-87}/4 > 0 and the products are
  // plain (swish backward 984 -> 625 us per 1 Mi on AVX2, 390 -> 333 on
  // AVX-512).
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P& term) const {
    const P bx = BetaX(x);
    return pm::WithExp(pm::NegAbs(bx),
                       [&](const P& e, const auto& times) ACTD_INLINE_LAMBDA {
                         const auto s = pm::SigmoidsFromExp(bx, e);
                         term = pm::pmul(dy, times(pm::pmul(x, x), s.prod));
                         return pm::pmul(dy, times.Add(bx, s.prod, s.pos));
                       });
  }
  // Forward and Backward (without the term) from one sigmoid, for the gated
  // units (gated.h).
  EIGEN_ALWAYS_INLINE P ValueAndBackward(const P& x, const P& dy, P& y) const {
    const P bx = BetaX(x);
    return pm::WithExp(pm::NegAbs(bx),
                       [&](const P& e, const auto& times) ACTD_INLINE_LAMBDA {
                         const auto s = pm::SigmoidsFromExp(bx, e);
                         y = times(x, s.pos);
                         return pm::pmul(dy, times.Add(bx, s.prod, s.pos));
                       });
  }
};
template <typename T>
using SwishGuarded = Swish<T, false>;
template <typename T>
using SwishNonzeroBeta = Swish<T, true>;

}  // namespace kernels

namespace exported {

// Whether β (as T) is nonzero, so that the unguarded kernel applies.
template <typename T>
bool NonzeroBeta(const KernelArgs& args) {
  return static_cast<T>(args.beta) != 0;
}
// The unguarded kernel's ops where β (in the compute type) is nonzero.
template <typename T>
const ElementwiseOps<T>& SwishOps(const KernelArgs& a) {
  return OpsEither<T, kernels::SwishNonzeroBeta, kernels::SwishGuarded>(
      NonzeroBeta<ComputeType<T>>(a));
}
template <typename T>
void SwishForward(const KernelArgs& a, const T* x, T* y, int64_t n) {
  SwishOps<T>(a).forward(a, x, y, n);
}
template <typename T>
double SwishBackward(const KernelArgs& a, const T* x, const T* dy, T* dx,
                     int64_t n, bool sum) {
  return SwishOps<T>(a).backward(a, x, dy, dx, n, sum);
}

template <typename T>
void SwishGatedForward(const KernelArgs& args, const T* a, const T* b, T* y,
                       int64_t n) {
  SwishOps<T>(args).gated_forward(args, a, b, y, n);
}
template <typename T>
void SwishGatedBackward(const KernelArgs& args, const T* a, const T* b,
                        const T* dy, T* da, T* db, int64_t n) {
  SwishOps<T>(args).gated_backward(args, a, b, dy, da, db, n);
}

template <typename T>
void UseNonzeroBetaKernel(ElementwiseOps<T>& ops) {
  ops.forward = &SwishForward<T>;
  ops.backward = &SwishBackward<T>;
  if constexpr (std::is_floating_point_v<T>) {  // 16-bit gated rows widen
    ops.gated_forward = &SwishGatedForward<T>;
    ops.gated_backward = &SwishGatedBackward<T>;
  }
}

}  // namespace exported

// As ACTD_EXPORT_KERNEL(Swish), with the forward and backward above for every
// dtype, element-wise and gated (swiglu).
void ExportSwish(KernelTable& table) {
  exported::Export<kernels::SwishGuarded>(table, KernelId::kSwish);
  const int id = static_cast<int>(KernelId::kSwish);
  exported::UseNonzeroBetaKernel(table.f32[id]);
  exported::UseNonzeroBetaKernel(table.f64[id]);
  exported::UseNonzeroBetaKernel(table.bf16[id]);
  exported::UseNonzeroBetaKernel(table.f16[id]);
}

}  // namespace ACTD_ISA
}  // namespace actd

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "swish";
  i.summary = "x gated by its own sigmoid; beta = 1 is SiLU.";
  i.formula = "y = x·σ(beta·x)";
  i.derivative =
      "dy/dx = s + beta·x·s·(1 - s), s = σ(beta·x); dL/dbeta = Σ dy·x²·s·(1 - "
      "s)";
  i.reference =
      "Ramachandran, Zoph, Le, Searching for Activation Functions, 2017, "
      "arXiv:1710.05941";
  i.params = {NumberParam("beta", 1.0, -1e3, 1e3, "sharpness of the gate",
                          /*learnable=*/true)};
  i.properties = MakeProperties(false, true, true, -0.27846454276107380, kInf,
                                true, false, CostClass::kExp);
  i.properties.learnable_parameters = "1 (beta)";
  i.properties.learnable_parameter_count = 1;
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  args->beta = p.Number("beta");
  return KernelId::kSwish;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(swish, ElementwiseRow(Info(), {Choose, "beta"}))

}  // namespace actd
#endif  // ACTD_ISA
