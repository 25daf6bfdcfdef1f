// Text output of actctl: errors, numbers, tensors, tables and protobuf JSON.
#include "client/cli/output.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace actd::cli {

namespace pb = activation::v1;

int ReportRpcError(const RunContext& context, const absl::Status& status) {
  std::cerr << Colored(context.color_err, "31", "error") << ": "
            << client::StatusCodeName(static_cast<int>(status.code())) << ": "
            << status.message() << "\n";
  return kExitRpcError;
}

std::string Colored(bool enabled, const char* sgr, const std::string& text) {
  if (!enabled) return text;
  return absl::StrCat("\033[", sgr, "m", text, "\033[0m");
}

std::string FormatNumber(double value, pb::DataType dtype) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  if (dtype == pb::DATA_TYPE_BFLOAT16 || dtype == pb::DATA_TYPE_FLOAT16) {
    // The fewest significant digits that round back to the same value.
    for (int digits = 1; digits < 9; ++digits) {
      std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
      if (client::RoundToType(std::strtod(buffer, nullptr), dtype) == value) {
        return buffer;
      }
    }
  }
  const auto result =
      dtype == pb::DATA_TYPE_FLOAT64
          ? std::to_chars(buffer, buffer + sizeof(buffer), value)
          : std::to_chars(buffer, buffer + sizeof(buffer),
                          static_cast<float>(value));
  return std::string(buffer, result.ptr);
}

namespace {

// Appends the sub-tensor at dimension `dim` starting at element `*next`.
void Nest(const client::HostTensor& t, size_t dim, size_t* next,
          std::string* out) {
  if (dim == t.shape.size()) {
    absl::StrAppend(out, FormatNumber(t.values[(*next)++], t.dtype));
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < t.shape[dim]; ++i) {
    if (i > 0) absl::StrAppend(out, ", ");
    Nest(t, dim + 1, next, out);
  }
  out->push_back(']');
}

}  // namespace

std::string FormatValues(const client::HostTensor& tensor, size_t max_values) {
  const size_t n = tensor.values.size();
  std::string out;
  if (n > max_values) {
    constexpr size_t kEdge = 5;
    out.push_back('[');
    for (size_t i = 0; i < kEdge; ++i) {
      absl::StrAppend(&out, FormatNumber(tensor.values[i], tensor.dtype), ", ");
    }
    absl::StrAppend(&out, "...");
    for (size_t i = n - kEdge; i < n; ++i) {
      absl::StrAppend(&out, ", ", FormatNumber(tensor.values[i], tensor.dtype));
    }
    absl::StrAppend(&out, "]  (", n, " values, flattened; use --output)");
    return out;
  }
  size_t next = 0;
  Nest(tensor, 0, &next, &out);
  return out;
}

void PrintTensor(const std::string& name, const client::HostTensor& tensor) {
  const size_t indent = name.find_first_not_of(' ') + 2;
  std::cout << name << "  " << client::DataTypeName(tensor.dtype) << " "
            << client::ShapeString(tensor.shape) << "\n"
            << std::string(indent, ' ') << FormatValues(tensor) << "\n";
}

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, bool color) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    widths[i] = DisplayWidth(header[i]);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  auto print_row = [&](const std::vector<std::string>& row, bool bold) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cell = row[i];
      if (i + 1 < row.size()) {
        cell.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
      absl::StrAppend(&line, cell);
    }
    std::cout << Colored(bold, "1", line) << "\n";
  };
  print_row(header, color);
  for (const auto& row : rows) print_row(row, false);
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

void FixInt64(const Descriptor* type, Document& object);

// Converts one JSON value of field `f` (not a map, one element if repeated).
void FixFieldValue(const FieldDescriptor* f, Document& value) {
  const auto cpp = f->cpp_type();
  if ((cpp == FieldDescriptor::CPPTYPE_INT64 ||
       cpp == FieldDescriptor::CPPTYPE_UINT64) &&
      value.is_string()) {
    // 2^53: every integer up to it is exact in a double.
    constexpr double kExact = 9007199254740992.0;
    const double number = std::stod(value.get<std::string>());
    if (std::fabs(number) <= kExact) value = static_cast<int64_t>(number);
  } else if (cpp == FieldDescriptor::CPPTYPE_MESSAGE && value.is_object()) {
    FixInt64(f->message_type(), value);
  }
}

// Walks a message's JSON object beside its descriptor.
void FixInt64(const Descriptor* type, Document& object) {
  for (auto& [key, value] : object.items()) {
    const FieldDescriptor* f = type->FindFieldByName(key);
    for (int i = 0; f == nullptr && i < type->field_count(); ++i) {
      if (type->field(i)->json_name() == key) f = type->field(i);
    }
    if (f == nullptr) continue;
    if (f->is_map() && value.is_object()) {
      const FieldDescriptor* entry = f->message_type()->map_value();
      for (auto& item : value) FixFieldValue(entry, item);
    } else if (f->is_repeated() && value.is_array()) {
      for (auto& item : value) FixFieldValue(f, item);
    } else {
      FixFieldValue(f, value);
    }
  }
}

std::string YamlScalar(const Document& v) {
  if (v.is_string()) return v.dump();  // a JSON string is a YAML string
  return v.dump();
}

void AppendYaml(const Document& v, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    if (v.empty()) return;
    for (const auto& [key, item] : v.items()) {
      const bool nested =
          (item.is_object() || item.is_array()) && !item.empty();
      absl::StrAppend(&out, pad, key, ":");
      if (nested) {
        absl::StrAppend(&out, "\n");
        AppendYaml(item, indent + 2, out);
      } else {
        absl::StrAppend(&out, " ",
                        item.is_object()  ? "{}"
                        : item.is_array() ? "[]"
                                          : YamlScalar(item),
                        "\n");
      }
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if ((item.is_object() || item.is_array()) && !item.empty()) {
        // The first line of a nested block goes after the dash.
        std::string block;
        AppendYaml(item, indent + 2, block);
        absl::StrAppend(&out, pad, "- ", block.substr(indent + 2));
      } else {
        absl::StrAppend(&out, pad, "- ",
                        item.is_object()  ? "{}"
                        : item.is_array() ? "[]"
                                          : YamlScalar(item),
                        "\n");
      }
    }
  } else {
    absl::StrAppend(&out, pad, YamlScalar(v), "\n");
  }
}

}  // namespace

Document MessageDocument(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  Document document = Document::parse(json);
  FixInt64(message.GetDescriptor(), document);
  return document;
}

std::string ToYaml(const Document& document) {
  std::string out;
  if (document.is_object() && document.empty()) return "{}\n";
  AppendYaml(document, 0, out);
  return out;
}

void PrintDocument(const RunContext& context, const Document& document) {
  if (context.yaml) {
    std::cout << ToYaml(document);
  } else {
    std::cout << document.dump(2) << "\n";
  }
}

void PrintMessage(const RunContext& context,
                  const google::protobuf::Message& message) {
  PrintDocument(context, MessageDocument(message));
}

}  // namespace actd::cli
