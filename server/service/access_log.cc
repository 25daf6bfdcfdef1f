// The access log's two formats. JSON records go through a logger of their own
// whose pattern puts the fields, already rendered, beside time and level;
// text records go through the default logger like every other line.
#include "server/service/access_log.h"

#include <memory>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace actd {
namespace {

std::shared_ptr<spdlog::logger>& JsonLogger() {
  static auto* logger = new std::shared_ptr<spdlog::logger>;
  return *logger;
}

// s as a JSON string, quotes included.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char hex[8];
      snprintf(hex, sizeof(hex), "\\u%04x", c);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

void SetAccessLogJson(bool json) {
  if (!json) {
    JsonLogger().reset();
    return;
  }
  auto logger = std::make_shared<spdlog::logger>(
      "access", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::get_level());
  JsonLogger() = std::move(logger);
}

void LogAccess(const AccessRecord& r, bool enabled) {
  const auto level = enabled ? spdlog::level::info : spdlog::level::debug;
  if (const auto& json = JsonLogger()) {
    if (!json->should_log(level)) return;
    json->log(level,
              "\"msg\":\"request\",\"request_id\":{},\"protocol\":{},"
              "\"method\":{},\"activation\":{},\"dtype\":{},\"elements\":{},"
              "\"code\":{},\"duration_us\":{},\"peer\":{}",
              r.request_id, Quoted(r.protocol), Quoted(r.method),
              Quoted(r.activation), Quoted(r.dtype), r.elements, Quoted(r.code),
              r.duration_us, Quoted(r.peer));
    return;
  }
  spdlog::log(level,
              "request id={} protocol={} method={} activation={} dtype={} "
              "elements={} code={} duration_us={} peer={}",
              r.request_id, r.protocol, r.method, r.activation, r.dtype,
              r.elements, r.code, r.duration_us, r.peer);
}

}  // namespace actd
