// libFuzzer target: the libsvm / libFM parser in the sparse (with fields) and dense layouts.
#include "ctrnet/data/readers/libsvm.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  static const LibsvmParser sparse{LibsvmOptions{LibsvmLayout::sparse, 64, 4, LibsvmLabels::raw, false, 0}};
  static const LibsvmParser plain{LibsvmOptions{LibsvmLayout::sparse, 1000, 0, LibsvmLabels::binary, true, 0}};
  static const LibsvmParser dense{LibsvmOptions{LibsvmLayout::dense, 16, 0, LibsvmLabels::raw, false, 0}};
  const int pick = size > 0 ? data[0] % 3 : 0;
  fuzz::run(data, size, pick == 0 ? sparse : pick == 1 ? plain : dense);
  return 0;
}
