// sigmoid: the logistic function σ(x) = 1/(1 + e^-x), with a backward from
// y (y·(1 - y)).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Sigmoid {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Sigmoid(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const { return pm::Sigmoid(x); }
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    return pm::pmul(dy, pm::Sigmoids(x).prod);
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::pmul(dy, pm::pmul(y, pm::psub(pm::One<P>(), y)));
  }
  // Forward and Backward from one exponential, for the gated units (gated.h).
  EIGEN_ALWAYS_INLINE P ValueAndBackward(const P& x, const P& dy, P& y) const {
    const auto s = pm::Sigmoids(x);
    y = s.pos;
    return pm::pmul(dy, s.prod);
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Sigmoid)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "sigmoid";
  i.summary = "Logistic function: squashes any input into (0, 1).";
  i.formula = "y = σ(x) = 1 / (1 + e^-x)";
  i.derivative = "dy/dx = σ(x)·σ(-x) = y·(1 - y)";
  i.reference =
      "Rumelhart, Hinton, Williams, Learning representations by "
      "back-propagating errors, Nature 1986";
  i.properties =
      MakeProperties(true, true, false, 0, 1, true, true, CostClass::kExp);
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kSigmoid;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(sigmoid, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
