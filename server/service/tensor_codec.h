// The one place where protobuf tensors meet the compute core: decoding a Tensor
// message into a validated ConstTensorView (no copy on the raw path), and an
// OutputSink that lets the core write its results straight into a response
// message's tensors.
#ifndef ACTD_SERVER_SERVICE_TENSOR_CODEC_H_
#define ACTD_SERVER_SERVICE_TENSOR_CODEC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "activation/v1/activation.pb.h"
#include "server/core/tensor.h"

namespace actd {

enum class Encoding { kRaw, kTyped };

struct DecodedTensor {
  ConstTensorView view;
  Encoding encoding = Encoding::kRaw;
  // Holds a copy of the data only when raw_data was not aligned for its element
  // type, or, for a typed BFLOAT16 / FLOAT16 tensor, its float_data values
  // rounded to the type (nearest even) as 2-byte elements.
  std::shared_ptr<std::string> aligned_copy;
};

// Validates `t` and views its data. `field` names it in errors ("input",
// "grad_output", ...). INVALID_ARGUMENT for a malformed tensor (negative or
// overflowing shape, no data or two kinds, dtype disagreeing with the data,
// element count != product of shape); RESOURCE_EXHAUSTED when it holds more
// than `max_elements` elements. The view borrows from `t`.
absl::StatusOr<DecodedTensor> DecodeTensor(const activation::v1::Tensor& t,
                                           absl::string_view field,
                                           int64_t max_elements);

// An OutputSink whose storage is tensors of a response message. `slot(name)`
// returns the Tensor message for a result name; the sink sets its dtype and
// shape and sizes its raw_data or typed field (per `encoding`) for the core to
// fill.
class ProtoSink final : public OutputSink {
 public:
  using Slot = std::function<activation::v1::Tensor*(absl::string_view name)>;
  ProtoSink(Encoding encoding, Slot slot)
      : encoding_(encoding), slot_(std::move(slot)) {}
  TensorView Allocate(absl::string_view name, DType dtype,
                      const Shape& shape) override;
  // Lets the result `name` take `storage` (swapped into its raw_data) instead
  // of new memory, when the encoding is raw and the result has exactly
  // storage->size() bytes. The caller vouches that the core may write the
  // result over `storage` while reading it: an element-wise activation's
  // forward over its own input.
  void Reuse(absl::string_view name, std::string* storage) {
    reuse_name_ = name;
    reuse_ = storage;
  }
  // Time spent in Allocate so far.
  int64_t allocate_ns() const { return allocate_ns_; }
  // Completes the typed 16-bit tensors: the core wrote 2-byte elements into
  // their float_data, which this widens to the values they stand for (exact).
  // Call once after the core has written every result.
  void Finish();

 private:
  struct PendingHalf {
    activation::v1::Tensor* tensor;
    DType dtype;
  };
  std::vector<PendingHalf> pending_;
  Encoding encoding_;
  Slot slot_;
  absl::string_view reuse_name_;
  std::string* reuse_ = nullptr;
  int64_t allocate_ns_ = 0;
};

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_TENSOR_CODEC_H_
