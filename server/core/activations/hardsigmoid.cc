// hardsigmoid: relu6(x + 3)/6, the piecewise-linear sigmoid of MobileNetV3.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct HardSigmoid {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;  // y = 1 for every x >= 3
  explicit HardSigmoid(const KernelArgs&) {}
  // Its results are one rounding of exactly held values, (x + 3)/6 and dy/6,
  // which is what keeps the 16-bit results correctly rounded without a
  // float64 redo (half_loops.h kRoundsOnce; the exhaustive 16-bit tests check
  // all 65,536 inputs of both types). x + 3 is exact near -3 (Sterbenz), so
  // the left end keeps relative precision.
  static constexpr bool kRoundsOnce = true;
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    const P r = pm::pmin(pm::pmax(pm::padd(x, pm::Set<P>(3.0)), pm::Zero<P>()),
                         pm::Set<P>(6.0));
    return pm::pdiv(r, pm::Set<P>(6.0));
  }
  // 1/6 on (-3, 3]: at each kink the negative side's slope.
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    const P inside =
        pm::pand(pm::Gt(x, pm::Set<P>(-3.0)), pm::pcmp_le(x, pm::Set<P>(3.0)));
    return pm::Select(inside, pm::pdiv(dy, pm::Set<P>(6.0)), pm::Zero<P>());
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(HardSigmoid)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "hardsigmoid";
  i.summary =
      "Piecewise-linear sigmoid: 0 below -3, 1 above 3, linear between.";
  i.formula = "y = relu6(x + 3)/6 = min(max(x + 3, 0), 6)/6";
  i.derivative = "dy/dx = 1/6 if -3 < x <= 3 else 0";
  i.reference =
      "Howard et al., Searching for MobileNetV3, ICCV 2019, arXiv:1905.02244";
  i.properties = MakeProperties(true, false, false, 0, 1, true, true,
                                CostClass::kNoTranscendental);
  i.properties.kinks = {-3.0, 3.0};
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kHardSigmoid;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(hardsigmoid, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
