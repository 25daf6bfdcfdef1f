// gelu: x·Φ(x) (erfc form), or its tanh or sigmoid approximation (the
// latter on swish's kernel).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// GELU, tanh form: x·σ(2u), u = √(2/π)(x + 0.044715x³).
template <typename T>
struct GeluTanh {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit GeluTanh(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  static constexpr double kC = 0.79788456080286535588;  // √(2/π)
  static P TwoU(const P& x) {
    const P x2 = pm::pmul(x, x);
    return pm::pmul(
        pm::Set<P>(2 * kC),
        pm::pmul(x, pm::pmadd(pm::Set<P>(0.044715), x2, pm::One<P>())));
  }
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::TimesVanishing(x, pm::Sigmoid(TwoU(x)));
  }
  // dx = σ(2u) + x·σ(2u)σ(-2u)·2√(2/π)(1 + 0.134145x²) (pm::PlusVanishing:
  // -0 in the far left, where both terms vanish).
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    const auto s = pm::Sigmoids(TwoU(x));
    const P du =
        pm::pmul(pm::Set<P>(2 * kC),
                 pm::pmadd(pm::Set<P>(0.134145), pm::pmul(x, x), pm::One<P>()));
    const P tail = pm::TimesVanishing(pm::pmul(x, du), s.prod);
    return pm::pmul(dy, pm::PlusVanishing(s.pos, tail));
  }
};

// GELU, exact: x·Φ(x). erfc rather than 1 + erf keeps relative precision in the
// left tail.
template <typename T>
struct GeluErf {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit GeluErf(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::WithNormal(x,
                          [&](const pm::NormalParts<P>& n, const auto& times)
                              ACTD_INLINE_LAMBDA { return times(x, n.cdf); });
  }
  // dx = Φ(x) + x·φ(x), φ(x) = e^{-x²/2}/√(2π). (The unused y is dropped by
  // the compiler.)
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    P y;
    return ValueAndBackward(x, dy, y);
  }
  // Forward and Backward from one Φ and φ, for the gated units (gated.h).
  EIGEN_ALWAYS_INLINE P ValueAndBackward(const P& x, const P& dy, P& y) const {
    return pm::WithNormal(x, [&](const pm::NormalParts<P>& n,
                                 const auto& times) ACTD_INLINE_LAMBDA {
      const P phi = pm::pmul(pm::Set<P>(0.39894228040143267794), n.gauss);
      y = times(x, n.cdf);
      return pm::pmul(dy, times.Add(x, phi, n.cdf));
    });
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(GeluTanh)
ACTD_EXPORT_KERNEL(GeluErf)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "gelu";
  i.summary =
      "Gaussian error linear unit: x weighted by the probability that a "
      "standard normal is below it.";
  i.formula =
      "none: y = x·Φ(x) = 0.5·x·erfc(-x/√2); tanh: y = 0.5·x·(1 + "
      "tanh(√(2/π)·(x + "
      "0.044715·x³))); sigmoid: y = x·σ(1.702·x)";
  i.derivative =
      "none: Φ(x) + x·φ(x); tanh: σ(2u) + x·σ(2u)σ(-2u)·2√(2/π)(1 + "
      "0.134145x²); "
      "sigmoid: s + 1.702·x·s·(1 - s), s = σ(1.702x)";
  i.reference =
      "Hendrycks, Gimpel, Gaussian Error Linear Units (GELUs), 2016, "
      "arXiv:1606.08415";
  i.params = {TextParam(
      "approximate", "none", {"none", "tanh", "sigmoid"},
      "exact form through erfc, or the tanh / sigmoid approximation")};
  i.properties = MakeProperties(false, true, true, -0.16997120747990606, kInf,
                                true, false, CostClass::kErf);
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  const std::string& form = p.Text("approximate");
  if (form == "tanh") return KernelId::kGeluTanh;
  if (form == "none") return KernelId::kGeluErf;
  args->beta = 1.702;  // x·σ(1.702x), swish's kernel
  return KernelId::kSwish;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(gelu, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
