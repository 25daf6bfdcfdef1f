// silu: x·σ(x), the sigmoid-weighted linear unit: swish with beta fixed at 1
// (PyTorch's nn.SiLU), on swish's kernel. A row of its own so that it takes no
// parameter and has no learnable one.
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "silu";
  i.summary =
      "Sigmoid-weighted linear unit: x gated by its own sigmoid "
      "(swish with beta = 1).";
  i.formula = "y = x·σ(x)";
  i.derivative = "dy/dx = s + x·s·(1 - s), s = σ(x)";
  i.reference =
      "Elfwing, Uchibe, Doya, Sigmoid-Weighted Linear Units for Neural "
      "Network Function Approximation in Reinforcement Learning, 2018, "
      "arXiv:1702.03118";
  i.properties = MakeProperties(false, true, true, -0.27846454276107380, kInf,
                                true, false, CostClass::kExp);
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs* args) {
  args->beta = 1;
  return KernelId::kSwish;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(silu, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
