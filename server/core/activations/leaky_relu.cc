// leaky_relu: x if x > 0 else alpha·x. Its kernel also runs prelu.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// Leaky ReLU and PReLU: x if x > 0 else a·x. `term` is dL/da = dy·x where x ≤
// 0.
template <typename T>
struct Leaky {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput =
      true;  // valid for a ≥ 0 (y > 0 iff x > 0)
  // y and dx are x, dy or one rounding of a·x, a·dy (elementwise.h).
  static constexpr bool kOneRounding = true;
  P a;
  explicit Leaky(const KernelArgs& args)
      : a(pm::pset1<P>(static_cast<T>(args.alpha))) {}
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), x, pm::pmul(a, x));
  }
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P& term) const {
    const P positive = pm::Gt(x, pm::Zero<P>());
    term = pm::Select(positive, pm::Zero<P>(), pm::pmul(dy, x));
    return pm::Select(positive, dy, pm::pmul(a, dy));
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::Select(pm::Gt(y, pm::Zero<P>()), dy, pm::pmul(a, dy));
  }
};

// The forward for 0 < a ≤ 1 (leaky_relu's whole range but 0; PReLU's when its
// slope is there): max(a·x, x) in two operations, no compare. Bit-identical to
// the select: a·x ≤ x for x > 0 and a·x ≥ x for x < 0 (rounding is monotone);
// at ±0, a·x = x; at ±inf, a·x is the same inf (not NaN, as a ≠ 0). A NaN
// x makes a·x NaN, and pmax returns its first operand where either is NaN
// (std::max's rule: Eigen swaps vmaxps' operands), so y is a·x, as before.
template <typename T>
struct LeakyUnitSlope : Leaky<T> {
  using P = PacketOf<T>;
  using Leaky<T>::Leaky;
  // x is pinned to a register: GCC otherwise reads it from memory twice
  // (folded into the multiply, then again for the max), and at 1 Mi float32
  // on AVX-512 the second read of unaligned data cost ~10%.
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    P v = x;
    __asm__("" : "+v"(v));
    return pm::pmax(pm::pmul(this->a, v), v);
  }
};

}  // namespace kernels

namespace exported {

// Leaky's forward, through the max form when the slope (in the compute type)
// allows it.
template <typename T>
void LeakyForward(const KernelArgs& args, const T* x, T* y, int64_t n) {
  const auto a = static_cast<ComputeType<T>>(args.alpha);
  OpsEither<T, kernels::LeakyUnitSlope, kernels::Leaky>(a > 0 && a <= 1)
      .forward(args, x, y, n);
}

}  // namespace exported

// As ACTD_EXPORT_KERNEL(Leaky), with the forward above for every dtype.
void ExportLeaky(KernelTable& table) {
  const int id = static_cast<int>(KernelId::kLeaky);
  exported::Export<kernels::Leaky>(table, KernelId::kLeaky);
  table.f32[id].forward = &exported::LeakyForward<float>;
  table.f64[id].forward = &exported::LeakyForward<double>;
  table.bf16[id].forward = &exported::LeakyForward<BFloat16>;
  table.f16[id].forward = &exported::LeakyForward<Float16>;
}

}  // namespace ACTD_ISA
}  // namespace actd

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "leaky_relu";
  i.summary =
      "ReLU with a small fixed slope alpha for negative inputs, so no unit "
      "dies.";
  i.formula = "y = x if x > 0 else alpha·x";
  i.derivative = "dy/dx = 1 if x > 0 else alpha (alpha at x = 0)";
  i.reference =
      "Maas, Hannun, Ng, Rectifier Nonlinearities Improve Neural Network "
      "Acoustic Models, ICML 2013";
  i.params = {NumberParam("alpha", 0.01, 0.0, 1.0,
                          "slope for x <= 0 (also accepted as negative_slope, "
                          "PyTorch's name)")};
  i.params[0].aliases = {"negative_slope"};
  i.properties = MakeProperties(true, false, true, -kInf, kInf, false, false,
                                CostClass::kNoTranscendental);
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  args->alpha = p.Number("alpha");
  return KernelId::kLeaky;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(leaky_relu, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
#endif  // ACTD_ISA
