// softplus: (1/beta)·log(1 + e^{beta·x}), a smooth ReLU, in the form
// max(x, 0) + log1p(e^{-|t|})/beta with t = beta·x: e^{-|t|} never overflows,
// and log1p keeps relative precision in the left tail, where y ≈ e^t/beta.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Softplus {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;
  P beta;
  explicit Softplus(const KernelArgs& args)
      : beta(pm::pset1<P>(static_cast<T>(args.beta))) {}
  // log1p(u) for u in [0, 1], in Goldberg's form: w = 1 + u rounded, then
  // log(w)·u/(w - 1) cancels w's rounding error (a few ulp); u itself where w
  // rounds to 1.
  EIGEN_ALWAYS_INLINE static P Log1p(const P& u) {
    const P w = pm::padd(pm::One<P>(), u);
    const P d = pm::psub(w, pm::One<P>());
    return pm::Select(pm::IsZero(d), u, pm::pmul(pm::plog(w), pm::pdiv(u, d)));
  }
  // max(x, 0) + log1p(e^{-|t|})/beta: the linear part is exact and never
  // scaled, so y does not overflow where beta·x does (e^{-|t|} is then 0). A
  // NaN x is kept (pmax returns it, and every later operation too); y(-inf) =
  // 0, y(+inf) = inf.
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    const P tail = Log1p(pm::Exp(pm::NegAbs(pm::pmul(beta, x))));
    return pm::padd(pm::pmax(x, pm::Zero<P>()), pm::pdiv(tail, beta));
  }
  // dy/dx = σ(beta·x).
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    return pm::pmul(dy, pm::Sigmoid(pm::pmul(beta, x)));
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Softplus)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "softplus";
  i.summary = "A smooth ReLU: log(1 + e^x), scaled by beta.";
  i.formula =
      "y = (1/beta)·log(1 + e^(beta·x)) = max(x, 0) + log1p(e^-|beta·x|)/beta";
  i.derivative = "dy/dx = σ(beta·x)";
  i.reference =
      "Dugas, Bengio, Bélisle, Nadeau, Garcia, Incorporating Second-Order "
      "Functional Knowledge for Better Option Pricing, NIPS 2000";
  i.params = {NumberParam("beta", 1.0, 1e-6, 1e3,
                          "sharpness: larger beta is closer to relu (> 0)")};
  i.properties =
      MakeProperties(true, true, false, 0, kInf, true, false, CostClass::kExp);
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  args->beta = p.Number("beta");
  return KernelId::kSoftplus;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(softplus, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
