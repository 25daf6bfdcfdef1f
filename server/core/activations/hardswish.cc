// hardswish: x·relu6(x + 3)/6, the piecewise-polynomial swish of MobileNetV3.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct HardSwish {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;
  explicit HardSwish(const KernelArgs&) {}
  // x(x + 3)/6 on (-3, 3]: x + 3 is exact near -3, so the product keeps
  // relative precision at the left zero. Beyond 3, y = x; at or below -3, 0
  // (selected, so -inf gives 0 rather than -inf·0); a NaN x is kept.
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    const P mid =
        pm::pdiv(pm::pmul(x, pm::padd(x, pm::Set<P>(3.0))), pm::Set<P>(6.0));
    const P y =
        pm::Select(pm::Gt(x, pm::Set<P>(3.0)), x,
                   pm::Select(pm::Gt(x, pm::Set<P>(-3.0)), mid, pm::Zero<P>()));
    return pm::KeepNaN(x, y);
  }
  // 0 for x <= -3, (2x + 3)/6 on (-3, 3], 1 above: at each kink the negative
  // side's slope.
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    const P mid =
        pm::pdiv(pm::padd(pm::padd(x, x), pm::Set<P>(3.0)), pm::Set<P>(6.0));
    const P d =
        pm::Select(pm::Gt(x, pm::Set<P>(3.0)), pm::One<P>(),
                   pm::Select(pm::Gt(x, pm::Set<P>(-3.0)), mid, pm::Zero<P>()));
    return pm::pmul(dy, d);
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(HardSwish)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "hardswish";
  i.summary =
      "Piecewise-polynomial swish: 0 below -3, x above 3, x(x + 3)/6 between.";
  i.formula = "y = x·relu6(x + 3)/6";
  i.derivative = "dy/dx = 0 if x <= -3, (2x + 3)/6 if -3 < x <= 3, 1 if x > 3";
  i.reference =
      "Howard et al., Searching for MobileNetV3, ICCV 2019, arXiv:1905.02244";
  i.properties = MakeProperties(false, false, true, -0.375, kInf, true, false,
                                CostClass::kNoTranscendental);
  i.properties.kinks = {-3.0, 3.0};
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kHardSwish;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(hardswish, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
