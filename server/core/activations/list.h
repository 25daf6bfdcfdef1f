// The one list of activations. Everything per activation is derived from it:
// the kernel ids (kernel_table.h), the per-instruction-set kernel tables
// (kernels_isa.cc), the registry and its order (registry.cc), and the source
// files the build compiles (CMakeLists.txt reads the A(...) entries).
//
// One line per activation, in the spec's order (identity last):
//   A(name)     the activation defined in activations/<name>.cc, which
//               registers its row with ACTD_REGISTER_ACTIVATION(name, ...);
//   K(Kernel)   an element-wise kernel that file defines (the functor
//               kernels::Kernel, exported per instruction set with
//               ACTD_EXPORT_KERNEL(Kernel)); its id is KernelId::kKernel.
// A file without K entries reuses other files' kernels (selu runs elu's) or
// has kernels of its own kind (dice, in dice_kernels.h).
#ifndef ACTD_SERVER_CORE_ACTIVATIONS_LIST_H_
#define ACTD_SERVER_CORE_ACTIVATIONS_LIST_H_

// clang-format off
#define ACTD_ACTIVATIONS(A, K)      \
  A(sigmoid) K(Sigmoid)             \
  A(tanh) K(Tanh)                   \
  A(relu) K(Relu)                   \
  A(elu) K(Elu)                     \
  A(selu)                           \
  A(leaky_relu) K(Leaky)            \
  A(prelu)                          \
  A(gelu) K(GeluTanh) K(GeluErf)    \
  A(swish) K(Swish)                 \
  A(silu)                           \
  A(mish) K(Mish)                   \
  A(softplus) K(Softplus)           \
  A(relu6) K(Relu6)                 \
  A(hardsigmoid) K(HardSigmoid)     \
  A(hardswish) K(HardSwish)         \
  A(glu)                            \
  A(swiglu)                         \
  A(geglu)                          \
  A(reglu)                          \
  A(maxout)                         \
  A(dice)                           \
  A(identity) K(Identity)
// clang-format on

// For the argument a user of the list does not need.
#define ACTD_LIST_SKIP(x)

#endif  // ACTD_SERVER_CORE_ACTIVATIONS_LIST_H_
