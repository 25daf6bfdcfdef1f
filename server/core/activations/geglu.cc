// geglu: a·GELU(b) (erf form) over the two halves of the input along axis (T5
// v1.1), fused on gelu's exact kernel (gated.h).
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "geglu";
  i.summary =
      "GELU-gated linear unit: the first half of the input times the exact "
      "GELU of the second.";
  i.formula = "y = a·b·Φ(b), [a, b] = x split in halves along axis";
  i.derivative = "da = dy·b·Φ(b), db = dy·a·(Φ(b) + b·φ(b))";
  i.reference =
      "Shazeer, GLU Variants Improve Transformer, 2020, arXiv:2002.05202";
  // The gate's properties (y as a function of b at a = 1).
  i.properties = MakeProperties(false, true, true, -0.16997120747990606, kInf,
                                true, false, CostClass::kErf);
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kGeluErf;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(geglu, GatedRow(Info(), {Choose}))

}  // namespace actd
