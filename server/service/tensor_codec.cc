// Tensor <-> view conversion. The raw path is zero-copy in both directions;
// typed fields are viewed in place too (RepeatedField storage is contiguous).
#include "server/service/tensor_codec.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace actd {
namespace {

using activation::v1::DataType;
using activation::v1::Tensor;

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
static_assert(kLittleEndian,
              "raw_data is little-endian; add byte swapping for this host");

std::string ShapeText(const Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.shape(), ", "), "]");
}

// The size limit, checked once the data is known to agree with the shape, so
// that a shape the data does not back is refused as malformed
// (INVALID_ARGUMENT), not as too large.
absl::Status CheckLimit(const Tensor& t, absl::string_view field,
                        int64_t elements, int64_t max_elements) {
  if (elements <= max_elements) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      field, ": ", elements, " elements (shape ", ShapeText(t),
      ") exceed the limit of ", max_elements, " per tensor (--max_elements)"));
}

std::string DTypeText(DataType d) {
  return DataType_IsValid(d) ? activation::v1::DataType_Name(d)
                             : absl::StrCat(static_cast<int>(d));
}

}  // namespace

absl::StatusOr<DecodedTensor> DecodeTensor(const Tensor& t,
                                           absl::string_view field,
                                           int64_t max_elements) {
  // Shape: non-negative dimensions whose product fits in int64 (and, once the
  // data agrees with it, in the limit).
  int64_t elements = 1;
  bool overflow = false;
  for (int i = 0; i < t.shape_size(); ++i) {
    const int64_t d = t.shape(i);
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".shape[", i, "]: ", d, " is negative (shape ",
                       ShapeText(t), ")"));
    }
    overflow |= __builtin_mul_overflow(elements, d, &elements);
  }
  if (overflow) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".shape: ", ShapeText(t),
                     " has more elements than an int64 holds"));
  }
  const int kinds = !t.raw_data().empty() + (t.float_data_size() > 0) +
                    (t.double_data_size() > 0);
  if (kinds > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": holds more than one kind of data (raw_data ",
                     t.raw_data().size(), " bytes, float_data ",
                     t.float_data_size(), " values, double_data ",
                     t.double_data_size(), " values); set exactly one"));
  }
  if (!DataType_IsValid(t.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".dtype: ", DTypeText(t.dtype()), " is not a known DataType"));
  }
  if (t.dtype() == activation::v1::DATA_TYPE_BFLOAT16 ||
      t.dtype() == activation::v1::DATA_TYPE_FLOAT16) {
    return absl::UnimplementedError(absl::StrCat(
        field, ".dtype: ", DTypeText(t.dtype()),
        " is not supported by this server yet (use DATA_TYPE_FLOAT32)"));
  }

  DecodedTensor out;
  out.view.shape.assign(t.shape().begin(), t.shape().end());
  if (t.float_data_size() > 0 || t.double_data_size() > 0) {
    const bool is_float = t.float_data_size() > 0;
    const DataType implied = is_float ? activation::v1::DATA_TYPE_FLOAT32
                                      : activation::v1::DATA_TYPE_FLOAT64;
    if (t.dtype() != activation::v1::DATA_TYPE_UNSPECIFIED &&
        t.dtype() != implied) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".dtype: ", DTypeText(t.dtype()), " disagrees with ",
          is_float ? "float_data (FLOAT32)" : "double_data (FLOAT64)"));
    }
    const int64_t n = is_float ? t.float_data_size() : t.double_data_size();
    if (n != elements) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, is_float ? ".float_data" : ".double_data", ": ", n,
          " values but shape ", ShapeText(t), " has ", elements, " elements"));
    }
    out.encoding = Encoding::kTyped;
    out.view.dtype = is_float ? DType::kFloat32 : DType::kFloat64;
    out.view.data = is_float ? static_cast<const void*>(t.float_data().data())
                             : static_cast<const void*>(t.double_data().data());
    if (absl::Status s = CheckLimit(t, field, elements, max_elements); !s.ok())
      return s;
    return out;
  }

  // raw_data, or no data at all (valid only for an empty tensor).
  if (t.dtype() == activation::v1::DATA_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".dtype: DATA_TYPE_UNSPECIFIED",
        t.raw_data().empty()
            ? " and no data; set raw_data, float_data or double_data"
            : " with raw_data; set DATA_TYPE_FLOAT32 or DATA_TYPE_FLOAT64"));
  }
  out.encoding = Encoding::kRaw;
  out.view.dtype = t.dtype() == activation::v1::DATA_TYPE_FLOAT32
                       ? DType::kFloat32
                       : DType::kFloat64;
  const size_t size = DTypeSize(out.view.dtype);
  const std::string& raw = t.raw_data();
  if (raw.size() % size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".raw_data: ", raw.size(), " bytes is not a multiple of ", size,
        " (", DTypeName(out.view.dtype), ")"));
  }
  const int64_t n = static_cast<int64_t>(raw.size() / size);
  if (n != elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        n == 0 ? ": no data (set raw_data, float_data or double_data)"
               : ".raw_data: ",
        n == 0 ? "" : absl::StrCat(n, " elements"), " but shape ", ShapeText(t),
        " has ", elements, " elements"));
  }
  if (absl::Status s = CheckLimit(t, field, elements, max_elements); !s.ok())
    return s;
  out.view.data = raw.data();
  if (reinterpret_cast<uintptr_t>(raw.data()) % size != 0) {
    out.aligned_copy =
        std::make_shared<std::string>(raw);  // rare: keep loads aligned
    out.view.data = out.aligned_copy->data();
  }
  return out;
}

TensorView ProtoSink::Allocate(absl::string_view name, DType dtype,
                               const Shape& shape) {
  const auto start = std::chrono::steady_clock::now();
  Tensor* t = slot_(name);
  t->set_dtype(dtype == DType::kFloat32 ? activation::v1::DATA_TYPE_FLOAT32
                                        : activation::v1::DATA_TYPE_FLOAT64);
  t->mutable_shape()->Assign(shape.begin(), shape.end());
  const int64_t n = NumElements(shape);
  void* data = nullptr;
  if (encoding_ == Encoding::kRaw) {
    std::string* raw = t->mutable_raw_data();
    const size_t bytes = n * DTypeSize(dtype);
    raw->resize(bytes);
    data = raw->data();
  } else if (dtype == DType::kFloat32) {
    t->mutable_float_data()->Resize(static_cast<int>(n), 0.0f);
    data = t->mutable_float_data()->mutable_data();
  } else {
    t->mutable_double_data()->Resize(static_cast<int>(n), 0.0);
    data = t->mutable_double_data()->mutable_data();
  }
  allocate_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  return {dtype, data, shape};
}

}  // namespace actd
