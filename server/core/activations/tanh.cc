// tanh: the hyperbolic tangent, with a backward from y (1 - y²).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Tanh {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Tanh(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const { return pm::Tanh(x); }
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    return pm::pmul(dy, pm::TanhDerivative(x));
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::pmul(
        dy, pm::pmul(pm::psub(pm::One<P>(), y), pm::padd(pm::One<P>(), y)));
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Tanh)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "tanh";
  i.summary = "Hyperbolic tangent: a zero-centered sigmoid with range (-1, 1).";
  i.formula = "y = tanh(x) = (e^x - e^-x) / (e^x + e^-x)";
  i.derivative = "dy/dx = 1 - y² = 4·σ(2x)·σ(-2x)";
  i.reference = "LeCun, Bottou, Orr, Müller, Efficient BackProp, 1998";
  i.properties =
      MakeProperties(true, true, true, -1, 1, true, true, CostClass::kExp);
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) { return KernelId::kTanh; }

}  // namespace

ACTD_REGISTER_ACTIVATION(tanh, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
