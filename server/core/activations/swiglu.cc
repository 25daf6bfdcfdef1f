// swiglu: a·swish_beta(b) over the two halves of the input along axis (LLaMA,
// PaLM feed-forward), fused on swish's kernel (gated.h).
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "swiglu";
  i.summary =
      "Swish-gated linear unit: the first half of the input times swish of the "
      "second.";
  i.formula = "y = a·b·σ(beta·b), [a, b] = x split in halves along axis";
  i.derivative = "da = dy·b·s, db = dy·a·(s + beta·b·s·(1 - s)), s = σ(beta·b)";
  i.reference =
      "Shazeer, GLU Variants Improve Transformer, 2020, arXiv:2002.05202";
  i.params = {NumberParam("beta", 1.0, -1e3, 1e3,
                          "sharpness of the swish gate (not learnable here)")};
  // The gate's properties (y as a function of b at a = 1).
  i.properties = MakeProperties(false, true, true, -0.27846454276107380, kInf,
                                true, false, CostClass::kExp);
  return i;
}

KernelId Choose(const ResolvedParams& p, KernelArgs* args) {
  args->beta = p.Number("beta");
  return KernelId::kSwish;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(swiglu, GatedRow(Info(), {Choose}))

}  // namespace actd
