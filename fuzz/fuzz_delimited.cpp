// libFuzzer target: the delimited (CSV) parser with quoting, every column role, header
// detection, trimming and comments; the first byte picks one of two schemas.
#include "ctrnet/data/readers/delimited.hpp"
#include "fuzz_common.hpp"

namespace {
ctrnet::DelimitedParser make(bool trim) {
  const char* text = R"({
    "delimiter": ",", "header": "detect", "missing": ["", "NA"], "comment": "#",
    "columns": [
      {"name": "label", "role": "label"},
      {"name": "price", "role": "dense"},
      {"name": "city", "role": "categorical"},
      {"name": "tags", "role": "multi_hot", "separator": "|"},
      {"name": "user", "role": "categorical", "ids": "integer"},
      {"name": "w", "role": "weight"},
      {"name": "note", "role": "ignore"}
    ]})";
  ctrnet::DelimitedSchema s = ctrnet::DelimitedSchema::from_json(nlohmann::json::parse(text));
  s.trim = trim;
  s.dense_missing = trim ? ctrnet::DenseMissing::indicator : ctrnet::DenseMissing::nan;
  if (trim) s.columns[0].positive = {"yes"}, s.columns[0].negative = {"no"};
  return ctrnet::DelimitedParser(s);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ctrnet::DelimitedParser plain = make(false), trimmed = make(true);
  ctrnet::fuzz::run(data, size, size > 0 && (data[0] & 1) ? trimmed : plain);
  return 0;
}
