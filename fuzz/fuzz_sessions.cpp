// libFuzzer target: the session-log reader (data/readers/sessions.hpp) with integer and hashed
// ids, under both bad-lines policies. Accepts only a clean read or ctrnet::Error (and no error at
// all with BadLines::skip); every event is accounted for.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ctrnet/data/readers/sessions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ctrnet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (BadLines policy : {BadLines::error, BadLines::skip}) {
    SessionLogOptions o;
    o.bad_lines = policy;
    o.hash_ids = size > 0 && (data[0] & 1);
    o.action_column = size > 0 && (data[0] & 2) ? 3 : -1;
    o.source.chunk_bytes = 64;
    try {
      const SessionLog log = read_session_log(LineSource::from_memory(text, "fuzz", o.source), o);
      const auto sessions = log.sessions();
      std::size_t events = 0;
      for (const auto& s : sessions) events += s.items.size();
      if (events != log.events.size()) __builtin_trap();
      if (static_cast<std::int64_t>(log.events.size()) + log.report.skipped() + log.report.blank_lines() != log.lines)
        __builtin_trap();
    } catch (const Error&) {
      if (policy == BadLines::skip) __builtin_trap();
    }
  }
  return 0;
}
