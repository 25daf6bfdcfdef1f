// Tensor files, picked by extension: .npy (NumPy format 1.0/2.0/3.0, C order,
// little-endian float16/float32/float64, also integer arrays on input), .csv
// (one row per line; a "# shape: 2,3,4" comment restores a higher rank) and
// .json (nested arrays, or an activation.v1.Tensor in protobuf JSON); several
// named tensors go to one .npz (an uncompressed zip of .npy files, as
// numpy.savez writes).
//
// bfloat16 has no NumPy dtype. Its .npy form is the uint16 array of the bit
// patterns (torch: t.view(torch.int16).numpy().view(numpy.uint16); back:
// torch.from_numpy(a.view(numpy.int16)).view(torch.bfloat16)). Such a file
// is written for a bfloat16 tensor and read only when bfloat16 is asked for.
#ifndef ACTD_CLIENT_LIB_TENSOR_IO_H_
#define ACTD_CLIENT_LIB_TENSOR_IO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/lib/tensor.h"

namespace actd::client {

// Reads a tensor. Its dtype is DATA_TYPE_UNSPECIFIED when the file does not
// say (.csv, nested-array .json). `want` is the dtype the caller will send:
// with DATA_TYPE_BFLOAT16 a uint16 .npy is read as bit patterns, otherwise
// one is refused, and so is any other 16-bit integer .npy with bfloat16.
// NOT_FOUND when the file cannot be read, INVALID_ARGUMENT when its contents
// are malformed or ambiguous.
absl::StatusOr<HostTensor> ReadTensorFile(
    const std::string& path,
    activation::v1::DataType want = activation::v1::DATA_TYPE_UNSPECIFIED);

// Writes `tensor` in the format named by the extension of `path`.
absl::Status WriteTensorFile(const std::string& path, const HostTensor& tensor);

// Writes `tensors` as a .npz: one "<name>.npy" member each, in order.
absl::Status WriteNpz(
    const std::string& path,
    const std::vector<std::pair<std::string, HostTensor>>& tensors);

// Serialises to the bytes of a .npy file / nested JSON arrays (non-finite
// values as the strings "NaN", "Infinity", "-Infinity", as proto3 JSON does).
std::string EncodeNpy(const HostTensor& tensor);
std::string EncodeJsonArray(const HostTensor& tensor);

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_TENSOR_IO_H_
