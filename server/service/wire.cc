// The server's parse and serialize of its messages (wire.h): protobuf does the
// encoding (with output aliasing enabled, it offers every long bytes field to
// the stream instead of copying it) and these streams decide which bytes are
// copied, which are handed over, and when received bytes are let go.
#include "server/service/wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpc/compression.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <malloc.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace actd::wire {
namespace {

namespace pb = activation::v1;

// raw_data at least this long is handed over instead of copied.
constexpr size_t kMinMovedBytes = size_t{64} << 10;
// Blocks for the bytes protobuf writes itself. A block must be shorter than
// kMinMovedBytes: protobuf copies a bytes field that fits in the current
// block rather than offering it for aliasing.
constexpr int kMaxBlockBytes = 16 << 10;
constexpr int kMinBlockBytes = 256;  // also above grpc's inlined slice size

// raw_data strings to move, by the address of their bytes.
using Movable = std::unordered_map<const void*, std::string*>;

void Collect(pb::Tensor* t, Movable* movable) {
  if (t->raw_data().size() >= kMinMovedBytes) {
    movable->emplace(t->raw_data().data(), t->mutable_raw_data());
  }
}
void Collect(pb::ForwardResponse* r, Movable* movable) {
  if (r->has_output()) Collect(r->mutable_output(), movable);
  for (auto& [name, t] : *r->mutable_extras()) Collect(&t, movable);
}
void Collect(pb::BackwardResponse* r, Movable* movable) {
  if (r->has_grad_input()) Collect(r->mutable_grad_input(), movable);
  for (auto& [name, t] : *r->mutable_grad_params()) Collect(&t, movable);
}
void Collect(pb::BatchEvaluateResponse* r, Movable* movable) {
  for (pb::EvaluateResponse& item : *r->mutable_results()) {
    if (item.has_forward()) Collect(item.mutable_forward(), movable);
    if (item.has_backward()) Collect(item.mutable_backward(), movable);
  }
}

void DeleteString(void* s) { delete static_cast<std::string*>(s); }

// A slice that owns the bytes of `*source`, moved out of it without a copy
// (moving a heap string keeps its buffer).
grpc::Slice TakeString(std::string* source) {
  auto* owned = new std::string(std::move(*source));
  return grpc::Slice(owned->data(), owned->size(), &DeleteString, owned);
}

// A slice over `size` bytes of new, uninitialized memory that the slice owns;
// `*data` is where to write them.
grpc::Slice NewOwnedSlice(size_t size, uint8_t** data) {
  *data = static_cast<uint8_t*>(std::malloc(size));
  if (*data == nullptr) throw std::bad_alloc();
  return grpc::Slice(*data, size, &std::free, *data);
}

// Collects a serialized message as slices: what protobuf writes goes into
// blocks (several consecutive pieces may share one block), a movable string
// that protobuf offers for aliasing becomes a slice of its own, any other
// offered bytes are copied into a slice.
class SliceWriter final : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  // `copied_bytes`: how many bytes are expected to be written into blocks,
  // for sizing them.
  SliceWriter(int64_t copied_bytes, Movable movable)
      : copied_left_(copied_bytes), movable_(std::move(movable)) {}

  bool Next(void** data, int* size) override {
    if (block_end_ - pos_ < kMinBlockBytes) NewBlock();
    // Emitted pieces of the block end before pos_.
    *data = block_data_ + pos_;
    *size = block_end_ - pos_;
    copied_left_ -= *size;
    bytes_ += *size;
    pos_ = block_end_;
    return true;
  }

  void BackUp(int count) override {
    pos_ -= count;
    copied_left_ += count;
    bytes_ -= count;
  }

  int64_t ByteCount() const override { return bytes_; }

  bool AllowsAliasing() const override { return true; }

  bool WriteAliasedRaw(const void* data, int size) override {
    EmitBlockPiece();
    auto it = movable_.find(data);
    if (it != movable_.end() &&
        it->second->size() == static_cast<size_t>(size)) {
      moves_.push_back({pieces_.size(), it->second});
      pieces_.emplace_back();  // filled in by Finish()
      movable_.erase(it);      // each string is moved once
    } else {
      pieces_.emplace_back(data, size);  // copies
      copied_left_ -= size;
    }
    bytes_ += size;
    return true;
  }

  // Moves the offered strings into their slices and hands all pieces to
  // `buffer`. Call once protobuf is done writing.
  void Finish(grpc::ByteBuffer* buffer) {
    EmitBlockPiece();
    // The slices own the very bytes protobuf was offered.
    for (const auto& [index, source] : moves_) {
      pieces_[index] = TakeString(source);
    }
    grpc::ByteBuffer result(pieces_.data(), pieces_.size());
    buffer->Swap(&result);
  }

 private:
  void EmitBlockPiece() {
    if (pos_ > emitted_) {
      pieces_.push_back(block_.sub(emitted_, pos_));
      emitted_ = pos_;
    }
  }

  void NewBlock() {
    EmitBlockPiece();
    const int size = static_cast<int>(
        std::clamp<int64_t>(copied_left_, kMinBlockBytes, kMaxBlockBytes));
    block_ = NewOwnedSlice(static_cast<size_t>(size), &block_data_);
    block_end_ = size;
    pos_ = emitted_ = 0;
  }

  int64_t copied_left_;
  Movable movable_;
  grpc::Slice block_;
  uint8_t* block_data_ = nullptr;  // block_'s bytes
  int block_end_ = 0;              // block_ has bytes [0, block_end_)
  int pos_ = 0;                    // handed out to protobuf up to here
  int emitted_ = 0;                // already a piece up to here
  int64_t bytes_ = 0;
  std::vector<grpc::Slice> pieces_;
  std::vector<std::pair<size_t, std::string*>> moves_;
};

// A message that fits one block and has nothing to move, as SliceWriter would
// write it (one slice), without the stream around it: for a small response
// this is most of the encoding time.
absl::Status WriteOneSlice(const google::protobuf::MessageLite& msg,
                           size_t size, grpc::ByteBuffer* buffer) {
  grpc::Slice slice(size);
  uint8_t* begin = const_cast<uint8_t*>(slice.begin());
  if (msg.SerializeWithCachedSizesToArray(begin) != begin + size) {
    return absl::InternalError("failed to serialize " + msg.GetTypeName());
  }
  grpc::ByteBuffer result(&slice, 1);
  buffer->Swap(&result);
  return absl::OkStatus();
}

// Serializes `msg`: a small one with nothing to move into one slice, any
// other through a SliceWriter (with `movable` empty, every byte is copied into
// blocks).
absl::Status WriteSlices(const google::protobuf::MessageLite& msg,
                         Movable movable, grpc::ByteBuffer* buffer) {
  const size_t size = msg.ByteSizeLong();  // also caches nested sizes
  if (size > INT_MAX) {
    return absl::InternalError(msg.GetTypeName() + " exceeds 2 GiB");
  }
  if (movable.empty() && size <= static_cast<size_t>(kMaxBlockBytes)) {
    return WriteOneSlice(msg, size, buffer);
  }
  int64_t moved_bytes = 0;
  for (const auto& [data, s] : movable) moved_bytes += s->size();
  SliceWriter writer(static_cast<int64_t>(size) - moved_bytes,
                     std::move(movable));
  {
    google::protobuf::io::CodedOutputStream out(&writer);
    out.EnableAliasing(true);
    msg.SerializeWithCachedSizes(&out);
    if (out.HadError()) {
      return absl::InternalError("failed to serialize " + msg.GetTypeName());
    }
  }  // flushes and backs up the unused rest of the last block
  if (writer.ByteCount() != static_cast<int64_t>(size)) {
    return absl::InternalError(absl::StrCat(msg.GetTypeName(), " wrote ",
                                            writer.ByteCount(), " of ", size,
                                            " bytes"));
  }
  writer.Finish(buffer);
  return absl::OkStatus();
}

template <class Msg>
absl::Status SerializeMoving(Msg* msg, grpc::ByteBuffer* buffer) {
  Movable movable;
  Collect(msg, &movable);
  return WriteSlices(*msg, std::move(movable), buffer);
}

// Dropping received slices lowers the resident size only once the allocator
// gives the freed pages back: gRPC reads into 8-64 KiB blocks, which glibc
// keeps in its arenas. So a reader of a large message (kTrimBytes or more)
// trims the heap each time it has dropped a quarter of the message (at least
// kTrimBytes), and once more at the end: the freed but resident bytes stay
// under max(kTrimBytes, a quarter of the input), and a call never trims more
// than five times, whatever its size. A smaller message is not trimmed at all:
// its blocks, at most kTrimBytes, stay for the next receive to reuse, which
// saves the page faults of giving them back and taking them again (on a
// paravirtualized host, 13-42 % of a 16 Mi-element Forward). A call whose
// output overwrites its input needs no trim to keep its peak at input +
// output, so its parse leaves that to the caller (Trims::kByCaller).
constexpr size_t kTrimBytes = size_t{8} << 20;
constexpr size_t kTrimsPerMessage = 4;

// When the pages of a large message's released slices go back to the kernel.
enum class Trims {
  kWhileParsing,  // as the parse moves past them
  kByCaller,      // not during the parse (ReturnReceivedMemory)
};

void ReturnFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Reads the slices of a received message and drops each one as soon as the
// parser asks for the next: by the ZeroCopyInputStream contract, data returned
// by Next() is only valid until the next call, and BackUp() only ever refers
// to the latest chunk, which is still held.
class ReleasingReader final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  ReleasingReader(std::vector<grpc::Slice> slices, Trims trims)
      : slices_(std::move(slices)), trims_(trims) {
    size_t total = 0;
    for (const grpc::Slice& s : slices_) total += s.size();
    trim_every_ = total < kTrimBytes || trims_ == Trims::kByCaller
                      ? SIZE_MAX
                      : std::max(kTrimBytes, total / kTrimsPerMessage);
  }

  ~ReleasingReader() override {
    slices_.clear();
    if (trims_ == Trims::kWhileParsing) {
      ReturnReceivedMemory(static_cast<size_t>(bytes_));
    }
  }

  bool Next(const void** data, int* size) override {
    if (backup_ > 0) {
      *data = slices_[next_ - 1].end() - backup_;
      *size = backup_;
      bytes_ += backup_;
      backup_ = 0;
      return true;
    }
    if (next_ > 0) Release(&slices_[next_ - 1]);
    while (next_ < slices_.size()) {
      const grpc::Slice& slice = slices_[next_++];
      if (slice.size() == 0) continue;
      // Slices of one message are far below INT_MAX (the receive limit is
      // an int).
      if (slice.size() > INT_MAX) return false;
      *data = slice.begin();
      *size = static_cast<int>(slice.size());
      bytes_ += *size;
      return true;
    }
    return false;
  }

  void BackUp(int count) override {
    backup_ = count;
    bytes_ -= count;
  }

  bool Skip(int count) override {
    const void* data;
    int size;
    while (Next(&data, &size)) {
      if (size >= count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return false;
  }

  int64_t ByteCount() const override { return bytes_; }

 private:
  void Release(grpc::Slice* slice) {
    released_ += slice->size();
    *slice = grpc::Slice();
    if (released_ >= trim_every_) {
      ReturnFreedMemory();
      released_ = 0;
    }
  }

  std::vector<grpc::Slice> slices_;
  Trims trims_;
  size_t next_ = 0;  // slices_[next_ - 1] is the latest chunk
  int backup_ = 0;
  int64_t bytes_ = 0;
  size_t trim_every_ = SIZE_MAX;
  size_t released_ = 0;  // since the last trim
};

// The compression algorithm of a received message: gRPC marks the buffer when
// it left the message compressed (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION
// off). ProtoBufferReader exposes the buffer's reader to subclasses.
class CompressionOf final : public grpc::ProtoBufferReader {
 public:
  explicit CompressionOf(grpc::ByteBuffer* buffer)
      : grpc::ProtoBufferReader(buffer) {}
  grpc_compression_algorithm algorithm() {
    grpc_byte_buffer* b = reader()->buffer_in;
    return b == nullptr ? GRPC_COMPRESS_NONE : b->data.raw.compression;
  }
};

// Inflates gzip or zlib (gRPC's "deflate") data from `in` into new slices,
// releasing each input slice once consumed and refusing to produce more than
// `max_bytes`: memory stays within the limit whatever the compression ratio.
absl::Status Inflate(std::vector<grpc::Slice> in, bool gzip, int64_t max_bytes,
                     std::vector<grpc::Slice>* out) {
  constexpr int64_t kBlock = int64_t{64} << 10;
  z_stream z{};
  if (inflateInit2(&z, MAX_WBITS | (gzip ? 16 : 0)) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  int64_t capacity = 0;  // of the blocks in `out`
  size_t next = 0;       // in[next - 1] is being read
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (next > 0) in[next - 1] = grpc::Slice();  // consumed
      if (next == in.size()) break;                // truncated: see below
      // zlib's API takes a non-const pointer but never writes the input.
      z.next_in = const_cast<Bytef*>(in[next].begin());
      z.avail_in = static_cast<uInt>(in[next].size());
      ++next;
      continue;
    }
    if (z.avail_out == 0) {
      if (capacity >= max_bytes) {
        inflateEnd(&z);
        return absl::ResourceExhaustedError(absl::StrCat(
            "request: the compressed message inflates to more than ", max_bytes,
            " bytes (--max_message_bytes)"));
      }
      const int64_t size = std::min(kBlock, max_bytes - capacity);
      uint8_t* block = nullptr;
      out->push_back(NewOwnedSlice(static_cast<size_t>(size), &block));
      z.next_out = block;
      z.avail_out = static_cast<uInt>(size);
      capacity += size;
    }
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
  }
  inflateEnd(&z);
  if (!out->empty()) {
    out->back() = out->back().sub(0, out->back().size() - z.avail_out);
  }
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: the compressed message is not complete ",
                     gzip ? "gzip" : "deflate", " data (zlib code ", rc, ")"));
  }
  return absl::OkStatus();
}

std::atomic<int64_t> max_receive_bytes{int64_t{4} << 20};

// Messages parsed so far and calls open now, for the idle trimmer.
std::atomic<uint64_t> messages_parsed{0};
std::atomic<int64_t> open_calls{0};

constexpr auto kIdlePoll = std::chrono::milliseconds(250);
constexpr int kQuietPollsBeforeTrim = 4;

// Free bytes the heap holds (glibc), or 0 where that cannot be told.
size_t FreeHeapBytes() {
#ifdef __GLIBC__
  return mallinfo2().fordblks;
#else
  return 0;
#endif
}

// Hands the heap's free pages back to the kernel once kQuietPollsBeforeTrim
// polls in a row have seen no new message and no open call, if the heap's free
// space has changed since the last trim: under load, buffers stay for the next
// call to reuse (with a 250 ms wait and no count of open calls, a slow client's
// 16 Mi-element Forwards were trimmed between calls, and each faulted its
// receive buffers in again); at rest, the resident size is what the server
// holds, and an idle heap is not trimmed again and again.
[[noreturn]] void TrimWhenIdle() {
  uint64_t seen = messages_parsed.load(std::memory_order_relaxed);
  size_t free_after_trim = FreeHeapBytes();
  int quiet_polls = 0;
  for (;;) {
    std::this_thread::sleep_for(kIdlePoll);
    const uint64_t now = messages_parsed.load(std::memory_order_relaxed);
    const bool quiet =
        now == seen && open_calls.load(std::memory_order_relaxed) == 0;
    quiet_polls = quiet ? quiet_polls + 1 : 0;
    seen = now;
    if (quiet_polls >= kQuietPollsBeforeTrim &&
        FreeHeapBytes() != free_after_trim) {
      ReturnFreedMemory();
      free_after_trim = FreeHeapBytes();
    }
  }
}

// The slices of a received message, inflated if it came compressed.
absl::Status TakeSlices(grpc::ByteBuffer* buffer, int64_t max_bytes,
                        std::vector<grpc::Slice>* slices) {
  if (buffer == nullptr || !buffer->Valid()) {
    return absl::InvalidArgumentError("request: no message received");
  }
  const grpc_compression_algorithm algorithm =
      CompressionOf(buffer).algorithm();
  grpc::Status dumped = buffer->Dump(slices);
  buffer->Clear();  // the caller now holds the only references
  if (!dumped.ok()) return absl::InternalError(dumped.error_message());
  if (algorithm == GRPC_COMPRESS_NONE) return absl::OkStatus();
  if (algorithm != GRPC_COMPRESS_GZIP && algorithm != GRPC_COMPRESS_DEFLATE) {
    return absl::UnimplementedError(
        absl::StrCat("request: compression algorithm ", algorithm,
                     " is not supported (use gzip, deflate or none)"));
  }
  std::vector<grpc::Slice> inflated;
  absl::Status s = Inflate(std::move(*slices), algorithm == GRPC_COMPRESS_GZIP,
                           max_bytes, &inflated);
  if (!s.ok()) {
    inflated.clear();
    ReturnFreedMemory();
    return s;
  }
  *slices = std::move(inflated);
  return absl::OkStatus();
}

// Merges the message in `slices` into `msg`, dropping each slice once read.
absl::Status ParseSlices(std::vector<grpc::Slice> slices,
                         google::protobuf::MessageLite* msg, Trims trims) {
  messages_parsed.fetch_add(1, std::memory_order_relaxed);
  ReleasingReader reader(std::move(slices), trims);
  google::protobuf::io::CodedInputStream coded(&reader);
  // A merge may stop at a zero or end-group tag; a message must not.
  if (!msg->MergeFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(
        "request: the bytes received are not a valid " + msg->GetTypeName());
  }
  return absl::OkStatus();
}

// Moves `in` past the next field tagged `tag`; false if the bytes end first.
bool SkipTo(google::protobuf::io::CodedInputStream* in, uint32_t tag) {
  for (uint32_t t = in->ReadTag(); t != 0; t = in->ReadTag()) {
    if (t == tag) return true;
    if (!google::protobuf::internal::WireFormatLite::SkipField(in, t)) {
      return false;
    }
  }
  return false;
}

// protobuf grows a bytes field of more than 50,000,000 bytes as it arrives: a
// reallocation and a copy that lifted a 16 Mi-element Forward's peak to input +
// output + 31.8 MiB once the received buffers are kept (Trims::kByCaller).
// Reserved at the size the message's first bytes declare (at most what was
// received), input.raw_data is written once. Messages that do not declare it
// within their first kPeekBytes are parsed as they are.
void ReserveDeclaredRawData(const std::vector<grpc::Slice>& slices,
                            pb::ForwardRequest* msg) {
  constexpr size_t kPeekBytes = 4096;
  uint8_t prefix[kPeekBytes];
  size_t n = 0, total = 0;
  for (const grpc::Slice& slice : slices) {
    const size_t k = std::min(slice.size(), kPeekBytes - n);
    std::copy_n(slice.begin(), k, prefix + n);
    n += k;
    total += slice.size();
  }
  using google::protobuf::internal::WireFormatLite;
  constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  google::protobuf::io::CodedInputStream in(prefix, static_cast<int>(n));
  uint32_t input_bytes = 0, raw_bytes = 0;
  if (!SkipTo(&in, WireFormatLite::MakeTag(
                       pb::ForwardRequest::kInputFieldNumber, kBytes)) ||
      !in.ReadVarint32(&input_bytes)) {
    return;
  }
  in.PushLimit(static_cast<int>(std::min<uint32_t>(input_bytes, INT_MAX)));
  if (SkipTo(&in, WireFormatLite::MakeTag(pb::Tensor::kRawDataFieldNumber,
                                          kBytes)) &&
      in.ReadVarint32(&raw_bytes) && raw_bytes <= total) {
    msg->mutable_input()->mutable_raw_data()->reserve(raw_bytes);
  }
}

}  // namespace

OpenCall::OpenCall() { open_calls.fetch_add(1, std::memory_order_relaxed); }
OpenCall::OpenCall(const OpenCall&) : OpenCall() {}
OpenCall::~OpenCall() { open_calls.fetch_sub(1, std::memory_order_relaxed); }

void ReturnReceivedMemory(size_t message_bytes) {
  if (message_bytes >= kTrimBytes) ReturnFreedMemory();
}

void SetMaxReceiveBytes(int64_t bytes) { max_receive_bytes = bytes; }
int64_t MaxReceiveBytes() { return max_receive_bytes; }

void TuneAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef __GLIBC__
    // glibc's defaults give every buffer from 128 KiB (rising with use to at
    // most 32 MiB) its own mapping, and hand a heap's free top back to the
    // kernel past twice that: a 256 KiB or 4 MiB call then page-faults its
    // buffers in afresh every time (3x the latency of fixed thresholds,
    // measured). Fixed thresholds keep buffers under 32 MiB in the heap, where
    // the next call reuses them. One arena, because malloc_trim gives back the
    // free top of the main arena only: a thread's own arena would keep up to
    // the trim threshold resident for good.
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
#endif
    std::thread(TrimWhenIdle).detach();
  });
}

absl::Status ParseReleasing(grpc::ByteBuffer* buffer,
                            google::protobuf::MessageLite* msg,
                            int64_t max_bytes) {
  msg->Clear();
  std::vector<grpc::Slice> slices;
  if (absl::Status s = TakeSlices(buffer, max_bytes, &slices); !s.ok()) {
    return s;
  }
  return ParseSlices(std::move(slices), msg, Trims::kWhileParsing);
}

absl::Status ParseReleasing(grpc::ByteBuffer* buffer, pb::ForwardRequest* msg,
                            int64_t max_bytes) {
  msg->Clear();
  std::vector<grpc::Slice> slices;
  if (absl::Status s = TakeSlices(buffer, max_bytes, &slices); !s.ok()) {
    return s;
  }
  ReserveDeclaredRawData(slices, msg);
  return ParseSlices(std::move(slices), msg, Trims::kByCaller);
}

absl::Status SerializeMovingTensors(pb::ForwardResponse* msg,
                                    grpc::ByteBuffer* buffer) {
  return SerializeMoving(msg, buffer);
}
absl::Status SerializeMovingTensors(pb::BackwardResponse* msg,
                                    grpc::ByteBuffer* buffer) {
  return SerializeMoving(msg, buffer);
}
absl::Status SerializeMovingTensors(pb::BatchEvaluateResponse* msg,
                                    grpc::ByteBuffer* buffer) {
  return SerializeMoving(msg, buffer);
}
// protobuf writes a repeated bytes field by copying it (WriteBytes, never
// offered for aliasing), so the raw_output_contents are taken out, the rest
// serialized, and each appended as its own field: a key and length, then the
// string moved into a slice. Fields may come in any order on the wire, and
// the entries of a repeated field are read in the order they come.
absl::Status SerializeMovingTensors(inference::ModelInferResponse* msg,
                                    grpc::ByteBuffer* buffer) {
  namespace io = google::protobuf::io;
  google::protobuf::RepeatedPtrField<std::string> raw;
  raw.Swap(msg->mutable_raw_output_contents());
  if (absl::Status s = SerializeCopying(*msg, buffer); !s.ok()) return s;
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) {
    return absl::InternalError(
        "ModelInferResponse: cannot read back the slices");
  }
  constexpr uint32_t kKey =
      (inference::ModelInferResponse::kRawOutputContentsFieldNumber << 3) |
      2;  // length-delimited
  for (std::string& bytes : raw) {
    if (bytes.size() > INT_MAX) {
      return absl::InternalError("ModelInferResponse: an output over 2 GiB");
    }
    uint8_t head[10];
    uint8_t* end = io::CodedOutputStream::WriteVarint32ToArray(kKey, head);
    end = io::CodedOutputStream::WriteVarint32ToArray(
        static_cast<uint32_t>(bytes.size()), end);
    slices.emplace_back(head, static_cast<size_t>(end - head));  // copied
    slices.push_back(TakeString(&bytes));
  }
  grpc::ByteBuffer result(slices.data(), slices.size());
  buffer->Swap(&result);
  return absl::OkStatus();
}
absl::Status SerializeCopying(const google::protobuf::MessageLite& msg,
                              grpc::ByteBuffer* buffer) {
  return WriteSlices(msg, Movable(), buffer);
}

}  // namespace actd::wire
