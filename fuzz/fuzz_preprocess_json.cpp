// libFuzzer target: the preprocessing state reader (data/preprocess.hpp, Preprocessor::from_json),
// saved in model files as their "preprocessing" metadata. Bytes that are not JSON are skipped; for
// JSON, from_json must give a fitted preprocessor or a ctrnet::Error. An accepted state must then
// transform a small batch of its input schema (missing, NaN, huge and negative values, unseen ids)
// into a batch of its output schema, and round-trip: from_json(to_json()) has the same to_json().
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctrnet/data/preprocess.hpp"
#include "ctrnet/data/schema_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  Preprocessor p;
  try {
    p = Preprocessor::from_json(j);
  } catch (const Error&) {
    return 0;
  }
  try {
    const Schema& in = p.input_schema();
    const Schema& os = p.output_schema();
    constexpr float kDense[] = {0.0f, -1.0f, 3.5f, std::numeric_limits<float>::quiet_NaN(), 1e30f, -1e30f};
    constexpr FeatureId kIds[] = {0, 1, 2, kMissingId, -7, std::numeric_limits<FeatureId>::max()};
    Batch b;
    b.reset(in);
    for (std::size_t r = 0; r < 6; ++r) {
      std::vector<float> dense(static_cast<std::size_t>(in.num_dense()), kDense[r]);
      std::vector<std::vector<FeatureId>> ids(static_cast<std::size_t>(in.num_categorical()));
      for (std::size_t f = 0; f < ids.size(); ++f) ids[f].assign((r + f) % 3, kIds[(r + f) % 6]);
      const std::vector<std::span<const FeatureId>> spans(ids.begin(), ids.end());
      b.add(dense, spans, 0.0f);
    }
    Batch out;
    p.transform(b.view(), out);
    if (out.size() != b.size() || out.num_dense() != os.num_dense() ||
        out.ids.size() != static_cast<std::size_t>(os.num_categorical()))
      __builtin_trap();
    const nlohmann::json saved = p.to_json();
    if (Preprocessor::from_json(nlohmann::json::parse(saved.dump())).to_json() != saved) __builtin_trap();
  } catch (const Error&) {
    __builtin_trap();  // a state from_json accepted must work and read back
  }
  return 0;
}
