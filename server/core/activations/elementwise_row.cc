// The element-wise row: an activation whose y at each element depends on x
// there only, run by one kernel of the table chosen from its parameters, in
// parallel chunks on the call's compute pool.
#include <vector>

#include "server/core/kernel_table.h"
#include "server/core/rows.h"

namespace actd {
namespace {

template <typename T>
void WriteScalar(OutputSink& sink, const char* name, DType dtype, double v) {
  *sink.Allocate(name, dtype, {}).as<T>() = static_cast<T>(v);
}

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
      const auto forward = Kernels().ops<T>(id).forward;
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
      const ElementwiseOps<T>& ops = Kernels().ops<T>(id);
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

}  // namespace

Activation* ElementwiseRow(ActivationInfo info, KernelChoice choice) {
  return new Elementwise(std::move(info), choice);
}

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

}  // namespace actd
