// Dice (Zhou et al. 2018, Deep Interest Network, eq. 9): a PReLU whose switch
// point follows the data. Per channel c along `axis`, p = σ((x - μ_c)/√(var_c +
// ε)) and y = x·(α_c + (1 - α_c)·p). Training uses the batch's statistics
// (returned as extras) and differentiates through them; inference uses the
// given running statistics.
//
// Statistics are two-pass (mean, then centred squares) and accumulated in
// float64, and the per-element arithmetic runs in float64 too, so float32
// results are correctly rounded to within a few ulp whatever the batch size.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

double Sigmoid(double z) {
  const double e = std::exp(-std::abs(z));
  return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

// Per-channel constants of one call.
struct Channels {
  AxisSplit split;
  std::vector<double> mean, var, inv_r, alpha;
};

class Dice final : public Activation {
 public:
  Dice() {
    info_.name = "dice";
    info_.summary =
        "Data-adaptive PReLU: a smooth switch centred on each channel's mean, "
        "scaled by "
        "its spread.";
    info_.formula =
        "y = x·(α_c + (1 - α_c)·p), p = σ((x - μ_c)/√(var_c + ε)), μ, var per "
        "channel "
        "(batch in training, running in inference)";
    info_.derivative =
        "inference: dy·(α + (1-α)p) + g/r; training: dy·(α + (1-α)p) + (g - "
        "mean(g) - "
        "z·mean(g·z))/r, g = dy·x·(1-α)·p·(1-p); dL/dα_c = Σ dy·x·(1-p)";
    info_.reference =
        "Zhou et al., Deep Interest Network for Click-Through Rate Prediction, "
        "KDD 2018, "
        "arXiv:1706.06978";
    info_.params = {
        IntegerParam("axis", -1, -64, 63,
                     "axis of the channels; all others are the batch"),
        NumberParam("epsilon", 1e-8, 1e-30, 1.0,
                    "added to the variance before the root"),
        FlagParam("training", true,
                  "true: batch statistics (returned as batch_mean, batch_var); "
                  "false: "
                  "running_mean and running_var")};
    info_.weights = {
        {"alpha", "[C]", "zeros",
         "output slope share for the 'off' side, per channel", true},
        {"running_mean", "[C]", "required for inference",
         "μ for training = false", false},
        {"running_var", "[C]", "required for inference",
         "var for training = false", false}};
    Properties& p = info_.properties;
    p.monotonic = false;
    p.smooth = true;
    p.zero_centered = false;
    p.range_min = -kInf;
    p.range_max = kInf;
    p.saturates_left = true;  // with α = 0 (the default) f' -> 0 as x -> -inf
    p.learnable_parameters = "1 per channel (alpha)";
    p.learnable_parameter_count = 1;
    p.cost = CostClass::kExp;
    info_.elementwise = false;
  }

  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis = NormalizeAxis(call.params.Number("axis"), rank,
                                             "activation.params[\"axis\"]");
    if (!axis.ok()) return axis.status();
    const AxisSplit s = SplitAround(call.input.shape, *axis);
    const std::string expected =
        absl::StrCat("[C] = [", s.channels, "] (C = input.shape[", *axis, "])");
    const bool training = call.params.Flag("training");
    for (const WeightInfo& w : info_.weights) {
      absl::StatusOr<const ConstTensorView*> t = FindWeight(call, w.name);
      if (!t.ok()) return t.status();
      if (*t == nullptr) {
        if (!training && w.name != "alpha") {
          return absl::InvalidArgumentError(absl::StrCat(
              "activation.weights[\"", w.name,
              "\"]: required when activation.params[\"training\"] is false"));
        }
        continue;
      }
      absl::Status shape =
          CheckWeightShape(w.name, **t, {s.channels}, expected);
      if (!shape.ok()) return shape;
    }
    if (training && s.channels > 0 && s.outer * s.inner == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input.shape: ", ShapeToString(call.input.shape),
          " has no elements per channel to take batch statistics from"));
    }
    if (!training) {
      const ConstTensorView& var = call.weights.find("running_var")->second;
      for (int64_t c = 0; c < s.channels; ++c) {
        const double v = var.dtype == DType::kFloat32 ? var.as<float>()[c]
                                                      : var.as<double>()[c];
        if (!(v >= 0)) {
          return absl::InvalidArgumentError(
              absl::StrCat("activation.weights[\"running_var\"][", c, "]: ", v,
                           " is not a variance (must be >= 0)"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    if (call.input.dtype == DType::kFloat32) {
      ForwardT<float>(call, sink);
    } else {
      ForwardT<double>(call, sink);
    }
    return absl::OkStatus();
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    if (call.input.dtype == DType::kFloat32) {
      BackwardT<float>(call, sink);
    } else {
      BackwardT<double>(call, sink);
    }
    return absl::OkStatus();
  }

 private:
  // Calls f(index, channel) for every element in memory order.
  template <typename F>
  static void ForEach(const AxisSplit& s, F&& f) {
    int64_t i = 0;
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t c = 0; c < s.channels; ++c) {
        for (int64_t j = 0; j < s.inner; ++j) f(i++, c);
      }
    }
  }

  template <typename T>
  static std::vector<double> Weight(const ActivationCall& call,
                                    absl::string_view name, int64_t channels) {
    std::vector<double> v(channels, 0.0);
    if (auto it = call.weights.find(name); it != call.weights.end()) {
      for (int64_t c = 0; c < channels; ++c) v[c] = it->second.as<T>()[c];
    }
    return v;
  }

  template <typename T>
  static Channels Statistics(const ActivationCall& call) {
    Channels ch;
    int axis = static_cast<int>(call.params.Number("axis"));
    if (axis < 0) axis += static_cast<int>(call.input.shape.size());
    ch.split = SplitAround(call.input.shape, axis);
    const int64_t C = ch.split.channels;
    ch.alpha = Weight<T>(call, "alpha", C);
    if (call.params.Flag("training")) {
      const T* x = call.input.as<T>();
      const double n = static_cast<double>(ch.split.outer * ch.split.inner);
      ch.mean.assign(C, 0.0);
      ch.var.assign(C, 0.0);
      ForEach(ch.split, [&](int64_t i, int64_t c) { ch.mean[c] += x[i]; });
      for (double& m : ch.mean) m /= n;
      ForEach(ch.split, [&](int64_t i, int64_t c) {
        const double d = x[i] - ch.mean[c];
        ch.var[c] += d * d;
      });
      for (double& v : ch.var) v /= n;
    } else {
      ch.mean = Weight<T>(call, "running_mean", C);
      ch.var = Weight<T>(call, "running_var", C);
    }
    const double eps = call.params.Number("epsilon");
    ch.inv_r.resize(C);
    for (int64_t c = 0; c < C; ++c)
      ch.inv_r[c] = 1 / std::sqrt(ch.var[c] + eps);
    return ch;
  }

  template <typename T>
  static void ForwardT(const ActivationCall& call, OutputSink& sink) {
    const Channels ch = Statistics<T>(call);
    const T* x = call.input.as<T>();
    T* y = sink.Allocate("output", call.input.dtype, call.input.shape).as<T>();
    ForEach(ch.split, [&](int64_t i, int64_t c) {
      const double p = Sigmoid((x[i] - ch.mean[c]) * ch.inv_r[c]);
      y[i] = static_cast<T>(x[i] * (ch.alpha[c] + (1 - ch.alpha[c]) * p));
    });
    if (call.params.Flag("training")) {
      const Shape shape = {ch.split.channels};
      T* mean = sink.Allocate("batch_mean", call.input.dtype, shape).as<T>();
      T* var = sink.Allocate("batch_var", call.input.dtype, shape).as<T>();
      for (int64_t c = 0; c < ch.split.channels; ++c) {
        mean[c] = static_cast<T>(ch.mean[c]);
        var[c] = static_cast<T>(ch.var[c]);
      }
    }
  }

  template <typename T>
  static void BackwardT(const ActivationCall& call, OutputSink& sink) {
    const Channels ch = Statistics<T>(call);
    const int64_t C = ch.split.channels;
    const T* x = call.input.as<T>();
    const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
    T* dx =
        sink.Allocate("grad_input", call.input.dtype, call.input.shape).as<T>();
    const bool training = call.params.Flag("training");
    // With z = (x-μ)/r and p = σ(z): g = dy·x·(1-α)·p·(1-p) is dL/dz.
    std::vector<double> sum_g(C, 0.0), sum_gz(C, 0.0), dalpha(C, 0.0);
    auto element = [&](int64_t i, int64_t c, double* z_out, double* g_out) {
      const double z = (x[i] - ch.mean[c]) * ch.inv_r[c];
      const double p = Sigmoid(z), q = Sigmoid(-z);
      const double g_up = dy ? dy[i] : 1.0;
      *z_out = z;
      *g_out = g_up * x[i] * (1 - ch.alpha[c]) * p * q;
      return g_up * (ch.alpha[c] + (1 - ch.alpha[c]) * p);
    };
    ForEach(ch.split, [&](int64_t i, int64_t c) {
      double z, g;
      const double direct = element(i, c, &z, &g);
      const double g_up = dy ? dy[i] : 1.0;
      dalpha[c] += g_up * x[i] * Sigmoid(-z);
      if (training) {
        sum_g[c] += g;
        sum_gz[c] += g * z;
      } else {
        dx[i] = static_cast<T>(direct + g * ch.inv_r[c]);
      }
    });
    if (training) {
      const double n = static_cast<double>(ch.split.outer * ch.split.inner);
      ForEach(ch.split, [&](int64_t i, int64_t c) {
        double z, g;
        const double direct = element(i, c, &z, &g);
        dx[i] = static_cast<T>(
            direct + ch.inv_r[c] * (g - sum_g[c] / n - z * sum_gz[c] / n));
      });
    }
    T* da = sink.Allocate("alpha", call.input.dtype, {C}).as<T>();
    for (int64_t c = 0; c < C; ++c) da[c] = static_cast<T>(dalpha[c]);
  }

  ActivationInfo info_;
};

}  // namespace

const Activation* DiceActivation() {
  static const Dice* row = new Dice();
  return row;
}

}  // namespace actd
