// Shared plumbing of the actctl subcommands: the per-run settings (connection,
// output format, colour), how RPC and usage errors are reported, and the text
// helpers (numbers, tensors, tables, protobuf JSON) every command prints with.
#ifndef ACTD_CLIENT_CLI_OUTPUT_H_
#define ACTD_CLIENT_CLI_OUTPUT_H_

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/lib/client.h"
#include "client/lib/tensor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace actd::cli {

// Exit codes of every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

// Settings shared by all subcommands, filled from the global flags.
struct RunContext {
  client::ConnectionOptions connection;
  bool json = false;       // -o json or yaml: structured output
  bool yaml = false;       // -o yaml
  bool color_out = false;  // stdout is a terminal and NO_COLOR is unset
  bool color_err = false;  // the same for stderr
};

// Thrown for bad flag values found after parsing; main() exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Prints `error: <CODE_NAME>: <message>` on stderr; returns kExitRpcError.
int ReportRpcError(const RunContext& context, const absl::Status& status);

// `text` wrapped in an ANSI SGR code when `enabled`.
std::string Colored(bool enabled, const char* sgr, const std::string& text);

// Shortest text that reads back as the same value in `dtype`; "nan", "inf".
std::string FormatNumber(double value, activation::v1::DataType dtype);

// Values of a tensor as nested brackets, e.g. "[[0, 1], [2, 3]]"; tensors
// over `max_values` elements show their first and last few.
std::string FormatValues(const client::HostTensor& tensor,
                         size_t max_values = 1000);

// A heading line plus the values: "name  float32 [3]\n  [0, 0, 2]".
void PrintTensor(const std::string& name, const client::HostTensor& tensor);

// Columns padded to their widest cell (UTF-8 aware); the header row is bold
// when `color`.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, bool color);

// A document whose keys keep the order they were added in.
using Document = nlohmann::ordered_json;

// `message` in protobuf's JSON mapping (lowerCamelCase names, defaults
// included, enums by name), except that 64-bit integers (shapes, limits)
// are JSON numbers rather than strings when they fit a double exactly.
Document MessageDocument(const google::protobuf::Message& message);

// `document` on stdout as indented JSON (-o json) or YAML (-o yaml).
void PrintDocument(const RunContext& context, const Document& document);

// PrintDocument(MessageDocument(message)).
void PrintMessage(const RunContext& context,
                  const google::protobuf::Message& message);

// Block-style YAML of a JSON document (strings double-quoted).
std::string ToYaml(const Document& document);

// Display width of a UTF-8 string (one column per code point).
size_t DisplayWidth(const std::string& text);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_OUTPUT_H_
