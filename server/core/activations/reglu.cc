// reglu: a·relu(b) over the two halves of the input along axis, fused on relu's
// kernel (gated.h).
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "reglu";
  i.summary =
      "ReLU-gated linear unit: the first half of the input times the ReLU of "
      "the second.";
  i.formula = "y = a·max(b, 0), [a, b] = x split in halves along axis";
  i.derivative = "da = dy·max(b, 0), db = dy·a·[b > 0]";
  i.reference =
      "Shazeer, GLU Variants Improve Transformer, 2020, arXiv:2002.05202";
  // The gate's properties (y as a function of b at a = 1).
  i.properties = MakeProperties(true, false, false, 0, kInf, true, false,
                                CostClass::kNoTranscendental);
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) { return KernelId::kRelu; }

}  // namespace

ACTD_REGISTER_ACTIVATION(reglu, GatedRow(Info(), {Choose}))

}  // namespace actd
