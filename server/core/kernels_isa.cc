// This instruction set's KernelTable: every K entry of activations/list.h,
// exported by its activation file (built for the same set), and Dice's passes
// of dice_kernels.h. Compiled once per instruction set, set by the compiler
// flags this file is built with (see CMakeLists.txt).
#include "server/core/activations/dice_kernels.h"
#include "server/core/activations/kernel_export.h"  // first: renames Eigen
#include "server/core/activations/list.h"
#include "server/core/kernel_table.h"

namespace actd {
inline namespace ACTD_ISA {

// Defined by ACTD_EXPORT_KERNEL in the activation files.
#define ACTD_DECLARE_EXPORT(Kernel) void Export##Kernel(KernelTable& table);
ACTD_ACTIVATIONS(ACTD_LIST_SKIP, ACTD_DECLARE_EXPORT)
#undef ACTD_DECLARE_EXPORT

namespace {

KernelTable Build() {
  KernelTable t;
  t.isa = ACTD_STRINGIFY(ACTD_ISA);
#define ACTD_CALL_EXPORT(Kernel) Export##Kernel(t);
  ACTD_ACTIVATIONS(ACTD_LIST_SKIP, ACTD_CALL_EXPORT)
#undef ACTD_CALL_EXPORT
  t.dice_f32 = dice::Ops<float>();
  t.dice_f64 = dice::Ops<double>();
  return t;
}

}  // namespace

const KernelTable& Table() {
  static const KernelTable table = Build();
  return table;
}

}  // namespace ACTD_ISA
}  // namespace actd
