// Tensor <-> view conversion. The raw path is zero-copy in both directions;
// typed fields are viewed in place too (RepeatedField storage is contiguous).
#include "server/service/tensor_codec.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/half.h"

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

bool IsHalf(DataType d) {
  return d == activation::v1::DATA_TYPE_BFLOAT16 ||
         d == activation::v1::DATA_TYPE_FLOAT16;
}

// A valid DataType other than UNSPECIFIED as the core's DType.
DType ToDType(DataType d) {
  switch (d) {
    case activation::v1::DATA_TYPE_FLOAT64:
      return DType::kFloat64;
    case activation::v1::DATA_TYPE_BFLOAT16:
      return DType::kBFloat16;
    case activation::v1::DATA_TYPE_FLOAT16:
      return DType::kFloat16;
    default:
      return DType::kFloat32;
  }
}

DataType ToProto(DType d) {
  switch (d) {
    case DType::kFloat32:
      return activation::v1::DATA_TYPE_FLOAT32;
    case DType::kFloat64:
      return activation::v1::DATA_TYPE_FLOAT64;
    case DType::kBFloat16:
      return activation::v1::DATA_TYPE_BFLOAT16;
    case DType::kFloat16:
      return activation::v1::DATA_TYPE_FLOAT16;
  }
  return activation::v1::DATA_TYPE_UNSPECIFIED;
}

// Typed values of a 16-bit tensor, rounded to its type (nearest even, half.h)
// into a buffer of 2-byte elements.
std::shared_ptr<std::string> RoundToHalf(const float* values, int64_t n,
                                         DType dtype) {
  auto out = std::make_shared<std::string>(n * 2, '\0');
  auto* bits = reinterpret_cast<uint16_t*>(out->data());
  const HalfConversions& c = Conversions();
  (dtype == DType::kBFloat16 ? c.narrow_bf16 : c.narrow_f16)(values, bits, n);
  return out;
}

// The first n 2-byte elements of `data` widened into its n floats, back to
// front in blocks: a block's floats never overlap the 2-byte elements not yet
// read, except for the first blocks, which are copied out first.
void WidenInPlace(float* data, int64_t n, DType dtype) {
  const HalfConversions& c = Conversions();
  const auto widen = dtype == DType::kBFloat16 ? c.widen_bf16 : c.widen_f16;
  constexpr int64_t kBlock = 1024;
  uint16_t block[kBlock];
  const auto* bits = reinterpret_cast<const uint16_t*>(data);
  for (int64_t end = n; end > 0; end -= kBlock) {
    const int64_t begin = std::max<int64_t>(0, end - kBlock);
    std::memcpy(block, bits + begin, (end - begin) * 2);
    widen(block, data + begin, end - begin);
  }
}

// The element count of t's shape: non-negative dimensions whose product fits
// in int64 (the limit is checked once the data agrees with it); also refuses
// more than one kind of data and an unknown dtype.
absl::StatusOr<int64_t> CheckHeader(const Tensor& t, absl::string_view field) {
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
  return elements;
}

// float_data or double_data, viewed in place (16-bit types rounded into a
// copy).
absl::Status DecodeTyped(const Tensor& t, absl::string_view field,
                         int64_t elements, int64_t max_elements,
                         DecodedTensor& out) {
  const bool is_float = t.float_data_size() > 0;
  const DataType implied = is_float ? activation::v1::DATA_TYPE_FLOAT32
                                    : activation::v1::DATA_TYPE_FLOAT64;
  // float_data also carries BFLOAT16 and FLOAT16 values (rounded below).
  const bool half = is_float && IsHalf(t.dtype());
  if (t.dtype() != activation::v1::DATA_TYPE_UNSPECIFIED &&
      t.dtype() != implied && !half) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".dtype: ", DTypeText(t.dtype()), " disagrees with ",
        is_float ? "float_data (FLOAT32, BFLOAT16 or FLOAT16)"
                 : "double_data (FLOAT64)"));
  }
  const int64_t n = is_float ? t.float_data_size() : t.double_data_size();
  if (n != elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, is_float ? ".float_data" : ".double_data", ": ", n,
        " values but shape ", ShapeText(t), " has ", elements, " elements"));
  }
  if (absl::Status s = CheckLimit(t, field, elements, max_elements); !s.ok())
    return s;
  out.encoding = Encoding::kTyped;
  if (half) {
    out.view.dtype = ToDType(t.dtype());
    out.aligned_copy = RoundToHalf(t.float_data().data(), n, out.view.dtype);
    out.view.data = out.aligned_copy->data();
    return absl::OkStatus();
  }
  out.view.dtype = is_float ? DType::kFloat32 : DType::kFloat64;
  out.view.data = is_float ? static_cast<const void*>(t.float_data().data())
                           : static_cast<const void*>(t.double_data().data());
  return absl::OkStatus();
}

// raw_data, or no data at all (valid only for an empty tensor).
absl::Status DecodeRaw(const Tensor& t, absl::string_view field,
                       int64_t elements, int64_t max_elements,
                       DecodedTensor& out) {
  if (t.dtype() == activation::v1::DATA_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".dtype: DATA_TYPE_UNSPECIFIED",
        t.raw_data().empty()
            ? " and no data; set raw_data, float_data or double_data"
            : " with raw_data; set DATA_TYPE_FLOAT32, DATA_TYPE_FLOAT64, "
              "DATA_TYPE_BFLOAT16 or DATA_TYPE_FLOAT16"));
  }
  out.encoding = Encoding::kRaw;
  out.view.dtype = ToDType(t.dtype());
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
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DecodedTensor> DecodeTensor(const Tensor& t,
                                           absl::string_view field,
                                           int64_t max_elements) {
  absl::StatusOr<int64_t> elements = CheckHeader(t, field);
  if (!elements.ok()) return elements.status();
  DecodedTensor out;
  out.view.shape.assign(t.shape().begin(), t.shape().end());
  const bool typed = t.float_data_size() > 0 || t.double_data_size() > 0;
  absl::Status s = typed ? DecodeTyped(t, field, *elements, max_elements, out)
                         : DecodeRaw(t, field, *elements, max_elements, out);
  if (!s.ok()) return s;
  return out;
}

TensorView ProtoSink::Allocate(absl::string_view name, DType dtype,
                               const Shape& shape) {
  const auto start = std::chrono::steady_clock::now();
  Tensor* t = slot_(name);
  t->set_dtype(ToProto(dtype));
  t->mutable_shape()->Assign(shape.begin(), shape.end());
  const int64_t n = NumElements(shape);
  void* data = nullptr;
  if (encoding_ == Encoding::kRaw) {
    std::string* raw = t->mutable_raw_data();
    const size_t bytes = n * DTypeSize(dtype);
    if (reuse_ != nullptr && name == reuse_name_ && bytes == reuse_->size()) {
      raw->swap(*reuse_);  // a heap buffer: its address does not change
      reuse_ = nullptr;
    } else {
      raw->resize(bytes);
    }
    data = raw->data();
  } else if (dtype == DType::kFloat32 || Is16Bit(dtype)) {
    t->mutable_float_data()->Resize(static_cast<int>(n), 0.0f);
    data = t->mutable_float_data()->mutable_data();
    // The core writes 2-byte elements into the front of float_data's storage;
    // Finish widens them in place.
    if (Is16Bit(dtype)) pending_.push_back({t, dtype});
  } else {
    t->mutable_double_data()->Resize(static_cast<int>(n), 0.0);
    data = t->mutable_double_data()->mutable_data();
  }
  allocate_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  return {dtype, data, shape};
}

void ProtoSink::Finish() {
  for (const PendingHalf& p : pending_) {
    WidenInPlace(p.tensor->mutable_float_data()->mutable_data(),
                 p.tensor->float_data_size(), p.dtype);
  }
  pending_.clear();
}

}  // namespace actd
