// Tensor views: the compute core's only notion of data.
//
// A view is a pointer, a dtype and a row-major shape. Views never own memory:
// requests keep ownership of their inputs, and outputs are written into storage
// handed out by an OutputSink, so the gRPC layer can let the core write
// straight into a response message.
#ifndef ACTD_SERVER_CORE_TENSOR_H_
#define ACTD_SERVER_CORE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actd {

// bfloat16 and float16 are stored as 2-byte patterns (half.h) and computed in
// float32.
enum class DType { kFloat32, kFloat64, kBFloat16, kFloat16 };

using Shape = std::vector<int64_t>;

// "float32", "float64", "bfloat16" or "float16".
absl::string_view DTypeName(DType dtype);
// 4, 8, 2 or 2.
size_t DTypeSize(DType dtype);
// bfloat16 or float16.
inline bool Is16Bit(DType dtype) {
  return dtype == DType::kBFloat16 || dtype == DType::kFloat16;
}
// Product of the dimensions; 1 for a scalar. The shape must be validated (no
// overflow).
int64_t NumElements(const Shape& shape);
// "[2, 3]".
std::string ShapeToString(const Shape& shape);

// A read-only view of a tensor owned by someone else.
struct ConstTensorView {
  DType dtype = DType::kFloat32;
  const void* data = nullptr;
  Shape shape;

  int64_t size() const { return NumElements(shape); }
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
};

// A writable view of a tensor owned by someone else.
struct TensorView {
  DType dtype = DType::kFloat32;
  void* data = nullptr;
  Shape shape;

  int64_t size() const { return NumElements(shape); }
  int64_t bytes() const {
    return size() * static_cast<int64_t>(DTypeSize(dtype));
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
  operator ConstTensorView() const { return {dtype, data, shape}; }
};

// Where the core puts its results. Allocate returns writable storage for
// `shape` elements of `dtype`, owned by the sink and valid until the sink is
// destroyed; the core fills every element. Names: "output" and extras
// ("batch_mean", "batch_var") for Forward; "grad_input" and the parameter names
// ("alpha", "beta", "weight", "bias") for Backward.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual TensorView Allocate(absl::string_view name, DType dtype,
                              const Shape& shape) = 0;
};

// An OutputSink that keeps results in plain memory, for tests (the service
// writes into its responses, actbench reuses buffers of its own).
class BufferSink : public OutputSink {
 public:
  struct Buffer {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<std::byte> bytes;
    template <typename T>
    const T* as() const {
      return reinterpret_cast<const T*>(bytes.data());
    }
    // Element i converted to double.
    double at(int64_t i) const;
  };

  TensorView Allocate(absl::string_view name, DType dtype,
                      const Shape& shape) override;
  // The buffer allocated under `name`, or nullptr.
  const Buffer* Find(absl::string_view name) const;
  const std::vector<Buffer>& buffers() const { return buffers_; }

 private:
  std::vector<Buffer> buffers_;
};

}  // namespace actd

#endif  // ACTD_SERVER_CORE_TENSOR_H_
