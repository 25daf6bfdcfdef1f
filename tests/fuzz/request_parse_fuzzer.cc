// Fuzzes the request parse exactly as gRPC calls it: arbitrary bytes, cut into
// arbitrary slices, handed to SerializationTraits<wire::Received<Msg>> for
// every request type of ActivationService. The parse releases slices as it
// goes, so slice boundaries matter. Differential check: the result must equal
// protobuf's own parse of the same bytes in one piece (both fail, or both
// succeed with the same message).
#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "activation/v1/activation.pb.h"
#include "server/service/wire.h"

namespace pb = activation::v1;

namespace {

// `bytes` in slices whose sizes cycle through `sizes` (1 to 256 bytes each),
// or in one slice when `sizes` is empty.
grpc::ByteBuffer Sliced(const std::string& sizes, const std::string& bytes) {
  std::vector<grpc::Slice> slices;
  size_t at = 0;
  for (size_t i = 0; at < bytes.size(); ++i) {
    const size_t want = sizes.empty()
                            ? bytes.size()
                            : static_cast<uint8_t>(sizes[i % sizes.size()]) + 1;
    const size_t n = std::min(bytes.size() - at, want);
    slices.emplace_back(bytes.data() + at, n);
    at += n;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

template <class Msg>
void ParseBoth(FuzzedDataProvider& in) {
  const std::string sizes =
      in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(0, 8));
  const std::string bytes = in.ConsumeRemainingBytesAsString();
  grpc::ByteBuffer buffer = Sliced(sizes, bytes);
  actd::wire::Received<Msg> received;
  const grpc::Status status =
      grpc::SerializationTraits<actd::wire::Received<Msg>>::Deserialize(
          &buffer, &received);
  if (!status.ok()) abort();  // parse errors are kept in `received`
  Msg reference;
  const bool reference_ok = reference.ParseFromString(bytes);
  if (received.status.ok() != reference_ok) abort();
  // Compared field by field (maps serialize in no fixed order), NaN equal to
  // NaN.
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  if (reference_ok && !differencer.Compare(received.message, reference)) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limit_set = [] {
    actd::wire::SetMaxReceiveBytes(int64_t{4} << 20);
    return true;
  }();
  (void)limit_set;
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      ParseBoth<pb::ForwardRequest>(in);
      break;
    case 1:
      ParseBoth<pb::BackwardRequest>(in);
      break;
    case 2:
      ParseBoth<pb::BatchEvaluateRequest>(in);
      break;
    case 3:
      ParseBoth<pb::ListActivationsRequest>(in);
      break;
    default:
      ParseBoth<pb::GetServerInfoRequest>(in);
  }
  return 0;
}
