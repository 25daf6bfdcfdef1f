// Host tensor <-> wire tensor. The raw encoding is packed little-endian, which
// is this client's native byte order (checked at compile time).
#include "client/lib/tensor.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/lib/half_float.h"

namespace actd::client {

namespace pb = activation::v1;
static_assert(std::endian::native == std::endian::little,
              "the raw tensor encoding is little-endian");

int64_t ElementCount(const std::vector<int64_t>& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t count = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(count, d, &count))
      return std::numeric_limits<int64_t>::max();
  }
  return count;
}

namespace {

bool IsHalf(pb::DataType dtype) {
  return dtype == pb::DATA_TYPE_BFLOAT16 || dtype == pb::DATA_TYPE_FLOAT16;
}

size_t ElementBytes(pb::DataType dtype) {
  return dtype == pb::DATA_TYPE_FLOAT64 ? 8 : IsHalf(dtype) ? 2 : 4;
}

uint16_t ToHalfBits(double value, pb::DataType dtype) {
  return dtype == pb::DATA_TYPE_BFLOAT16 ? DoubleToBfloat16(value)
                                         : DoubleToFloat16(value);
}

double FromHalfBits(uint16_t bits, pb::DataType dtype) {
  return dtype == pb::DATA_TYPE_BFLOAT16 ? Bfloat16ToDouble(bits)
                                         : Float16ToDouble(bits);
}

}  // namespace

double RoundToType(double value, pb::DataType dtype) {
  if (dtype == pb::DATA_TYPE_FLOAT64) return value;
  if (IsHalf(dtype)) return FromHalfBits(ToHalfBits(value, dtype), dtype);
  return static_cast<float>(value);
}

pb::Tensor ToProto(const HostTensor& tensor, Encoding encoding) {
  pb::Tensor out;
  out.set_dtype(tensor.dtype);
  out.mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  const size_t n = tensor.values.size();
  const pb::DataType dtype = tensor.dtype;
  if (encoding == Encoding::kTyped) {
    if (dtype == pb::DATA_TYPE_FLOAT64) {
      out.mutable_double_data()->Add(tensor.values.begin(),
                                     tensor.values.end());
    } else {
      // 16-bit values are exact in float; the server keeps them as they are.
      out.mutable_float_data()->Reserve(static_cast<int>(n));
      for (double v : tensor.values) {
        out.add_float_data(static_cast<float>(RoundToType(v, dtype)));
      }
    }
    return out;
  }
  std::string* raw = out.mutable_raw_data();
  raw->resize(n * ElementBytes(dtype));
  char* p = raw->data();
  for (size_t i = 0; i < n; ++i) {
    const double v = tensor.values[i];
    if (dtype == pb::DATA_TYPE_FLOAT64) {
      std::memcpy(p + 8 * i, &v, 8);
    } else if (IsHalf(dtype)) {
      const uint16_t bits = ToHalfBits(v, dtype);
      std::memcpy(p + 2 * i, &bits, 2);
    } else {
      const float f = static_cast<float>(v);
      std::memcpy(p + 4 * i, &f, 4);
    }
  }
  return out;
}

namespace {

absl::StatusOr<std::vector<double>> DecodeRaw(const std::string& raw,
                                              pb::DataType dtype) {
  const size_t size = ElementBytes(dtype);
  if (raw.size() % size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_data of ", raw.size(), " bytes is not a whole number of ",
        DataTypeName(dtype), " elements (", size, " bytes each)"));
  }
  std::vector<double> values(raw.size() / size);
  for (size_t i = 0; i < values.size(); ++i) {
    const char* p = raw.data() + i * size;
    if (size == 8) {
      std::memcpy(&values[i], p, 8);
    } else if (size == 2) {
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      values[i] = FromHalfBits(bits, dtype);
    } else {
      float v;
      std::memcpy(&v, p, 4);
      values[i] = v;
    }
  }
  return values;
}

}  // namespace

absl::StatusOr<HostTensor> FromProto(const pb::Tensor& tensor) {
  HostTensor out;
  out.shape.assign(tensor.shape().begin(), tensor.shape().end());
  const int64_t count = ElementCount(out.shape);
  const pb::DataType dtype = tensor.dtype();
  if (tensor.float_data_size() > 0) {
    out.dtype = IsHalf(dtype) ? dtype : pb::DATA_TYPE_FLOAT32;
    out.values.assign(tensor.float_data().begin(), tensor.float_data().end());
  } else if (tensor.double_data_size() > 0) {
    out.dtype = pb::DATA_TYPE_FLOAT64;
    out.values.assign(tensor.double_data().begin(), tensor.double_data().end());
  } else {
    out.dtype =
        dtype == pb::DATA_TYPE_UNSPECIFIED ? pb::DATA_TYPE_FLOAT32 : dtype;
    absl::StatusOr<std::vector<double>> values =
        DecodeRaw(tensor.raw_data(), out.dtype);
    if (!values.ok()) return values.status();
    out.values = *std::move(values);
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
  if (name == "bfloat16" || name == "bf16") return pb::DATA_TYPE_BFLOAT16;
  if (name == "float16" || name == "f16") return pb::DATA_TYPE_FLOAT16;
  return absl::InvalidArgumentError(absl::StrCat(
      "dtype '", name, "': expected float32, float64, bfloat16 or float16"));
}

std::string DataTypeName(pb::DataType dtype) {
  switch (dtype) {
    case pb::DATA_TYPE_FLOAT64:
      return "float64";
    case pb::DATA_TYPE_BFLOAT16:
      return "bfloat16";
    case pb::DATA_TYPE_FLOAT16:
      return "float16";
    default:
      return "float32";
  }
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

absl::StatusOr<std::vector<int64_t>> ResolveShape(absl::string_view text,
                                                  int64_t count) {
  std::vector<int64_t> shape;
  int inferred = -1;
  for (absl::string_view item :
       absl::StrSplit(text, absl::ByAnyChar(",x "), absl::SkipEmpty())) {
    int64_t d;
    if (!absl::SimpleAtoi(item, &d) || d < -1 || (d == -1 && inferred >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--shape ", text, ": '", item,
          "' is not a dimension (an integer >= 0, or one -1 to infer)"));
    }
    if (d == -1) inferred = static_cast<int>(shape.size());
    shape.push_back(d);
  }
  if (inferred >= 0) {
    shape[inferred] = 1;
    const int64_t rest = ElementCount(shape);
    if (rest == 0 || count % rest != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shape ", text, ": cannot infer the -1 dimension of ",
                       count, " elements"));
    }
    shape[inferred] = count / rest;
  }
  if (ElementCount(shape) != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shape ", text, " holds ", ElementCount(shape),
                     " elements but the input has ", count));
  }
  return shape;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace actd::client
