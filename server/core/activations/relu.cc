// relu: max(x, 0), with a backward from y.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Relu {
  using P = PacketOf<T>;
  explicit Relu(const KernelArgs&) {}
  static constexpr bool kExactResults = true;
  static constexpr bool kFromOutput = true;
  // max(x, 0) in one operation; a NaN x is kept (see loops::Forward), and -0
  // too, as the x > 0 branch is not taken there.
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::pmax(x, pm::Zero<P>());
  }
  // At exactly 0 the negative side's slope (0).
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P&) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), dy, pm::Zero<P>());
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::Select(pm::Gt(y, pm::Zero<P>()), dy, pm::Zero<P>());
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Relu)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "relu";
  i.summary = "Rectified linear unit: passes positives, zeroes negatives.";
  i.formula = "y = max(x, 0)";
  i.derivative = "dy/dx = 1 if x > 0 else 0 (0 at x = 0)";
  i.reference =
      "Nair, Hinton, Rectified Linear Units Improve Restricted Boltzmann "
      "Machines, ICML 2010";
  i.properties = MakeProperties(true, false, false, 0, kInf, true, false,
                                CostClass::kNoTranscendental);
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) { return KernelId::kRelu; }

}  // namespace

ACTD_REGISTER_ACTIVATION(relu, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
