// selu: the scaled ELU with fixed constants; runs elu's kernel.
#include "server/core/rows.h"

namespace actd {
namespace {

// SELU's fixed constants (Klambauer et al. 2017), to 32 digits.
constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "selu";
  i.summary =
      "Scaled ELU with fixed constants that make activations self-normalizing.";
  i.formula =
      "y = λ·x if x > 0 else λ·α·(e^x - 1), λ = 1.0507009873554805, α = "
      "1.6732632423543772";
  i.derivative = "dy/dx = λ if x > 0 else λ·α·e^x (= y + λ·α)";
  i.reference =
      "Klambauer, Unterthiner, Mayr, Hochreiter, Self-Normalizing Neural "
      "Networks, NeurIPS 2017, arXiv:1706.02515";
  i.properties = MakeProperties(true, false, true, -kSeluLambda * kSeluAlpha,
                                kInf, true, false, CostClass::kExp);
  i.properties.self_normalizing = true;
  i.backward_from_output = true;
  return i;
}

KernelId Choose(const ResolvedParams&, KernelArgs* args) {
  args->alpha = kSeluAlpha;
  args->scale = kSeluLambda;
  return KernelId::kElu;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(selu, ElementwiseRow(Info(), {Choose}))

}  // namespace actd
