// Errors and the bad-lines policy shared by the text readers.
//
// A malformed line gives a ctrnet::Error whose message names the file (its path exactly as the
// caller gave it: not shortened to the base name, not made absolute), the 1-based line, the
// column, the offending text (at most ~40 bytes, non-printable bytes escaped as \xNN) and what
// was expected:
//     data/train.tsv:1042: column 'I3': expected an integer, got "abc"
// With BadLines::skip the line is dropped instead and counted by reason in a BadLineReport; a
// value is never changed to make a line fit.
#pragma once
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include "ctrnet/core/error.hpp"

namespace ctrnet {

/// What a reader does with a malformed line.
enum class BadLines {
  error,  ///< throw ctrnet::Error for the first malformed line (in file order)
  skip,   ///< drop the line, count it by reason in the BadLineReport
};

inline const char* to_string(BadLines b) { return b == BadLines::error ? "error" : "skip"; }

/// Parses "error" or "skip" (the `--bad-lines` option).
inline BadLines parse_bad_lines(std::string_view s) {
  if (s == "error") return BadLines::error;
  if (s == "skip") return BadLines::skip;
  detail::throw_error("bad-lines policy: expected \"error\" or \"skip\", got \"", s, "\"");
}

namespace detail {

/// `text` as a quoted-string body of at most `max_bytes` input bytes: printable ASCII is kept,
/// `"` and `\` are backslash-escaped, \t \r \n are written so, every other byte as \xNN, and
/// "..." marks a truncation.
inline std::string escape_excerpt(std::string_view text, std::size_t max_bytes = 40) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = text.size() < max_bytes ? text.size() : max_bytes;
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (n < text.size()) out += "...";
  return out;
}

}  // namespace detail

/// \brief What is wrong with one line, as found by a parser (no allocation until it is kept).
/// `reason` is a short fixed key used to count skipped lines ("wrong field count", ...).
struct LineIssue {
  const char* reason = nullptr;    ///< nullptr: no issue
  std::string column;              ///< column / field name, e.g. "I3" or "3" (may be empty)
  std::string text;                ///< the offending text, already cut to a short excerpt
  std::string expected;            ///< e.g. "an integer", "40 tab-separated fields"

  explicit operator bool() const { return reason != nullptr; }
  void set(const char* why, std::string_view col, std::string_view bad_text, std::string_view what) {
    reason = why;
    column.assign(col);
    text.assign(bad_text.substr(0, bad_text.size() < 64 ? bad_text.size() : 64));
    expected.assign(what);
  }
  void clear() { reason = nullptr; }
};

/// The full error message for an issue on line `line` (1-based) of `path`; `path` is printed
/// as given (the path the user typed), so the message names the one file it is about.
inline std::string format_line_issue(std::string_view path, std::int64_t line, const LineIssue& issue) {
  std::ostringstream os;
  os << path << ':' << line << ": ";
  if (!issue.column.empty()) os << "column '" << issue.column << "': ";
  os << "expected " << issue.expected << ", got \"" << detail::escape_excerpt(issue.text) << '"';
  return os.str();
}

/// Throws the ctrnet::Error for an issue on line `line` of `path`.
[[noreturn]] inline void throw_line_issue(std::string_view path, std::int64_t line, const LineIssue& issue) {
  throw Error(format_line_issue(path, line, issue));
}

/// \brief Lines a reader skipped (BadLines::skip), counted by reason, with the first message of
/// each reason kept as an example; and the blank lines it passed over (never an example).
class BadLineReport {
 public:
  void add(const char* reason, std::string message) {
    auto& r = reasons_[reason];
    if (r.count == 0) r.first_message = std::move(message);
    ++r.count;
    ++skipped_;
  }
  void add_blank(std::int64_t n = 1) { blank_ += n; }
  void merge(const BadLineReport& o) {
    for (const auto& [k, v] : o.reasons_) {
      auto& r = reasons_[k];
      if (r.count == 0) r.first_message = v.first_message;
      r.count += v.count;
    }
    skipped_ += o.skipped_;
    blank_ += o.blank_;
  }
  void clear() { *this = BadLineReport{}; }

  std::int64_t skipped() const { return skipped_; }
  std::int64_t blank_lines() const { return blank_; }
  /// Skipped lines for one reason (0 if none).
  std::int64_t count(std::string_view reason) const {
    const auto it = reasons_.find(std::string(reason));
    return it == reasons_.end() ? 0 : it->second.count;
  }
  struct Reason {
    std::int64_t count = 0;
    std::string first_message;
  };
  const std::map<std::string, Reason>& reasons() const { return reasons_; }

  /// One line per reason: "skipped 3 lines: non-numeric dense value (first: train.tsv:7: ...)".
  std::string summary() const {
    std::ostringstream os;
    os << "skipped " << skipped_ << " bad line" << (skipped_ == 1 ? "" : "s");
    for (const auto& [k, v] : reasons_) os << "\n  " << v.count << " x " << k << " (first: " << v.first_message << ')';
    return os.str();
  }

 private:
  std::map<std::string, Reason> reasons_;
  std::int64_t skipped_ = 0;
  std::int64_t blank_ = 0;
};

}  // namespace ctrnet
