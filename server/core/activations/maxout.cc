// Maxout (Goodfellow et al. 2013): the maximum over groups of k consecutive
// entries along an axis, optionally after the seed article's k affine pieces z
// = x·Wᵀ + b (Eigen's GEMM). The gradient goes to the first entry that attains
// a group's maximum; a NaN in a group makes that output NaN and its gradient
// NaN.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

template <typename T>
using RowMajor =
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Index (0..k-1) of the first maximum of the group at `z + base` with stride
// `inner`; the first NaN wins over any number.
template <typename T>
int64_t ArgMax(const T* z, int64_t base, int64_t k, int64_t inner) {
  int64_t best = 0;
  T v = z[base];
  if (std::isnan(v)) return 0;
  for (int64_t p = 1; p < k; ++p) {
    const T w = z[base + p * inner];
    if (std::isnan(w)) return p;
    if (w > v) {
      v = w;
      best = p;
    }
  }
  return best;
}

// A [outer, units·k, inner] tensor of groups.
struct Layout {
  int64_t outer, units, k, inner;
};

// Calls visit(group_base, output_index) for every group, chunks of outer rows
// on the compute pool. Returns the stop check's status.
template <typename Visit>
absl::Status ForEachGroup(const ComputeContext& compute, const Layout& l,
                          Visit&& visit) {
  const int64_t row = l.units * l.k * l.inner;
  return compute.ParallelFor(
      row == 0 ? 0 : l.outer,
      std::max<int64_t>(1, kGrain / std::max<int64_t>(1, row)),
      [&](int64_t, int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          for (int64_t j = 0; j < l.units; ++j) {
            for (int64_t i = 0; i < l.inner; ++i) {
              visit((o * l.units * l.k + j * l.k) * l.inner + i,
                    (o * l.units + j) * l.inner + i);
            }
          }
        }
      });
}

class Maxout final : public Activation {
 public:
  Maxout() {
    info_.name = "maxout";
    info_.summary =
        "Maximum over groups of k entries (or of k learned affine pieces): a "
        "learned "
        "piecewise-linear convex activation.";
    info_.formula =
        "y_j = max(z_{j·k}, ..., z_{j·k+k-1}) along axis, z = x (group form) "
        "or "
        "z = x·Wᵀ + b (affine form, weights given)";
    info_.derivative =
        "dz = dy_j at the first argmax of group j, 0 elsewhere; affine: dx = "
        "dz·W, "
        "dW = dzᵀ·x, db = Σ dz";
    info_.reference =
        "Goodfellow, Warde-Farley, Mirza, Courville, Bengio, Maxout Networks, "
        "ICML 2013, "
        "arXiv:1302.4389";
    info_.params = {
        IntegerParam("pieces", 2, 1, 65536,
                     "k, the entries (or affine pieces) per unit"),
        IntegerParam(
            "axis", -1, -64, 63,
            "axis holding units·k entries (the last one in the affine form)")};
    info_.weights = {
        {"weight", "[units·k, in]", "absent (group form)",
         "the k affine pieces of each unit, row j·k+i is piece i of unit j",
         true},
        {"bias", "[units·k]", "zeros (with weight)",
         "offsets of the affine pieces", true}};
    Properties& p = info_.properties;
    p.monotonic = true;  // group form: non-decreasing in every input
    p.smooth = false;    // kinks where two entries of a group tie
    p.zero_centered = true;
    p.range_min = -kInf;
    p.range_max = kInf;
    p.learnable_parameters =
        "0 (group form); units·k·(in + 1) with weight and bias";
    p.learnable_parameter_count = -1;
    p.cost = CostClass::kNoTranscendental;
    info_.elementwise = false;
  }

  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    const int64_t k = static_cast<int64_t>(call.params.Number("pieces"));
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis = NormalizeAxis(call.params.Number("axis"), rank,
                                             "activation.params[\"axis\"]");
    if (!axis.ok()) return axis.status();
    absl::StatusOr<const ConstTensorView*> weight = FindWeight(call, "weight");
    if (!weight.ok()) return weight.status();
    absl::StatusOr<const ConstTensorView*> bias = FindWeight(call, "bias");
    if (!bias.ok()) return bias.status();
    if (*weight == nullptr) {
      if (*bias != nullptr) {
        return absl::InvalidArgumentError(
            "activation.weights[\"bias\"]: given without "
            "activation.weights[\"weight\"]");
      }
      const int64_t c = call.input.shape[*axis];
      if (c % k != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input.shape[", *axis, "]: ", c,
            " is not divisible by activation.params[\"pieces\"] = ", k));
      }
      return absl::OkStatus();
    }
    if (*axis != rank - 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "activation.params[\"axis\"]: ", call.params.Number("axis"),
          " must be the last axis (-1) when activation.weights[\"weight\"] is "
          "given"));
    }
    const ConstTensorView& w = **weight;
    const int64_t in = call.input.shape.back();
    if (w.shape.size() != 2 || w.shape[1] != in || w.shape[0] % k != 0 ||
        w.shape[0] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "activation.weights[\"weight\"].shape: ", ShapeToString(w.shape),
          " does not match [units·k, in] with k = ", k, " and in = ", in,
          " (input.shape[-1])"));
    }
    if (*bias != nullptr) {
      return CheckWeightShape("bias", **bias, {w.shape[0]},
                              absl::StrCat("[units·k] = [", w.shape[0], "]"));
    }
    return absl::OkStatus();
  }

  Shape OutputShape(const ActivationCall& call) const override {
    Shape shape = call.input.shape;
    const int64_t k = static_cast<int64_t>(call.params.Number("pieces"));
    auto w = call.weights.find("weight");
    int axis = static_cast<int>(call.params.Number("axis"));
    if (axis < 0) axis += static_cast<int>(shape.size());
    shape[axis] =
        (w == call.weights.end() ? shape[axis] : w->second.shape[0]) / k;
    return shape;
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    const TensorView y =
        sink.Allocate("output", call.input.dtype, OutputShape(call));
    return call.input.dtype == DType::kFloat32 ? ForwardT<float>(call, y)
                                               : ForwardT<double>(call, y);
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    return call.input.dtype == DType::kFloat32 ? BackwardT<float>(call, sink)
                                               : BackwardT<double>(call, sink);
  }

 private:
  static Layout GroupLayout(const ActivationCall& call, const Shape& z_shape) {
    int axis = static_cast<int>(call.params.Number("axis"));
    if (axis < 0) axis += static_cast<int>(z_shape.size());
    const AxisSplit s = SplitAround(z_shape, axis);
    const int64_t k = static_cast<int64_t>(call.params.Number("pieces"));
    return {s.outer, s.channels / k, k, s.inner};
  }

  // z = x·Wᵀ + b as a [rows, units·k] matrix (affine form only).
  template <typename T>
  static RowMajor<T> Affine(const ActivationCall& call, int64_t rows) {
    const ConstTensorView& w = call.weights.find("weight")->second;
    const int64_t in = w.shape[1], m = w.shape[0];
    Eigen::Map<const RowMajor<T>> x(call.input.as<T>(), rows, in);
    Eigen::Map<const RowMajor<T>> wm(w.as<T>(), m, in);
    RowMajor<T> z = x * wm.transpose();
    if (auto b = call.weights.find("bias"); b != call.weights.end()) {
      z.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(
          b->second.as<T>(), m);
    }
    return z;
  }

  template <typename T>
  static absl::Status ForwardT(const ActivationCall& call,
                               const TensorView& y) {
    T* out = y.as<T>();
    auto group_max = [&](const T* z, const Layout& l) {
      return ForEachGroup(*call.compute, l, [&](int64_t base, int64_t j) {
        out[j] = z[base + ArgMax(z, base, l.k, l.inner) * l.inner];
      });
    };
    if (!call.weights.count("weight")) {
      return group_max(call.input.as<T>(), GroupLayout(call, call.input.shape));
    }
    const int64_t in = call.input.shape.back();
    const int64_t rows = in == 0 ? 0 : call.input.size() / in;
    const int64_t k = static_cast<int64_t>(call.params.Number("pieces"));
    const RowMajor<T> z = Affine<T>(call, rows);
    return group_max(z.data(), {rows, z.cols() / k, k, 1});
  }

  template <typename T>
  static absl::Status BackwardT(const ActivationCall& call, OutputSink& sink) {
    const TensorView dx_view =
        sink.Allocate("grad_input", call.input.dtype, call.input.shape);
    const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
    // Routes dy (ones when absent) to each group's argmax in dz; NaN where the
    // group has NaN.
    auto scatter = [&](const T* z, T* dz, const Layout& l) {
      std::fill(dz, dz + l.outer * l.units * l.k * l.inner, T(0));
      return ForEachGroup(*call.compute, l, [&](int64_t base, int64_t j) {
        const int64_t at = base + ArgMax(z, base, l.k, l.inner) * l.inner;
        dz[at] = std::isnan(z[at]) ? z[at] : (dy ? dy[j] : T(1));
      });
    };
    T* dx = dx_view.as<T>();
    if (!call.weights.count("weight")) {
      return scatter(call.input.as<T>(), dx,
                     GroupLayout(call, call.input.shape));
    }
    const ConstTensorView& w = call.weights.find("weight")->second;
    const int64_t in = w.shape[1], m = w.shape[0];
    const int64_t k = static_cast<int64_t>(call.params.Number("pieces"));
    const int64_t rows = in == 0 ? 0 : call.input.size() / in;
    const RowMajor<T> z = Affine<T>(call, rows);
    RowMajor<T> dz(rows, m);
    if (absl::Status s = scatter(z.data(), dz.data(), {rows, m / k, k, 1});
        !s.ok()) {
      return s;
    }
    Eigen::Map<const RowMajor<T>> x(call.input.as<T>(), rows, in);
    Eigen::Map<const RowMajor<T>> wm(w.as<T>(), m, in);
    Eigen::Map<RowMajor<T>>(dx, rows, in).noalias() = dz * wm;
    const TensorView dw = sink.Allocate("weight", call.input.dtype, w.shape);
    Eigen::Map<RowMajor<T>>(dw.as<T>(), m, in).noalias() = dz.transpose() * x;
    const TensorView db = sink.Allocate("bias", call.input.dtype, {m});
    // Summed in double: the contract asks 1e-5 (float32) relative to Σ|terms|.
    Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(db.as<T>(), m) =
        dz.template cast<double>().colwise().sum().template cast<T>();
    return absl::OkStatus();
  }

  ActivationInfo info_;
};

}  // namespace

ACTD_REGISTER_ACTIVATION(maxout, new Maxout())

}  // namespace actd
