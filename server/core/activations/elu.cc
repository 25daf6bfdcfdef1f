// elu: the exponential linear unit, with a learnable alpha. Its kernel (with
// a scale) also runs selu.
#ifdef ACTD_ISA  // the kernel, compiled once per instruction set
#include "server/core/activations/kernel_export.h"

namespace actd {
inline namespace ACTD_ISA {
namespace kernels {

using pm::PacketOf;

// ELU and SELU: scale·(x if x > 0 else alpha·expm1(x)). expm1 keeps relative
// precision near 0. `term` is dL/dalpha = dy·scale·expm1(x) where x ≤ 0 (ELU's
// scale is 1); from y it is dy·y/alpha, so the from-output form needs alpha ≠ 0
// when that gradient is wanted.
template <typename T>
struct Elu {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  static constexpr bool kFromOutput =
      true;  // valid for alpha ≥ 0 (y > 0 iff x > 0)
  P scale, alpha, scaled_alpha, inv_alpha;
  explicit Elu(const KernelArgs& args)
      : scale(pm::pset1<P>(static_cast<T>(args.scale))),
        alpha(pm::pset1<P>(static_cast<T>(args.alpha))),
        scaled_alpha(pm::pset1<P>(static_cast<T>(args.alpha * args.scale))),
        inv_alpha(pm::pset1<P>(
            static_cast<T>(args.alpha == 0 ? 0 : 1 / args.alpha))) {}
  EIGEN_ALWAYS_INLINE P Forward(const P& x) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), pm::pmul(scale, x),
                      pm::pmul(scaled_alpha, pm::Expm1(x)));
  }
  EIGEN_ALWAYS_INLINE P Backward(const P& x, const P& dy, P& term) const {
    const P positive = pm::Gt(x, pm::Zero<P>());
    const pm::ExpPair<P> e = pm::ExpAndExpm1(x);
    const P scaled_dy = pm::pmul(scale, dy);
    term = pm::Select(positive, pm::Zero<P>(), pm::pmul(scaled_dy, e.expm1));
    return pm::Select(positive, scaled_dy,
                      pm::pmul(scaled_dy, pm::pmul(alpha, e.exp)));
  }
  // For x ≤ 0, f'(x) = y + scale·alpha.
  P BackwardFromOutput(const P& y, const P& dy, P& term) const {
    const P positive = pm::Gt(y, pm::Zero<P>());
    term = pm::Select(positive, pm::Zero<P>(),
                      pm::pmul(dy, pm::pmul(y, inv_alpha)));
    return pm::Select(positive, pm::pmul(scale, dy),
                      pm::pmul(dy, pm::padd(y, scaled_alpha)));
  }
};

}  // namespace kernels
}  // namespace ACTD_ISA
}  // namespace actd

ACTD_EXPORT_KERNEL(Elu)

#else  // the description and the row, compiled once
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "elu";
  i.summary =
      "Exponential linear unit: identity for x > 0, a smooth exponential floor "
      "at -alpha.";
  i.formula = "y = x if x > 0 else alpha·(e^x - 1)";
  i.derivative = "dy/dx = 1 if x > 0 else alpha·e^x (= y + alpha)";
  i.reference =
      "Clevert, Unterthiner, Hochreiter, Fast and Accurate Deep Network "
      "Learning by Exponential Linear Units (ELUs), ICLR 2016, "
      "arXiv:1511.07289";
  i.params = {NumberParam(
      "alpha", 1.0, 0.0, 1e3,
      "value the output saturates to (as -alpha) for large negative x",
      /*learnable=*/true)};
  // C1 at 0 only for alpha = 1, the default.
  i.properties =
      MakeProperties(true, true, true, -1, kInf, true, false, CostClass::kExp);
  i.properties.learnable_parameters = "1 (alpha)";
  i.properties.learnable_parameter_count = 1;
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  args->alpha = p.Number("alpha");
  return KernelId::kElu;
}
// dalpha from y is dy·y/alpha, which alpha = 0 leaves undetermined.
bool AlphaNonZero(const KernelArgs& args) { return args.alpha != 0; }

}  // namespace

ACTD_REGISTER_ACTIVATION(elu, ElementwiseRow(Info(),
                                             {Choose, "alpha", AlphaNonZero}))

}  // namespace actd
#endif  // ACTD_ISA
