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
#include "client/lib/half_float.h"
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

// What a .npy header says: element kind ('f', 'i', 'u'), size, shape and
// where the data starts.
struct NpyHeader {
  char kind = 'f';
  int size = 4;
  std::vector<int64_t> shape;
  size_t data = 0;
};

absl::StatusOr<NpyHeader> ParseNpyHeader(const std::string& path,
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
  if (!std::regex_search(
          header, m, std::regex(R"('descr'\s*:\s*'([<>|=]?)([fiu])(\d))"))) {
    return Malformed(
        path, "dtype must be float16/32/64 or an integer; header: " + header);
  }
  NpyHeader h;
  h.kind = m[2].str()[0];
  h.size = std::stoi(m[3]);
  if (m[1] == ">" && h.size > 1) {
    return Malformed(path, "big-endian arrays are not supported");
  }
  if (h.kind == 'f' && h.size != 2 && h.size != 4 && h.size != 8) {
    return Malformed(path, "floating dtype must be float16, 32 or 64");
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
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape(m[1].str());
  if (!shape.ok()) return Malformed(path, shape.status().message());
  h.shape = *shape;
  h.data = offset + header_len;
  return h;
}

// One element at `p` of a .npy array of `h`'s kind and size.
double NpyValue(const NpyHeader& h, const char* p) {
  if (h.kind == 'f') {
    return h.size == 2   ? Float16ToDouble(Load<uint16_t>(p))
           : h.size == 4 ? Load<float>(p)
                         : Load<double>(p);
  }
  if (h.kind == 'u') {
    return h.size == 1   ? static_cast<uint8_t>(*p)
           : h.size == 2 ? Load<uint16_t>(p)
           : h.size == 4 ? Load<uint32_t>(p)
                         : static_cast<double>(Load<uint64_t>(p));
  }
  return h.size == 1   ? static_cast<int8_t>(*p)
         : h.size == 2 ? Load<int16_t>(p)
         : h.size == 4 ? Load<int32_t>(p)
                       : static_cast<double>(Load<int64_t>(p));
}

// bfloat16 has no NumPy dtype: its .npy convention is uint16 bit patterns,
// read as such only when the caller asks for bfloat16. Other 16-bit integer
// arrays would be ambiguous (values or bits?) and are refused.
absl::Status CheckNpyKind(const std::string& path, const NpyHeader& h,
                          pb::DataType want) {
  const bool bits = h.kind == 'u' && h.size == 2;
  if (want == pb::DATA_TYPE_BFLOAT16 && h.kind != 'f' && !bits) {
    return Malformed(
        path, absl::StrCat("with --dtype bfloat16 a .npy holds float values or "
                           "uint16 bfloat16 "
                           "bit patterns (numpy: "
                           "t.view(torch.int16).numpy().view(np.uint16)), "
                           "not ",
                           h.kind == 'i' ? "int" : "uint", h.size * 8));
  }
  if (bits && want != pb::DATA_TYPE_BFLOAT16) {
    return Malformed(path,
                     "a uint16 array is read only as bfloat16 bit patterns: "
                     "add --dtype bfloat16, or save the values as floats");
  }
  return absl::OkStatus();
}

absl::StatusOr<HostTensor> DecodeNpy(const std::string& path,
                                     const std::string& bytes,
                                     pb::DataType want) {
  absl::StatusOr<NpyHeader> h = ParseNpyHeader(path, bytes);
  if (!h.ok()) return h.status();
  if (absl::Status s = CheckNpyKind(path, *h, want); !s.ok()) return s;
  if (h->size != 1 && h->size != 2 && h->size != 4 && h->size != 8) {
    return Malformed(path,
                     absl::StrCat("element size ", h->size,
                                  " in its header's descr (1, 2, 4 or 8)"));
  }
  HostTensor t;
  t.shape = h->shape;
  const int64_t n = ElementCount(t.shape);
  if ((bytes.size() - h->data) / h->size < static_cast<size_t>(n)) {
    return Malformed(path,
                     absl::StrCat("holds ", (bytes.size() - h->data) / h->size,
                                  " elements, shape needs ", n));
  }
  const bool bits = h->kind == 'u' && h->size == 2;
  t.values.resize(n);
  const char* p = bytes.data() + h->data;
  for (int64_t i = 0; i < n; ++i, p += h->size) {
    t.values[i] = bits ? Bfloat16ToDouble(Load<uint16_t>(p)) : NpyValue(*h, p);
  }
  t.dtype = bits             ? pb::DATA_TYPE_BFLOAT16
            : h->kind != 'f' ? pb::DATA_TYPE_UNSPECIFIED
            : h->size == 2   ? pb::DATA_TYPE_FLOAT16
            : h->size == 4   ? pb::DATA_TYPE_FLOAT32
                             : pb::DATA_TYPE_FLOAT64;
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
  const char* descr = "<f4";
  switch (t.dtype) {
    case pb::DATA_TYPE_FLOAT64:
      descr = "<f8";
      break;
    case pb::DATA_TYPE_FLOAT16:
      descr = "<f2";
      break;
    case pb::DATA_TYPE_BFLOAT16:
      descr = "<u2";  // bit patterns: NumPy has no bfloat16
      break;
    default:
      break;
  }
  std::string shape = absl::StrJoin(t.shape, ", ");
  if (t.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '", descr,
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
  // The raw wire encoding is the .npy data layout of every dtype.
  out += ToProto(t, Encoding::kRaw).raw_data();
  return out;
}

std::string EncodeJsonArray(const HostTensor& t) {
  size_t next = 0;
  const Value root = Nest(t, 0, &next);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(root, &out);
  return out;
}

absl::StatusOr<HostTensor> ReadTensorFile(const std::string& path,
                                          pb::DataType want) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::string ext = Extension(path);
  if (ext == "npy") return DecodeNpy(path, bytes, want);
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

namespace {

// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zip needs.
uint32_t Crc32(const std::string& bytes) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// The fields shared by a zip local header (from `version`) and central
// directory entry: stored (no compression), no date, sizes and name length.
void PutZipEntryFields(std::string& out, uint32_t crc, uint32_t size,
                       const std::string& name) {
  Put<uint16_t>(out, 20);  // version needed: 2.0
  Put<uint16_t>(out, 0);   // flags
  Put<uint16_t>(out, 0);   // method: stored
  Put<uint32_t>(out, 0);   // time and date
  Put<uint32_t>(out, crc);
  Put<uint32_t>(out, size);  // compressed
  Put<uint32_t>(out, size);  // uncompressed
  Put<uint16_t>(out, static_cast<uint16_t>(name.size()));
  Put<uint16_t>(out, 0);  // extra field length
}

}  // namespace

absl::Status WriteNpz(
    const std::string& path,
    const std::vector<std::pair<std::string, HostTensor>>& tensors) {
  std::string body, directory;
  for (const auto& [tensor_name, tensor] : tensors) {
    const std::string name = tensor_name + ".npy";
    const std::string npy = EncodeNpy(tensor);
    if (body.size() + npy.size() > 0xFFFFFFF0u) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": over 4 GiB; write .npy files instead"));
    }
    const uint32_t crc = Crc32(npy), offset = body.size();
    Put<uint32_t>(body, 0x04034b50);  // local file header
    PutZipEntryFields(body, crc, npy.size(), name);
    body += name;
    body += npy;
    Put<uint32_t>(directory, 0x02014b50);  // central directory entry
    Put<uint16_t>(directory, 20);          // made by: 2.0
    PutZipEntryFields(directory, crc, npy.size(), name);
    Put<uint16_t>(directory, 0);  // comment length
    Put<uint16_t>(directory, 0);  // disk number
    Put<uint16_t>(directory, 0);  // internal attributes
    Put<uint32_t>(directory, 0);  // external attributes
    Put<uint32_t>(directory, offset);
    directory += name;
  }
  std::string end;
  Put<uint32_t>(end, 0x06054b50);  // end of central directory
  Put<uint16_t>(end, 0);
  Put<uint16_t>(end, 0);
  Put<uint16_t>(end, static_cast<uint16_t>(tensors.size()));
  Put<uint16_t>(end, static_cast<uint16_t>(tensors.size()));
  Put<uint32_t>(end, directory.size());
  Put<uint32_t>(end, body.size());
  Put<uint16_t>(end, 0);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << body << directory << end;
  out.close();
  if (!out) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace actd::client
