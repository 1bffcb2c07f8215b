// Token-level helpers of the text readers: strict number parsing (the whole token must be a
// number), 8-hex-digit hashes, UTF-8 validation, and the documented 64-bit id of a string token.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <system_error>

#include "ctrnet/core/types.hpp"

namespace ctrnet {

/// The raw id of a missing categorical value: one id of its own, distinct from every id a
/// reader produces for a present value (those are >= 0).
inline constexpr FeatureId kMissingId = std::numeric_limits<FeatureId>::min();

/// How a reader stores a missing dense value.
enum class DenseMissing {
  zero,       ///< 0
  nan,        ///< quiet NaN, so preprocessing can treat it as missing (see preprocess.hpp)
  indicator,  ///< 0, plus a dense 0/1 column "<name>_missing" per dense field
};

inline const char* to_string(DenseMissing m) {
  switch (m) {
    case DenseMissing::zero: return "zero";
    case DenseMissing::nan: return "nan";
    case DenseMissing::indicator: return "indicator";
  }
  return "?";
}

/// \brief The raw id of a string token: 64-bit FNV-1a of its bytes, top bit cleared so every
/// present token has an id >= 0 (kMissingId is negative).
///   h = 0xcbf29ce484222325; for each byte c: h = (h ^ c) * 0x100000001b3; id = h & (2^63 - 1)
inline FeatureId token_id(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return static_cast<FeatureId>(h & 0x7fffffffffffffffull);
}

namespace detail {

/// A decimal integer with an optional sign, nothing else; false on overflow or any other byte.
inline bool parse_int64(std::string_view s, std::int64_t& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;  // from_chars rejects '+'
  if (b == e || *b == '+') return false;
  const auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e;
}

/// A finite decimal floating-point number (integers, 1.5, -2e-3); false for "nan", "inf",
/// empty or trailing bytes. Values beyond float range are rejected too.
inline bool parse_float(std::string_view s, float& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e || *b == '+') return false;
  double v = 0;
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e || !std::isfinite(v)) return false;
  if (std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) return false;
  out = static_cast<float>(v);
  return true;
}

/// 1 to 16 hex digits (either case) into an unsigned 64-bit value.
inline bool parse_hex(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 16) return false;
  std::uint64_t v = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    std::uint64_t d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | d;
  }
  out = v;
  return true;
}

/// Index of the first byte that is not part of valid UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), or npos when `s` is valid.
inline std::size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

/// `s` without leading and trailing spaces and tabs.
inline std::string_view trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

inline bool is_blank(std::string_view s) { return trim(s).empty(); }

}  // namespace detail
}  // namespace ctrnet
