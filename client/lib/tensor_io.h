// Tensor files, picked by extension: .npy (NumPy format 1.0/2.0/3.0, C order,
// little-endian float32/float64, also integer arrays on input), .csv (one row
// per line; a "# shape: 2,3,4" comment restores a higher rank) and .json
// (nested arrays, or an activation.v1.Tensor in protobuf JSON).
#ifndef ACTD_CLIENT_LIB_TENSOR_IO_H_
#define ACTD_CLIENT_LIB_TENSOR_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/lib/tensor.h"

namespace actd::client {

// Reads a tensor. Its dtype is DATA_TYPE_UNSPECIFIED when the file does not
// say (.csv, nested-array .json). NOT_FOUND when the file cannot be read,
// INVALID_ARGUMENT when its contents are malformed.
absl::StatusOr<HostTensor> ReadTensorFile(const std::string& path);

// Writes `tensor` in the format named by the extension of `path`.
absl::Status WriteTensorFile(const std::string& path, const HostTensor& tensor);

// Serialises to the bytes of a .npy file / nested JSON arrays (non-finite
// values as the strings "NaN", "Infinity", "-Infinity", as proto3 JSON does).
std::string EncodeNpy(const HostTensor& tensor);
std::string EncodeJsonArray(const HostTensor& tensor);

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_TENSOR_IO_H_
