// Host tensor <-> wire tensor. The raw encoding is packed little-endian, which
// is this client's native byte order (checked at compile time).
#include "client/lib/tensor.h"

#include <bit>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace actd::client {

namespace pb = activation::v1;
static_assert(std::endian::native == std::endian::little,
              "the raw tensor encoding is little-endian");

int64_t ElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

pb::Tensor ToProto(const HostTensor& tensor, Encoding encoding) {
  pb::Tensor out;
  out.set_dtype(tensor.dtype);
  out.mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  const size_t n = tensor.values.size();
  const bool f32 = tensor.dtype != pb::DATA_TYPE_FLOAT64;
  if (encoding == Encoding::kRaw) {
    std::string* raw = out.mutable_raw_data();
    if (f32) {
      raw->resize(n * sizeof(float));
      for (size_t i = 0; i < n; ++i) {
        const float v = static_cast<float>(tensor.values[i]);
        std::memcpy(raw->data() + i * sizeof(float), &v, sizeof(float));
      }
    } else {
      raw->assign(reinterpret_cast<const char*>(tensor.values.data()),
                  n * sizeof(double));
    }
  } else if (f32) {
    out.mutable_float_data()->Reserve(static_cast<int>(n));
    for (double v : tensor.values) out.add_float_data(static_cast<float>(v));
  } else {
    out.mutable_double_data()->Add(tensor.values.begin(), tensor.values.end());
  }
  return out;
}

absl::StatusOr<HostTensor> FromProto(const pb::Tensor& tensor) {
  HostTensor out;
  out.shape.assign(tensor.shape().begin(), tensor.shape().end());
  const int64_t count = ElementCount(out.shape);
  if (tensor.float_data_size() > 0) {
    out.dtype = pb::DATA_TYPE_FLOAT32;
    out.values.assign(tensor.float_data().begin(), tensor.float_data().end());
  } else if (tensor.double_data_size() > 0) {
    out.dtype = pb::DATA_TYPE_FLOAT64;
    out.values.assign(tensor.double_data().begin(), tensor.double_data().end());
  } else {
    out.dtype = tensor.dtype() == pb::DATA_TYPE_FLOAT64 ? pb::DATA_TYPE_FLOAT64
                                                        : pb::DATA_TYPE_FLOAT32;
    const size_t size = out.dtype == pb::DATA_TYPE_FLOAT64 ? 8 : 4;
    const std::string& raw = tensor.raw_data();
    if (raw.size() % size != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw_data of ", raw.size(), " bytes is not a whole ",
                       "number of ", DataTypeName(out.dtype), " elements"));
    }
    out.values.resize(raw.size() / size);
    for (size_t i = 0; i < out.values.size(); ++i) {
      if (size == 4) {
        float v;
        std::memcpy(&v, raw.data() + i * 4, 4);
        out.values[i] = v;
      } else {
        std::memcpy(&out.values[i], raw.data() + i * 8, 8);
      }
    }
  }
  if (static_cast<int64_t>(out.values.size()) != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor of shape ", ShapeString(out.shape), " carries ",
                     out.values.size(), " values, expected ", count));
  }
  return out;
}

absl::StatusOr<pb::DataType> ParseDataType(absl::string_view name) {
  if (name == "float32" || name == "f32") return pb::DATA_TYPE_FLOAT32;
  if (name == "float64" || name == "f64") return pb::DATA_TYPE_FLOAT64;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", name, "': expected float32 or float64"));
}

std::string DataTypeName(pb::DataType dtype) {
  return dtype == pb::DATA_TYPE_FLOAT64 ? "float64" : "float32";
}

absl::StatusOr<Encoding> ParseEncoding(absl::string_view name) {
  if (name == "raw") return Encoding::kRaw;
  if (name == "typed") return Encoding::kTyped;
  return absl::InvalidArgumentError(
      absl::StrCat("encoding '", name, "': expected raw or typed"));
}

absl::StatusOr<std::vector<double>> ParseValues(absl::string_view text) {
  std::vector<double> values;
  for (absl::string_view item :
       absl::StrSplit(text, absl::ByAnyChar(", \t\n"), absl::SkipEmpty())) {
    double v;
    if (!absl::SimpleAtod(item, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", item, "' is not a number"));
    }
    values.push_back(v);
  }
  return values;
}

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text) {
  std::vector<int64_t> shape;
  for (absl::string_view item :
       absl::StrSplit(text, absl::ByAnyChar(",x "), absl::SkipEmpty())) {
    int64_t d;
    if (!absl::SimpleAtoi(item, &d) || d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape '", text, "': '", item,
                       "' is not a dimension (an integer >= 0)"));
    }
    shape.push_back(d);
  }
  return shape;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace actd::client
