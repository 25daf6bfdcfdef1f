// mish: x·tanh(softplus(x)), one exp per element.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// Mish x·tanh(softplus(x)) with one exp: e = e^x, n = e² + 2e,
// tanh(softplus(x)) = n/(n+2), and 1 - t² = 4(n+1)/(n+2)² without cancellation.
// Beyond x = 20, t = 1 to working precision, so x is clamped there to keep e²
// finite.
template <typename T>
struct Mish {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Mish(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  static constexpr double kClamp = 20.0;
  struct Parts {
    P t, one_minus_t2;
  };
  // t and 1 - t² from e = e^x.
  EIGEN_ALWAYS_INLINE static Parts Split(const P& e) {
    const P n = pm::pmul(e, pm::padd(e, pm::Set<P>(2.0)));
    const P inv = pm::pdiv(pm::One<P>(), pm::padd(n, pm::Set<P>(2.0)));
    return {pm::pmul(n, inv),
            pm::pmul(pm::Set<P>(4.0),
                     pm::pmul(pm::padd(n, pm::One<P>()), pm::pmul(inv, inv)))};
  }
  // The factors of x below are > 0 wherever e is, so `times` (pm::WithExp) is
  // the plain product where x ≥ -87 in every lane.
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::WithExp(
        Clamped(x), [&](const P& e, const auto& times) ACTD_INLINE_LAMBDA {
          const P n = pm::pmul(e, pm::padd(e, pm::Set<P>(2.0)));
          return times(x, pm::pdiv(n, pm::padd(n, pm::Set<P>(2.0))));
        });
  }
  // dx = t + x·σ(x)·(1 - t²), σ(x) = e/(1 + e) from the same e (no cancellation
  // below the clamp); exactly 1 beyond the clamp, t at -inf.
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    return pm::WithExp(
        Clamped(x), [&](const P& e, const auto& times) ACTD_INLINE_LAMBDA {
          const Parts p = Split(e);
          const P sigmoid = pm::pdiv(e, pm::padd(pm::One<P>(), e));
          const P d =
              pm::Select(pm::Gt(x, pm::Set<P>(kClamp)), pm::One<P>(),
                         times.Add(x, pm::pmul(sigmoid, p.one_minus_t2), p.t));
          return pm::pmul(dy, d);
        });
  }

 private:
  EIGEN_ALWAYS_INLINE static P Clamped(const P& x) {
    return pm::pmin(x, pm::Set<P>(kClamp));
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Mish)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "mish";
  i.summary = "Self-regularized non-monotonic activation: x·tanh(softplus(x)).";
  i.formula = "y = x·tanh(ln(1 + e^x)) = x·n/(n + 2), n = e^2x + 2e^x";
  i.derivative = "dy/dx = t + x·σ(x)·(1 - t²), t = tanh(softplus(x))";
  i.reference =
      "Misra, Mish: A Self Regularized Non-Monotonic Activation Function, BMVC "
      "2020, arXiv:1908.08681";
  i.properties = MakeProperties(false, true, true, -0.30884341301725040, kInf,
                                true, false, CostClass::kExp);
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) { return KernelId::kMish; }

}  // namespace

ACTD_REGISTER_ACTIVATION(mish, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
