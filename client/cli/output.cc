// Text output of actctl: errors, numbers, tensors, tables and protobuf JSON.
#include "client/cli/output.h"

#include <charconv>
#include <cmath>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace actd::cli {

namespace pb = activation::v1;

int ReportRpcError(const RunContext& context, const grpc::Status& status) {
  std::cerr << Colored(context.color_err, "31", "error") << ": "
            << client::StatusCodeName(status.error_code()) << ": "
            << status.error_message() << "\n";
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

void PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
  if (json.empty() || json.back() != '\n') std::cout << "\n";
}

}  // namespace actd::cli
