// .npy, .csv and .json tensor files. JSON goes through protobuf's JSON mapping
// (google.protobuf.Value for nested arrays), so there is no JSON parser here.
#include "client/lib/tensor_io.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace actd::client {
namespace {

namespace pb = activation::v1;
using google::protobuf::ListValue;
using google::protobuf::Value;

constexpr char kNpyMagic[] = "\x93NUMPY";

std::string Extension(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return "";
  return absl::AsciiStrToLower(path.substr(dot + 1));
}

absl::Status Malformed(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

absl::StatusOr<HostTensor> DecodeNpy(const std::string& path,
                                     const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kNpyMagic) != 0) {
    return Malformed(path, "not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = Load<uint16_t>(bytes.data() + 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Malformed(path, "truncated header");
    header_len = Load<uint32_t>(bytes.data() + 8);
    offset = 12;
  } else {
    return Malformed(path, absl::StrCat("unsupported .npy version ", major));
  }
  if (bytes.size() < offset + header_len) {
    return Malformed(path, "truncated header");
  }
  const std::string header = bytes.substr(offset, header_len);
  std::smatch m;
  if (!std::regex_search(header, m,
                         std::regex(R"('descr'\s*:\s*'([<>|=]?)([fi])(\d))"))) {
    return Malformed(path,
                     "dtype must be float32, float64 or an integer; "
                     "header: " +
                         header);
  }
  const std::string order = m[1], kind = m[2];
  const int size = std::stoi(m[3]);
  if (order == ">" && size > 1) {
    return Malformed(path, "big-endian arrays are not supported");
  }
  if (kind == "f" && size != 4 && size != 8) {
    return Malformed(path, "floating dtype must be float32 or float64");
  }
  if (std::regex_search(header, m,
                        std::regex(R"('fortran_order'\s*:\s*True)"))) {
    return Malformed(path,
                     "Fortran-ordered arrays are not supported; save "
                     "with np.ascontiguousarray");
  }
  if (!std::regex_search(header, m,
                         std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    return Malformed(path, "no shape in header");
  }
  HostTensor t;
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape(m[1].str());
  if (!shape.ok()) return Malformed(path, shape.status().message());
  t.shape = *shape;
  const int64_t n = ElementCount(t.shape);
  const size_t data = offset + header_len;
  if (bytes.size() - data < static_cast<size_t>(n) * size) {
    return Malformed(path, absl::StrCat("holds ", (bytes.size() - data) / size,
                                        " elements, shape needs ", n));
  }
  t.values.resize(n);
  const char* p = bytes.data() + data;
  for (int64_t i = 0; i < n; ++i, p += size) {
    if (kind == "f") {
      t.values[i] = size == 4 ? Load<float>(p) : Load<double>(p);
    } else if (size == 1) {
      t.values[i] = static_cast<int8_t>(*p);
    } else if (size == 2) {
      t.values[i] = Load<int16_t>(p);
    } else if (size == 4) {
      t.values[i] = Load<int32_t>(p);
    } else {
      t.values[i] = static_cast<double>(Load<int64_t>(p));
    }
  }
  t.dtype = kind == "f" && size == 8 ? pb::DATA_TYPE_FLOAT64
            : kind == "f"            ? pb::DATA_TYPE_FLOAT32
                                     : pb::DATA_TYPE_UNSPECIFIED;
  return t;
}

absl::StatusOr<HostTensor> DecodeCsv(const std::string& path,
                                     const std::string& text) {
  HostTensor t;
  t.dtype = pb::DATA_TYPE_UNSPECIFIED;
  std::vector<int64_t> declared;
  int64_t rows = 0, cols = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "#")) {
      line = absl::StripLeadingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "shape:")) {
        absl::StatusOr<std::vector<int64_t>> shape = ParseShape(line);
        if (!shape.ok()) return Malformed(path, shape.status().message());
        declared = *shape;
      }
      continue;
    }
    absl::StatusOr<std::vector<double>> row = ParseValues(line);
    if (!row.ok()) {
      return Malformed(
          path, absl::StrCat("line ", rows + 1, ": ", row.status().message()));
    }
    if (cols >= 0 && static_cast<int64_t>(row->size()) != cols) {
      return Malformed(path,
                       absl::StrCat("row ", rows + 1, " has ", row->size(),
                                    " values, row 1 has ", cols));
    }
    cols = static_cast<int64_t>(row->size());
    t.values.insert(t.values.end(), row->begin(), row->end());
    ++rows;
  }
  if (!declared.empty() || absl::StrContains(text, "# shape:")) {
    if (ElementCount(declared) != static_cast<int64_t>(t.values.size())) {
      return Malformed(path,
                       absl::StrCat("declared shape ", ShapeString(declared),
                                    " but holds ", t.values.size(), " values"));
    }
    t.shape = declared;
  } else if (rows == 1) {
    t.shape = {cols};
  } else {
    t.shape = {rows, std::max<int64_t>(cols, 0)};
  }
  return t;
}

// Appends the numbers of nested lists to `t`, checking they are rectangular.
absl::Status Flatten(const Value& v, size_t depth, HostTensor& t) {
  if (v.kind_case() == Value::kListValue) {
    const int64_t n = v.list_value().values_size();
    if (depth == t.shape.size()) {
      if (!t.values.empty()) return absl::InvalidArgumentError("ragged arrays");
      t.shape.push_back(n);
    } else if (depth > t.shape.size() || t.shape[depth] != n) {
      return absl::InvalidArgumentError("ragged arrays");
    }
    for (const Value& item : v.list_value().values()) {
      if (absl::Status s = Flatten(item, depth + 1, t); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (depth != t.shape.size())
    return absl::InvalidArgumentError("ragged arrays");
  if (v.kind_case() == Value::kNumberValue) {
    t.values.push_back(v.number_value());
  } else if (v.kind_case() == Value::kStringValue) {
    double d;
    if (!absl::SimpleAtod(v.string_value(), &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", v.string_value(), "' is not a number"));
    }
    t.values.push_back(d);
  } else {
    return absl::InvalidArgumentError("arrays must hold numbers");
  }
  return absl::OkStatus();
}

absl::StatusOr<HostTensor> DecodeJson(const std::string& path,
                                      const std::string& text) {
  Value root;
  if (auto s = google::protobuf::util::JsonStringToMessage(text, &root);
      !s.ok()) {
    return Malformed(path,
                     absl::StrCat("invalid JSON: ", s.message().as_string()));
  }
  if (root.kind_case() == Value::kStructValue) {
    pb::Tensor proto;
    if (auto s = google::protobuf::util::JsonStringToMessage(text, &proto);
        !s.ok()) {
      return Malformed(path, absl::StrCat("not an activation.v1.Tensor: ",
                                          s.message().as_string()));
    }
    absl::StatusOr<HostTensor> t = FromProto(proto);
    if (!t.ok()) return Malformed(path, t.status().message());
    if (proto.dtype() == pb::DATA_TYPE_UNSPECIFIED &&
        proto.float_data_size() == 0 && proto.double_data_size() == 0) {
      t->dtype = pb::DATA_TYPE_UNSPECIFIED;
    }
    return t;
  }
  HostTensor t;
  t.dtype = pb::DATA_TYPE_UNSPECIFIED;
  if (absl::Status s = Flatten(root, 0, t); !s.ok()) {
    return Malformed(path, s.message());
  }
  return t;
}

Value NumberValue(double v) {
  Value out;
  if (std::isnan(v)) {
    out.set_string_value("NaN");
  } else if (std::isinf(v)) {
    out.set_string_value(v > 0 ? "Infinity" : "-Infinity");
  } else {
    out.set_number_value(v);
  }
  return out;
}

// Nested lists for dimensions [depth, rank) starting at element `*next`.
Value Nest(const HostTensor& t, size_t depth, size_t* next) {
  if (depth == t.shape.size()) return NumberValue(t.values[(*next)++]);
  Value out;
  ListValue* list = out.mutable_list_value();
  for (int64_t i = 0; i < t.shape[depth]; ++i) {
    *list->add_values() = Nest(t, depth + 1, next);
  }
  return out;
}

std::string FormatCsvNumber(double v, pb::DataType dtype) {
  char buf[40];
  std::snprintf(buf, sizeof(buf),
                dtype == pb::DATA_TYPE_FLOAT64 ? "%.17g" : "%.9g", v);
  return buf;
}

std::string EncodeCsv(const HostTensor& t) {
  std::string out;
  const size_t cols = t.shape.empty() ? 1 : static_cast<size_t>(t.shape.back());
  if (t.shape.size() > 2 || (t.shape.size() == 2 && t.shape[0] == 1) ||
      t.shape.empty() || cols == 0) {
    absl::StrAppend(&out, "# shape: ", absl::StrJoin(t.shape, ","), "\n");
  }
  for (size_t i = 0; i < t.values.size(); ++i) {
    absl::StrAppend(&out, FormatCsvNumber(t.values[i], t.dtype),
                    (i + 1) % cols == 0 ? "\n" : ",");
  }
  return out;
}

}  // namespace

std::string EncodeNpy(const HostTensor& t) {
  const bool f64 = t.dtype == pb::DATA_TYPE_FLOAT64;
  std::string shape = absl::StrJoin(t.shape, ", ");
  if (t.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '", f64 ? "<f8" : "<f4",
                   "', 'fortran_order': False, 'shape': (", shape, "), }");
  // Magic, version, length, header padded with spaces and a newline to a
  // multiple of 64 bytes.
  const bool v2 = header.size() + 11 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out(kNpyMagic, 6);
  out.push_back(v2 ? 2 : 1);
  out.push_back(0);
  if (v2) {
    const uint32_t len = static_cast<uint32_t>(header.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
  } else {
    const uint16_t len = static_cast<uint16_t>(header.size());
    out.append(reinterpret_cast<const char*>(&len), 2);
  }
  out += header;
  if (f64) {
    out.append(reinterpret_cast<const char*>(t.values.data()),
               t.values.size() * sizeof(double));
  } else {
    for (double v : t.values) {
      const float f = static_cast<float>(v);
      out.append(reinterpret_cast<const char*>(&f), sizeof(float));
    }
  }
  return out;
}

std::string EncodeJsonArray(const HostTensor& t) {
  size_t next = 0;
  const Value root = Nest(t, 0, &next);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(root, &out);
  return out;
}

absl::StatusOr<HostTensor> ReadTensorFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::string ext = Extension(path);
  if (ext == "npy") return DecodeNpy(path, bytes);
  if (ext == "csv" || ext == "txt") return DecodeCsv(path, bytes);
  if (ext == "json") return DecodeJson(path, bytes);
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": unknown extension; use .npy, .csv or .json"));
}

absl::Status WriteTensorFile(const std::string& path, const HostTensor& t) {
  const std::string ext = Extension(path);
  std::string bytes;
  if (ext == "npy") {
    bytes = EncodeNpy(t);
  } else if (ext == "csv" || ext == "txt") {
    bytes = EncodeCsv(t);
  } else if (ext == "json") {
    bytes = EncodeJsonArray(t) + "\n";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unknown extension; use .npy, .csv or .json"));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out)
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace actd::client
