// actd's logging: spdlog as text or one JSON object per line, with gRPC's own
// log lines routed through the same sink so that every line on stderr has one
// format.
#ifndef ACTD_SERVER_LOGGING_H_
#define ACTD_SERVER_LOGGING_H_

#include <string>

namespace actd {

// Sets spdlog's level ("trace" ... "off") and format ("text" or "json"), and
// sends gRPC's log lines (severity mapped, file:line kept) to spdlog. Call
// once, before gRPC starts.
void SetUpLogging(const std::string& level, const std::string& format);

// The first error lines gRPC logged, joined by "; " ("" if none): the cause
// behind a failure that gRPC's API reports only as a null result (a port it
// could not open, a TLS key that does not match its certificate).
// Thread-safe.
std::string GrpcErrors();

}  // namespace actd

#endif  // ACTD_SERVER_LOGGING_H_
