// swish: x·σ(beta·x) with a learnable beta. Its kernel also runs silu and
// gelu(approximate=sigmoid).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// Swish x·σ(βx), and GELU's sigmoid form (β = 1.702). `term` is dL/dβ =
// dy·x²·s(1-s).
template <typename T>
struct Swish {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;
  P beta;
  explicit Swish(const KernelArgs& args)
      : beta(pm::pset1<P>(static_cast<T>(args.beta))) {}
  // β·x, but 0 when β = 0 (where the product with x = ±inf would be NaN).
  P BetaX(const P& x) const {
    return pm::Select(pm::IsZero(beta), pm::Zero<P>(), pm::pmul(beta, x));
  }
  P Forward(const P& x) const {
    return pm::TimesVanishing(x, pm::Sigmoid(BetaX(x)));
  }
  // dx = s + βx·s(1-s); the second term is 0 wherever s(1-s) is (so 1 at +inf,
  // 0 at -inf).
  P Backward(const P& x, const P& dy, P& term) const {
    const auto s = pm::Sigmoids(BetaX(x));
    term = pm::pmul(dy, pm::TimesVanishing(pm::pmul(x, x), s.prod));
    const P slope = pm::TimesVanishing(BetaX(x), s.prod);
    return pm::pmul(dy, pm::padd(s.pos, slope));
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Swish)

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
