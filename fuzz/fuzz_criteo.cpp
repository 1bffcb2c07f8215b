// libFuzzer target: the Criteo TSV parser (CriteoParser through TextReader).
#include "ctrnet/data/readers/criteo.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ctrnet::CriteoParser zero{};
  static const ctrnet::CriteoParser indicator{ctrnet::CriteoOptions{1000, 0, 0, ctrnet::DenseMissing::indicator}};
  ctrnet::fuzz::run(data, size, size % 2 ? zero : indicator);
  return 0;
}
