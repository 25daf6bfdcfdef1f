// HostTensor: a dense row-major tensor held as doubles on the client, with the
// dtype it travels in. Converts to and from activation.v1.Tensor in either
// wire encoding (packed little-endian raw_data or typed repeated fields).
// bfloat16 and float16 travel as 2-byte little-endian raw values, or as
// float_data in the typed encoding; every value of both is exact in a double.
#ifndef ACTD_CLIENT_LIB_TENSOR_H_
#define ACTD_CLIENT_LIB_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "activation/v1/activation.pb.h"

namespace actd::client {

enum class Encoding { kRaw, kTyped };

struct HostTensor {
  activation::v1::DataType dtype = activation::v1::DATA_TYPE_FLOAT32;
  std::vector<int64_t> shape;  // empty = scalar
  std::vector<double> values;  // row-major; float32 values are exact here
};

// `value` rounded to `dtype` (to nearest even), as a double.
double RoundToType(double value, activation::v1::DataType dtype);

// Product of the dimensions; 1 for a scalar. Saturates at INT64_MAX: a shape
// read from a file may claim more elements than any tensor holds, and every
// caller compares the count with the values it has.
int64_t ElementCount(const std::vector<int64_t>& shape);

// Packs `tensor` for the wire; values are rounded to the tensor's dtype.
activation::v1::Tensor ToProto(const HostTensor& tensor, Encoding encoding);

// Unpacks a wire tensor; INVALID_ARGUMENT when its data and shape disagree.
absl::StatusOr<HostTensor> FromProto(const activation::v1::Tensor& tensor);

// "float32", "float64", "bfloat16", "float16" (and f32, f64, bf16, f16) and
// back; INVALID_ARGUMENT for anything else.
absl::StatusOr<activation::v1::DataType> ParseDataType(absl::string_view name);
std::string DataTypeName(activation::v1::DataType dtype);
absl::StatusOr<Encoding> ParseEncoding(absl::string_view name);

// "1,-2,3" (also "nan", "inf") and "2,3" ("" = scalar).
absl::StatusOr<std::vector<double>> ParseValues(absl::string_view text);
absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text);

// A shape for `count` elements, where one dimension may be -1 (inferred, as
// NumPy's reshape does); INVALID_ARGUMENT naming the shape when it cannot
// hold `count` elements.
absl::StatusOr<std::vector<int64_t>> ResolveShape(absl::string_view text,
                                                  int64_t count);

// "[2, 3]"
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_TENSOR_H_
