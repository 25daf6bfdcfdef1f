// The access log: one record per call, as fields. In text mode a line
// "request id=7 method=Forward activation=relu ..."; in JSON mode an object
// whose fields are real JSON fields ("method":"Forward","elements":256, ...),
// not one formatted message, so log pipelines can filter on them.
#ifndef ACTD_SERVER_SERVICE_ACCESS_LOG_H_
#define ACTD_SERVER_SERVICE_ACCESS_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace actd {

struct AccessRecord {
  uint64_t request_id = 0;
  std::string_view protocol = "native";  // or "oip"
  std::string_view method;
  std::string_view activation;
  std::string_view dtype;
  int64_t elements = 0;
  std::string_view code;  // "OK", "INVALID_ARGUMENT", ...
  int64_t duration_us = 0;
  std::string_view peer;
};

// Chooses the record format: JSON objects (true) or text lines. Call once at
// startup, after the default logger's format is set.
void SetAccessLogJson(bool json);

// Logs one record at info level when `enabled`, else at debug. Thread-safe.
void LogAccess(const AccessRecord& record, bool enabled);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_ACCESS_LOG_H_
