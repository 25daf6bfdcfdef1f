// Flags that describe one evaluation (activation, params, weights, input
// tensor, dtype, encoding) and their translation into activation.v1 messages.
// Bad values throw UsageError, so every command reports them the same way.
#ifndef ACTD_CLIENT_CLI_REQUEST_ARGS_H_
#define ACTD_CLIENT_CLI_REQUEST_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "activation/v1/activation.pb.h"
#include "client/lib/tensor.h"

namespace actd::cli {

// Where the input tensor comes from: exactly one of values, input, random.
struct TensorArgs {
  std::string values;    // "-1,2,3"
  std::string shape;     // "2,3"; default [N]
  std::string input;     // .npy, .csv or .json file
  int64_t random = 0;    // N normal samples
  uint64_t seed = 1;     // for --random
  std::string dtype;     // float32 | float64; "" = from the file, else float32
  std::string encoding;  // raw | typed; "" = raw
};

// The activation spec flags: --param key=value, --weight name=FILE|values.
struct SpecArgs {
  std::vector<std::string> params;
  std::vector<std::string> weights;
};

// The input tensor the flags describe; `fallback_values` is used when no
// source is given (empty = a source is required).
client::HostTensor BuildInput(const TensorArgs& args,
                              const std::string& fallback_values = "");

// The wire encoding of --encoding.
client::Encoding EncodingOf(const TensorArgs& args);

// "alpha=0.5" -> number, "training=true" -> flag, "approximate=tanh" -> text.
std::pair<std::string, activation::v1::Param> ParseParam(
    const std::string& text);

// Name, params and weights (in `dtype`, encoded as `encoding`).
activation::v1::ActivationSpec BuildSpec(const std::string& name,
                                         const SpecArgs& args,
                                         activation::v1::DataType dtype,
                                         client::Encoding encoding);

// A tensor from a file name or a list of values; values take `like`'s shape
// when the counts agree, else [N] (or [] for a single value when
// `scalar_if_single`).
client::HostTensor TensorFromFileOrValues(const std::string& text,
                                          const client::HostTensor& like,
                                          bool scalar_if_single);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_REQUEST_ARGS_H_
