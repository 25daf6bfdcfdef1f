// glu: the gated linear unit a·σ(b) over the two halves of the input along
// axis, fused on sigmoid's kernel (gated.h).
#include "server/core/rows.h"

namespace actd {
namespace {

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "glu";
  i.summary =
      "Gated linear unit: the first half of the input gated by the sigmoid of "
      "the second.";
  i.formula = "y = a·σ(b), [a, b] = x split in halves along axis";
  i.derivative = "da = dy·σ(b), db = dy·a·σ(b)·σ(-b)";
  i.reference =
      "Dauphin, Fan, Auli, Grangier, Language Modeling with Gated "
      "Convolutional Networks, ICML 2017, arXiv:1612.08083";
  // The gate's properties (y as a function of b at a = 1).
  i.properties =
      MakeProperties(true, true, false, 0, 1, true, true, CostClass::kExp);
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs*) {
  return KernelId::kSigmoid;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(glu, GatedRow(Info(), {Choose}))

}  // namespace actd
