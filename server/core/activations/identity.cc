// identity: y = x, the zero-cost baseline (forward is a copy).
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Identity {
  using P = PacketOf<T>;
  explicit Identity(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  static constexpr bool kForwardIsCopy = true;
  static constexpr bool kExactResults = true;
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const { return x; }
  EIGEN_ALWAYS_INLINE P Backward(const P&, const P& dy, P&) const { return dy; }
  P BackwardFromOutput(const P&, const P& dy, P&) const { return dy; }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Identity)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "identity";
  i.summary =
      "y = x: the zero-cost baseline for measuring the service's own overhead.";
  i.formula = "y = x";
  i.derivative = "dy/dx = 1";
  i.reference = "-";
  i.properties = MakeProperties(true, true, true, -kInf, kInf, false, false,
                                CostClass::kNoTranscendental);
  i.properties.nonlinear = false;
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kIdentity;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(identity, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
