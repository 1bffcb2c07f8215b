// libFuzzer target: the safetensors reader and the model loader on arbitrary bytes. Accepts only a
// clean parse or ctrnet::Error; a crash, a sanitizer report or another exception is a bug. On a
// clean parse every tensor is read (touching every byte its offsets claim), and the bytes are also
// offered to load_model for two architectures, which exercises the metadata (options, schema) path.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ctrnet/io/model_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  SafetensorsView v;
  try {
    v = SafetensorsView::parse(bytes, "fuzz");
  } catch (const Error&) {
    return 0;
  }
  std::uint64_t sum = 0;
  for (const auto& t : v.tensors()) {
    const auto b = v.bytes(t);
    if (b.size() != t.end - t.begin) __builtin_trap();
    for (std::byte x : b) sum += std::to_integer<unsigned>(x);
    if (t.dtype == Dtype::F32 || t.dtype == Dtype::F64 || t.dtype == Dtype::BF16) {
      std::vector<double> out(static_cast<std::size_t>(t.numel()));
      try {
        v.read(t.name, std::span<double>(out), {Dtype::F32, Dtype::F64, Dtype::BF16});
      } catch (const Error&) {
        __builtin_trap();  // dtype allowed and size matches: reading must succeed
      }
    }
  }
  try {
    (void)load_model<DCNv2Stacked>(v);
  } catch (const Error&) {
  }
  try {
    (void)load_model<WideDeep>(v);
  } catch (const Error&) {
  }
  return sum == 0xFFFFFFFFFFFFFFFFull ? 1 : 0;
}
