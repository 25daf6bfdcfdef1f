// relu6: min(max(x, 0), 6), the clipped ReLU of MobileNet.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Relu6 {
  using P = PacketOf<T>;
  static constexpr bool kExactResults = true;
  static constexpr bool kFromOutput = false;  // y = 6 holds for x = 6 and x > 6
  explicit Relu6(const KernelArgs&) {}
  // pmax and pmin return a NaN x (see loops::Forward).
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::pmin(pm::pmax(x, pm::Zero<P>()), pm::Set<P>(6.0));
  }
  // 1 on (0, 6]: at each kink the negative side's slope.
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    const P inside =
        pm::pand(pm::Gt(x, pm::Zero<P>()), pm::pcmp_le(x, pm::Set<P>(6.0)));
    return pm::Select(inside, dy, pm::Zero<P>());
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Relu6)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "relu6";
  i.summary = "ReLU clipped at 6, robust in low-precision inference.";
  i.formula = "y = min(max(x, 0), 6)";
  i.derivative = "dy/dx = 1 if 0 < x <= 6 else 0";
  i.reference =
      "Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10, 2010; "
      "Howard et al., MobileNets, 2017, arXiv:1704.04861";
  i.properties = MakeProperties(true, false, false, 0, 6, true, true,
                                CostClass::kNoTranscendental);
  i.properties.kinks = {0.0, 6.0};
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) { return KernelId::kRelu6; }

}  // namespace

ACTD_REGISTER_ACTIVATION(relu6, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
