// LineSource: streams a text file (or a memory buffer) as chunks of whole lines. It reads in
// large blocks, splits at '\n', drops a '\r' before it (CRLF files), returns a last line that has
// no newline, and tracks 1-based line numbers. A line may be longer than a block (the chunk grows
// until the line ends); `max_line_bytes` bounds it so a file without newlines cannot take all
// memory.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/core/types.hpp"

namespace ctrnet {

/// \brief Whole lines read in one go: line i is `line(i)` (without '\n' or a trailing '\r') and
/// has 1-based number `first_line + i` in its file.
struct LineChunk {
  std::string buffer;                                 ///< the bytes of the lines
  std::vector<std::pair<std::size_t, std::size_t>> spans;  ///< (begin, length) in `buffer`
  std::int64_t first_line = 1;

  index_t size() const { return static_cast<index_t>(spans.size()); }
  bool empty() const { return spans.empty(); }
  std::string_view line(index_t i) const {
    const auto& s = spans[static_cast<std::size_t>(i)];
    return {buffer.data() + s.first, s.second};
  }
  std::int64_t line_number(index_t i) const { return first_line + i; }
};

struct LineSourceOptions {
  std::size_t chunk_bytes = std::size_t(8) << 20;        ///< bytes read per chunk (about)
  std::size_t max_line_bytes = std::size_t(256) << 20;   ///< longer lines are an error
};

/// \brief Reads a file or a memory buffer as LineChunks. Not thread-safe; parse the chunks in
/// parallel (see parallel_parse.hpp).
class LineSource {
 public:
  /// Opens `path`; throws ctrnet::Error naming the file if it cannot be opened.
  explicit LineSource(std::string path, LineSourceOptions opt = {}) : path_(std::move(path)), opt_(opt) {
    CTRNET_CHECK(opt_.chunk_bytes > 0, "line source: chunk_bytes must be positive");
    file_.reset(std::fopen(path_.c_str(), "rb"));
    CTRNET_CHECK(file_ != nullptr, "cannot open '", path_, "': ", std::strerror(errno));
  }
  /// Reads `text` (which must outlive the source); `name` stands for the file name in messages.
  static LineSource from_memory(std::string_view text, std::string name = "<memory>", LineSourceOptions opt = {}) {
    LineSource s;
    s.path_ = std::move(name);
    s.opt_ = opt;
    s.mem_ = text;
    s.in_memory_ = true;
    return s;
  }

  LineSource(LineSource&&) noexcept = default;
  LineSource& operator=(LineSource&&) noexcept = default;

  const std::string& path() const { return path_; }
  /// Lines returned so far.
  std::int64_t lines_read() const { return next_line_ - 1; }
  /// Bytes consumed so far (including line ends).
  std::uint64_t bytes_read() const { return bytes_; }
  bool done() const { return eof_ && carry_.empty(); }

  /// Starts again at the first line.
  void rewind() {
    if (file_) {
      std::rewind(file_.get());
      std::clearerr(file_.get());
    }
    mem_pos_ = 0;
    eof_ = false;
    carry_.clear();
    next_line_ = 1;
    bytes_ = 0;
  }

  /// Fills `out` with the next whole lines (about `chunk_bytes` of them, at least one line when
  /// any is left). Returns false, with `out` empty, when the input is exhausted.
  bool next(LineChunk& out) {
    out.spans.clear();
    out.first_line = next_line_;
    out.buffer.assign(carry_);  // keeps out.buffer's capacity: no new pages per chunk
    carry_.clear();
    std::size_t scanned = 0;  // bytes of out.buffer already known to hold no '\n'
    std::size_t end = std::string::npos;  // one past the last '\n' in the buffer
    while (true) {
      if (out.buffer.size() > scanned) {
        const char* b = out.buffer.data();
        for (std::size_t i = out.buffer.size(); i > scanned; --i)
          if (b[i - 1] == '\n') {
            end = i;
            break;
          }
        scanned = out.buffer.size();
      }
      if (end != std::string::npos && out.buffer.size() >= opt_.chunk_bytes) break;
      if (eof_) break;
      // A line longer than the limit (no '\n' since the last one) is an error.
      const std::size_t open_line = end == std::string::npos ? out.buffer.size() : out.buffer.size() - end;
      if (open_line > opt_.max_line_bytes)
        detail::throw_error(path_, ':', next_line_ + count_newlines(out.buffer, end), ": line is longer than ",
                            opt_.max_line_bytes, " bytes (LineSourceOptions::max_line_bytes)");
      read_block(out.buffer);
    }
    if (end == std::string::npos) end = eof_ ? out.buffer.size() : 0;  // eof: the last line has no '\n'
    if (end < out.buffer.size()) carry_.assign(out.buffer, end, std::string::npos);
    out.buffer.resize(end);
    bytes_ += end;
    split(out);
    next_line_ += out.size();
    return !out.empty();
  }

 private:
  LineSource() = default;

  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  static std::int64_t count_newlines(const std::string& s, std::size_t end) {
    if (end == std::string::npos) return 0;
    std::int64_t n = 0;
    for (std::size_t i = 0; i < end; ++i) n += s[i] == '\n';
    return n;
  }

  void read_block(std::string& buf) {
    const std::size_t want = opt_.chunk_bytes < (std::size_t(1) << 20) ? opt_.chunk_bytes : (std::size_t(1) << 20);
    const std::size_t block = want > opt_.chunk_bytes / 4 ? want : opt_.chunk_bytes / 4;
    if (in_memory_) {
      const std::size_t n = mem_.size() - mem_pos_ < block ? mem_.size() - mem_pos_ : block;
      buf.append(mem_.data() + mem_pos_, n);
      mem_pos_ += n;
      if (mem_pos_ == mem_.size()) eof_ = true;
      return;
    }
    const std::size_t old = buf.size();
    buf.resize(old + block);
    const std::size_t got = std::fread(buf.data() + old, 1, block, file_.get());
    buf.resize(old + got);
    if (got < block) {
      CTRNET_CHECK(!std::ferror(file_.get()), "error reading '", path_, "': ", std::strerror(errno));
      eof_ = true;
    }
  }

  // Splits out.buffer at '\n' (the buffer ends with '\n' unless it holds the file's last line).
  static void split(LineChunk& out) {
    const char* b = out.buffer.data();
    const std::size_t n = out.buffer.size();
    std::size_t pos = 0;
    while (pos < n) {
      const void* nl = std::memchr(b + pos, '\n', n - pos);
      const std::size_t stop = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - b) : n;
      std::size_t len = stop - pos;
      if (len > 0 && b[pos + len - 1] == '\r') --len;  // CRLF
      out.spans.emplace_back(pos, len);
      pos = stop + 1;
    }
  }

  std::string path_;
  LineSourceOptions opt_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string_view mem_;
  std::size_t mem_pos_ = 0;
  bool in_memory_ = false;
  bool eof_ = false;
  std::string carry_;
  std::int64_t next_line_ = 1;
  std::uint64_t bytes_ = 0;
};

}  // namespace ctrnet
