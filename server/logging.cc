// spdlog set up for text or JSON lines, and gRPC's gpr log routed into it.
#include "server/logging.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "absl/strings/str_join.h"
#include "grpc/support/log.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

namespace actd {
namespace {

// %* in a log pattern: the message as the inside of a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char hex[8];
            snprintf(hex, sizeof(hex), "\\u%04x", c);
            dest.append(std::string_view(hex));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// The first few error lines gRPC logged, without their debug suffix.
constexpr int kKeptErrors = 4;
std::mutex errors_mutex;
std::vector<std::string>* errors = new std::vector<std::string>;

void KeepError(std::string_view message) {
  // "UNKNOWN:Unable to create ... {file:..., created_time:...}": the part
  // before the braces is the message.
  message = message.substr(0, message.find(" {"));
  std::lock_guard<std::mutex> lock(errors_mutex);
  if (errors->size() < kKeptErrors) errors->emplace_back(message);
}

// gpr_log's sink: gRPC's errors stay errors, its info lines (start-up chatter
// about pollers and fds) become debug lines, each prefixed with "grpc" and
// the source position.
void GrpcLog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    level = spdlog::level::err;
    KeepError(args->message);
  }
  spdlog::log(level, "grpc {}:{}: {}", args->file, args->line, args->message);
}

}  // namespace

void SetUpLogging(const std::string& level, const std::string& format) {
  const spdlog::level::level_enum spd_level = spdlog::level::from_str(level);
  spdlog::set_level(spd_level);
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(
        spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  }
  // gRPC filters by its own verbosity before calling the sink: let through
  // what spdlog's level would show.
  gpr_set_log_verbosity(
      spd_level <= spdlog::level::debug  ? GPR_LOG_SEVERITY_DEBUG
      : spd_level <= spdlog::level::info ? GPR_LOG_SEVERITY_INFO
                                         : GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(GrpcLog);
}

std::string GrpcErrors() {
  std::lock_guard<std::mutex> lock(errors_mutex);
  return absl::StrJoin(*errors, "; ");
}

}  // namespace actd
