// Shared body of the libFuzzer targets: feeds the input to a reader as an in-memory file, under
// both bad-lines policies and with small chunks (so lines cross chunk borders), and accepts only
// a clean parse or ctrnet::Error. Anything else (a crash, a sanitizer report, another exception)
// is a bug.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ctrnet/data/readers/reader.hpp"

namespace ctrnet::fuzz {

template <class Parser>
void run(const std::uint8_t* data, std::size_t size, const Parser& parser) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (BadLines policy : {BadLines::error, BadLines::skip}) {
    ReaderOptions ro;
    ro.bad_lines = policy;
    ro.threads = 1;
    ro.block_lines = 3;
    ro.source.chunk_bytes = 64;
    TextReader<Parser> reader(LineSource::from_memory(text, "fuzz", ro.source), parser, ro);
    try {
      Batch b;
      std::int64_t rows = 0;
      while (reader.next_batch(b, 5) > 0) rows += b.size();
      if (rows + reader.report().skipped() + reader.report().blank_lines() != reader.lines_read()) __builtin_trap();
    } catch (const Error&) {
      if (policy == BadLines::skip) __builtin_trap();  // skip never throws for a bad line
    }
  }
}

}  // namespace ctrnet::fuzz
