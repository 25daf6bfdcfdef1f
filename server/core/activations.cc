// The element-wise rows of the registry (and PReLU, element-wise with a
// per-channel slope): each row pairs an activation's description and properties
// with its kernels from elementwise.h. Maxout and Dice, which reduce over an
// axis, have files of their own.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/half_ops.h"
#include "server/core/kernel_table.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

// SELU's fixed constants (Klambauer et al. 2017), to 32 digits.
constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

// Calls f(T{}) for the dtype's element type (16-bit ones too: half_ops.h).
template <typename F>
void WithType(DType dtype, F&& f) {
  WithAnyType(dtype, std::forward<F>(f));
}

// A parameter gradient for inputs of type T (float32 for 16-bit inputs).
template <typename T>
void WriteScalar(OutputSink& sink, const char* name, DType dtype, double v) {
  *sink.Allocate(name, GradDType(dtype), {}).as<GradOf<T>>() =
      static_cast<GradOf<T>>(v);
}

// Elements per chunk: 32 Ki elements (128 KiB of float32 in and as much out)
// stay in L2 while a thread works on them, and are many packets long. A
// multiple of every packet width.
constexpr int64_t kGrain = int64_t{1} << 15;

// How an element-wise row maps its parameters onto a kernel of the table.
struct KernelChoice {
  KernelId (*choose)(const ResolvedParams&, KernelArgs*);
  const char* learnable = nullptr;  // the learnable scalar's name, if any
  // Whether the kernel's from-output form holds for these arguments (null =
  // always).
  bool (*from_output_valid)(const KernelArgs&) = nullptr;
};

class Elementwise final : public Activation {
 public:
  Elementwise(ActivationInfo info, KernelChoice choice)
      : info_(std::move(info)), choice_(choice) {}
  const ActivationInfo& info() const override { return info_; }
  absl::Status Validate(const ActivationCall&) const override {
    return absl::OkStatus();
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    const TensorView y =
        sink.Allocate("output", call.input.dtype, call.input.shape);
    KernelArgs args;
    const KernelId id = choice_.choose(call.params, &args);
    args.stream = StreamOutput(y.bytes());
    absl::Status status;
    WithType(call.input.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto forward = OpsOf<T>(id).forward;
      const T* x = call.input.as<T>();
      status = call.compute->ParallelFor(
          call.input.size(), kGrain, [&](int64_t, int64_t begin, int64_t end) {
            forward(args, x + begin, y.as<T>() + begin, end - begin);
          });
    });
    return status;
  }

  // dx from y when the caller sent y and the kernel has that form, else from x.
  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    const DType dtype = call.input.dtype;
    const TensorView dx = sink.Allocate("grad_input", dtype, call.input.shape);
    KernelArgs args;
    const KernelId id = choice_.choose(call.params, &args);
    args.stream = StreamOutput(dx.bytes());
    const bool sum = choice_.learnable != nullptr;
    const int64_t n = call.input.size();
    // One partial sum per chunk, added in chunk order: the same bits for any
    // thread count.
    std::vector<double> partial((n + kGrain - 1) / kGrain, 0.0);
    absl::Status status;
    WithType(dtype, [&](auto tag) {
      using T = decltype(tag);
      const ElementwiseOps<T>& ops = OpsOf<T>(id);
      const bool from_output = call.output != nullptr &&
                               ops.backward_from_output != nullptr &&
                               (choice_.from_output_valid == nullptr ||
                                choice_.from_output_valid(args));
      const auto backward =
          from_output ? ops.backward_from_output : ops.backward;
      const T* a = from_output ? call.output->as<T>() : call.input.as<T>();
      const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
      status = call.compute->ParallelFor(
          n, kGrain, [&](int64_t chunk, int64_t begin, int64_t end) {
            partial[chunk] =
                backward(args, a + begin, dy ? dy + begin : nullptr,
                         dx.as<T>() + begin, end - begin, sum);
          });
      if (sum) {
        double grad = 0;
        for (double p : partial) grad += p;
        WriteScalar<T>(sink, choice_.learnable, dtype, grad);
      }
    });
    return status;
  }

 private:
  ActivationInfo info_;
  KernelChoice choice_;
};

KernelChoice Fixed(KernelId (*choose)(const ResolvedParams&, KernelArgs*)) {
  return {choose};
}

KernelId ChooseIdentity(const ResolvedParams&, KernelArgs*) {
  return KernelId::kIdentity;
}
KernelId ChooseSigmoid(const ResolvedParams&, KernelArgs*) {
  return KernelId::kSigmoid;
}
KernelId ChooseTanh(const ResolvedParams&, KernelArgs*) {
  return KernelId::kTanh;
}
KernelId ChooseRelu(const ResolvedParams&, KernelArgs*) {
  return KernelId::kRelu;
}
KernelId ChooseMish(const ResolvedParams&, KernelArgs*) {
  return KernelId::kMish;
}
KernelId ChooseElu(const ResolvedParams& p, KernelArgs* args) {
  args->alpha = p.Number("alpha");
  return KernelId::kElu;
}
KernelId ChooseSelu(const ResolvedParams&, KernelArgs* args) {
  args->alpha = kSeluAlpha;
  args->scale = kSeluLambda;
  return KernelId::kElu;
}
KernelId ChooseLeakyRelu(const ResolvedParams& p, KernelArgs* args) {
  args->alpha = p.Number("alpha");
  return KernelId::kLeaky;
}
KernelId ChooseGelu(const ResolvedParams& p, KernelArgs* args) {
  const std::string& form = p.Text("approximate");
  if (form == "tanh") return KernelId::kGeluTanh;
  if (form == "none") return KernelId::kGeluErf;
  args->beta = 1.702;  // x·σ(1.702x)
  return KernelId::kSwish;
}
KernelId ChooseSwish(const ResolvedParams& p, KernelArgs* args) {
  args->beta = p.Number("beta");
  return KernelId::kSwish;
}
// ELU's dalpha from y is dy·y/alpha, which alpha = 0 leaves undetermined.
bool AlphaNonZero(const KernelArgs& args) { return args.alpha != 0; }

// PReLU: a leaky ReLU whose slope `alpha` is a weight, scalar or one per
// channel along `channel_axis`. Runs the Leaky kernel over each contiguous run
// of one channel.
class Prelu final : public Activation {
 public:
  explicit Prelu(ActivationInfo info) : info_(std::move(info)) {}
  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    absl::StatusOr<const ConstTensorView*> alpha = FindWeight(call, "alpha");
    if (!alpha.ok()) return alpha.status();
    if (*alpha == nullptr || (*alpha)->size() == 1) {
      if (*alpha != nullptr && (*alpha)->shape.size() > 1) {
        return CheckWeightShape("alpha", **alpha, {1}, "[] or [1] or [C]");
      }
      return absl::OkStatus();
    }
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis =
        NormalizeAxis(call.params.Number("channel_axis"), rank,
                      "activation.params[\"channel_axis\"]");
    if (!axis.ok()) return axis.status();
    const int64_t channels = call.input.shape[*axis];
    return CheckWeightShape("alpha", **alpha, {channels},
                            absl::StrCat("[] or [1] or [C] = [", channels,
                                         "] (C = input.shape[", *axis, "])"));
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    const TensorView y =
        sink.Allocate("output", call.input.dtype, call.input.shape);
    const Runs runs = RunsOf(call);
    const bool stream = StreamOutput(y.bytes());
    absl::Status status;
    WithType(call.input.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto forward = OpsOf<T>(KernelId::kLeaky).forward;
      const T* x = call.input.as<T>();
      const T* alpha = runs.alpha ? runs.alpha->as<T>() : nullptr;
      status = call.compute->ParallelFor(
          runs.count, runs.grain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t offset = r * runs.length;
              const int64_t n = std::min(runs.length, runs.total - offset);
              forward({.alpha = Slope(alpha, runs, r), .stream = stream},
                      x + offset, y.as<T>() + offset, n);
            }
          });
    });
    return status;
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    const DType dtype = call.input.dtype;
    const TensorView dx = sink.Allocate("grad_input", dtype, call.input.shape);
    const Runs runs = RunsOf(call);
    const TensorView grad = sink.Allocate(
        "alpha", GradDType(dtype), runs.alpha ? runs.alpha->shape : Shape{});
    // Each run's sum of dy·x over x <= 0, then per slope in run order: the
    // same bits for any thread count.
    std::vector<double> partial(runs.count, 0.0);
    absl::Status status;
    WithType(dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto backward = OpsOf<T>(KernelId::kLeaky).backward;
      const T* x = call.input.as<T>();
      const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
      const T* alpha = runs.alpha ? runs.alpha->as<T>() : nullptr;
      status = call.compute->ParallelFor(
          runs.count, runs.grain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t offset = r * runs.length;
              const int64_t n = std::min(runs.length, runs.total - offset);
              partial[r] = backward({.alpha = Slope(alpha, runs, r)},
                                    x + offset, dy ? dy + offset : nullptr,
                                    dx.as<T>() + offset, n, true);
            }
          });
      std::vector<double> sums(grad.size(), 0.0);
      for (int64_t r = 0; r < runs.count; ++r) {
        sums[runs.channels > 1 ? r % runs.channels : 0] += partial[r];
      }
      for (size_t c = 0; c < sums.size(); ++c) {
        grad.as<GradOf<T>>()[c] = static_cast<GradOf<T>>(sums[c]);
      }
    });
    return status;
  }

 private:
  // The input as consecutive runs of `length` elements sharing one slope: for a
  // shared alpha, kGrain-sized pieces of the whole tensor; per channel, the
  // inner blocks, run r having channel r % channels. `grain` runs make a chunk.
  struct Runs {
    const ConstTensorView* alpha = nullptr;  // null = the default 0.25
    int64_t total = 0, length = 1, count = 0, channels = 1, grain = 1;
  };

  static Runs RunsOf(const ActivationCall& call) {
    Runs runs;
    auto it = call.weights.find("alpha");
    if (it != call.weights.end()) runs.alpha = &it->second;
    runs.total = call.input.size();
    if (runs.alpha == nullptr || runs.alpha->size() == 1) {
      runs.length = kGrain;
    } else {
      const int rank = static_cast<int>(call.input.shape.size());
      int axis = static_cast<int>(call.params.Number("channel_axis"));
      if (axis < 0) axis += rank;
      const AxisSplit s = SplitAround(call.input.shape, axis);
      runs.length = std::max<int64_t>(1, s.inner);
      runs.channels = s.channels;
      runs.grain = std::max<int64_t>(1, kGrain / runs.length);
    }
    runs.count =
        runs.total == 0 ? 0 : (runs.total + runs.length - 1) / runs.length;
    return runs;
  }

  template <typename T>
  static double Slope(const T* alpha, const Runs& runs, int64_t run) {
    if (alpha == nullptr) return 0.25;
    return static_cast<double>(
        alpha[runs.channels > 1 ? run % runs.channels : 0]);
  }

  ActivationInfo info_;
};

Properties MakeProperties(bool monotonic, bool smooth, bool zero_centered,
                          double lo, double hi, bool sat_left, bool sat_right,
                          CostClass cost) {
  Properties p;
  p.monotonic = monotonic;
  p.smooth = smooth;
  if (!smooth) p.kinks = {0.0};
  p.zero_centered = zero_centered;
  p.range_min = lo;
  p.range_max = hi;
  p.saturates_left = sat_left;
  p.saturates_right = sat_right;
  p.learnable_parameters = "0";
  p.cost = cost;
  return p;
}

ActivationInfo SigmoidInfo() {
  ActivationInfo i;
  i.name = "sigmoid";
  i.summary = "Logistic function: squashes any input into (0, 1).";
  i.formula = "y = σ(x) = 1 / (1 + e^-x)";
  i.derivative = "dy/dx = σ(x)·σ(-x) = y·(1 - y)";
  i.reference =
      "Rumelhart, Hinton, Williams, Learning representations by "
      "back-propagating errors, Nature 1986";
  i.properties =
      MakeProperties(true, true, false, 0, 1, true, true, CostClass::kExp);
  i.backward_from_output = true;
  return i;
}

ActivationInfo TanhInfo() {
  ActivationInfo i;
  i.name = "tanh";
  i.summary = "Hyperbolic tangent: a zero-centered sigmoid with range (-1, 1).";
  i.formula = "y = tanh(x) = (e^x - e^-x) / (e^x + e^-x)";
  i.derivative = "dy/dx = 1 - y² = 4·σ(2x)·σ(-2x)";
  i.reference = "LeCun, Bottou, Orr, Müller, Efficient BackProp, 1998";
  i.properties =
      MakeProperties(true, true, true, -1, 1, true, true, CostClass::kExp);
  i.backward_from_output = true;
  return i;
}

ActivationInfo ReluInfo() {
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

ActivationInfo EluInfo() {
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

ActivationInfo SeluInfo() {
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

ActivationInfo LeakyReluInfo() {
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
  i.params = {NumberParam("alpha", 0.01, 0.0, 1.0, "slope for x <= 0")};
  i.properties = MakeProperties(true, false, true, -kInf, kInf, false, false,
                                CostClass::kNoTranscendental);
  i.backward_from_output = true;
  return i;
}

ActivationInfo PreluInfo() {
  ActivationInfo i;
  i.name = "prelu";
  i.summary =
      "Leaky ReLU whose negative slope is learned, one per channel or shared.";
  i.formula = "y = x if x > 0 else a_c·x (c = the channel of x)";
  i.derivative =
      "dy/dx = 1 if x > 0 else a_c; dL/da_c = Σ over x <= 0 in channel c of "
      "dy·x";
  i.reference =
      "He, Zhang, Ren, Sun, Delving Deep into Rectifiers, ICCV 2015, "
      "arXiv:1502.01852";
  i.params = {
      IntegerParam("channel_axis", 1, -64, 63,
                   "axis of the channels when alpha has one slope per channel "
                   "(1, as in PyTorch's NCHW)")};
  i.weights = {{"alpha", "[] or [1] or [C]", "0.25",
                "negative-side slope, shared or one per channel", true}};
  i.properties = MakeProperties(true, false, true, -kInf, kInf, false, false,
                                CostClass::kNoTranscendental);
  i.properties.learnable_parameters = "1, or 1 per channel (alpha)";
  i.properties.learnable_parameter_count = 1;
  return i;
}

ActivationInfo GeluInfo() {
  ActivationInfo i;
  i.name = "gelu";
  i.summary =
      "Gaussian error linear unit: x weighted by the probability that a "
      "standard normal is below it.";
  i.formula =
      "none: y = x·Φ(x) = 0.5·x·erfc(-x/√2); tanh: y = 0.5·x·(1 + "
      "tanh(√(2/π)·(x + "
      "0.044715·x³))); sigmoid: y = x·σ(1.702·x)";
  i.derivative =
      "none: Φ(x) + x·φ(x); tanh: σ(2u) + x·σ(2u)σ(-2u)·2√(2/π)(1 + "
      "0.134145x²); "
      "sigmoid: s + 1.702·x·s·(1 - s), s = σ(1.702x)";
  i.reference =
      "Hendrycks, Gimpel, Gaussian Error Linear Units (GELUs), 2016, "
      "arXiv:1606.08415";
  i.params = {TextParam(
      "approximate", "none", {"none", "tanh", "sigmoid"},
      "exact form through erfc, or the tanh / sigmoid approximation")};
  i.properties = MakeProperties(false, true, true, -0.16997120747990606, kInf,
                                true, false, CostClass::kErf);
  return i;
}

ActivationInfo SwishInfo() {
  ActivationInfo i;
  i.name = "swish";
  i.summary = "x gated by its own sigmoid; beta = 1 is SiLU.";
  i.formula = "y = x·σ(beta·x)";
  i.derivative =
      "dy/dx = s + beta·x·s·(1 - s), s = σ(beta·x); dL/dbeta = Σ dy·x²·s·(1 - "
      "s)";
  i.reference =
      "Ramachandran, Zoph, Le, Searching for Activation Functions, 2017, "
      "arXiv:1710.05941";
  i.params = {NumberParam("beta", 1.0, -1e3, 1e3, "sharpness of the gate",
                          /*learnable=*/true)};
  i.properties = MakeProperties(false, true, true, -0.27846454276107380, kInf,
                                true, false, CostClass::kExp);
  i.properties.learnable_parameters = "1 (beta)";
  i.properties.learnable_parameter_count = 1;
  return i;
}

ActivationInfo MishInfo() {
  ActivationInfo i;
  i.name = "mish";
  i.summary = "Self-regularized non-monotonic activation: x·tanh(softplus(x)).";
  i.formula = "y = x·tanh(ln(1 + e^x)) = x·n/(n + 2), n = e^2x + 2e^x";
  i.derivative = "dy/dx = t + x·σ(x)·(1 - t²), t = tanh(softplus(x))";
  i.reference =
      "Misra, Mish: A Self Regularized Non-Monotonic Activation Function, BMVC "
      "2020, arXiv:1908.08681";
  i.properties = MakeProperties(false, true, true, -0.30884341301725040, kInf,
                                true, false, CostClass::kExp);
  return i;
}

ActivationInfo IdentityInfo() {
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

}  // namespace

std::vector<const Activation*> ElementwiseActivations() {
  static const auto* rows = new std::vector<const Activation*>{
      new Elementwise(SigmoidInfo(), Fixed(ChooseSigmoid)),
      new Elementwise(TanhInfo(), Fixed(ChooseTanh)),
      new Elementwise(ReluInfo(), Fixed(ChooseRelu)),
      new Elementwise(EluInfo(), {ChooseElu, "alpha", AlphaNonZero}),
      new Elementwise(SeluInfo(), Fixed(ChooseSelu)),
      new Elementwise(LeakyReluInfo(), Fixed(ChooseLeakyRelu)),
      new Prelu(PreluInfo()),
      new Elementwise(GeluInfo(), Fixed(ChooseGelu)),
      new Elementwise(SwishInfo(), {ChooseSwish, "beta"}),
      new Elementwise(MishInfo(), Fixed(ChooseMish)),
      new Elementwise(IdentityInfo(), Fixed(ChooseIdentity)),
  };
  return *rows;
}

}  // namespace actd
