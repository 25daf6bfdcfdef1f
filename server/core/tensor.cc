// Tensor views and the in-memory output sink.
#include "server/core/tensor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace actd {

absl::string_view DTypeName(DType dtype) {
  return dtype == DType::kFloat32 ? "float32" : "float64";
}

size_t DTypeSize(DType dtype) { return dtype == DType::kFloat32 ? 4 : 8; }

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

double BufferSink::Buffer::at(int64_t i) const {
  return dtype == DType::kFloat32 ? as<float>()[i] : as<double>()[i];
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
