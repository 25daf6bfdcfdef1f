// Tensor views and the in-memory output sink.
#include "server/core/tensor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/half.h"

namespace actd {

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat16:
      return "float16";
  }
  return "unknown";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
    case DType::kBFloat16:
    case DType::kFloat16:
      return 2;
  }
  return 0;
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

double BufferSink::Buffer::at(int64_t i) const {
  switch (dtype) {
    case DType::kFloat32:
      return as<float>()[i];
    case DType::kFloat64:
      return as<double>()[i];
    case DType::kBFloat16:
      return static_cast<double>(as<BFloat16>()[i]);
    case DType::kFloat16:
      return static_cast<double>(as<Float16>()[i]);
  }
  return 0;
}

TensorView BufferSink::Allocate(absl::string_view name, DType dtype,
                                const Shape& shape) {
  Buffer& b = buffers_.emplace_back();
  b.name = std::string(name);
  b.dtype = dtype;
  b.shape = shape;
  b.bytes.resize(NumElements(shape) * DTypeSize(dtype));
  return {dtype, b.bytes.data(), shape};
}

const BufferSink::Buffer* BufferSink::Find(absl::string_view name) const {
  for (const Buffer& b : buffers_) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

}  // namespace actd
