// libFuzzer target: the schema JSON reader (data/schema_json.hpp, schema_from_json), which model
// files and binary caches use. Bytes that are not JSON are skipped (nlohmann's parse error is the
// caller's concern); for JSON, schema_from_json must give a schema or a ctrnet::Error, and a schema
// it accepted must round-trip: schema_to_json then schema_from_json gives the same JSON again.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "ctrnet/data/schema_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  Schema s;
  try {
    s = schema_from_json(j);
  } catch (const Error&) {
    return 0;
  }
  const nlohmann::json out = schema_to_json(s);
  try {
    if (schema_to_json(schema_from_json(nlohmann::json::parse(out.dump()))) != out) __builtin_trap();
  } catch (const Error&) {
    __builtin_trap();  // what the library wrote must read back
  }
  return 0;
}
