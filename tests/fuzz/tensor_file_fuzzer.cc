// Fuzzes actctl's tensor readers (.npy, .csv, .json) through the real entry
// point, ReadTensorFile, on a file in memory-backed /dev/shm: any bytes must
// give a tensor or an error, and a tensor read must be self-consistent and
// survive a write and a second read with the same values.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "client/lib/tensor_io.h"

namespace {

const char* const kExtensions[] = {".npy", ".csv", ".json"};

std::string Scratch(const char* extension) {
  return "/dev/shm/actd-fuzz-" + std::to_string(getpid()) + extension;
}

void Write(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the format; the rest is the file.
  const char* extension = kExtensions[data[0] % 3];
  const std::string path = Scratch(extension);
  Write(path, data + 1, size - 1);
  absl::StatusOr<actd::client::HostTensor> tensor =
      actd::client::ReadTensorFile(path);
  if (tensor.ok()) {
    if (static_cast<int64_t>(tensor->values.size()) !=
        actd::client::ElementCount(tensor->shape)) {
      abort();
    }
    // What was read can be written as .npy and read back unchanged (compared
    // as .npy bytes). Formats that do not name a dtype read as float64.
    if (tensor->dtype == activation::v1::DATA_TYPE_UNSPECIFIED) {
      tensor->dtype = activation::v1::DATA_TYPE_FLOAT64;
    }
    const std::string again = Scratch(".out.npy");
    if (!actd::client::WriteTensorFile(again, *tensor).ok()) abort();
    absl::StatusOr<actd::client::HostTensor> back =
        actd::client::ReadTensorFile(again);
    if (!back.ok()) abort();
    if (actd::client::EncodeNpy(*back) != actd::client::EncodeNpy(*tensor)) {
      abort();
    }
    unlink(again.c_str());
  }
  unlink(path.c_str());
  return 0;
}
