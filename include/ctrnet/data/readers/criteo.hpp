// Criteo display-advertising TSV (Kaggle / Terabyte layout): one example per line, 40 tab-separated
// fields: label (0 or 1), I1..I13 (integers, may be negative or empty), C1..C26 (8 hex digits, may
// be empty). Output schema: dense I1..I13 (then I1_missing..I13_missing with
// DenseMissing::indicator), categorical C1..C26 hashed into `hash_buckets` rows each.
//   dense:       the integer as a float; empty -> 0 (or NaN, see DenseMissing)
//   categorical: raw id = the hex value in [0, 2^32); empty -> kMissingId (an id of its own)
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "ctrnet/data/readers/reader.hpp"
#include "ctrnet/data/readers/text.hpp"

namespace ctrnet {

struct CriteoOptions {
  index_t hash_buckets = 1000000;  ///< rows of each C field's table
  std::uint64_t hash_seed = 0;     ///< seed of the schema's hash (IdMapper)
  index_t embedding_dim = 0;       ///< 0: the model's default
  DenseMissing dense_missing = DenseMissing::zero;
};

/// \brief Parses one Criteo TSV line into a Batch row (a LineParser for TextReader).
class CriteoParser {
 public:
  static constexpr int kDense = 13;
  static constexpr int kCategorical = 26;
  static constexpr int kFields = 1 + kDense + kCategorical;

  explicit CriteoParser(CriteoOptions opt = {}) : opt_(opt) {
    CTRNET_CHECK(opt_.hash_buckets > 0, "criteo: hash_buckets must be positive, got ", opt_.hash_buckets);
    for (int i = 0; i < kDense; ++i) schema_.add_dense(dense_name(i));
    if (opt_.dense_missing == DenseMissing::indicator)
      for (int i = 0; i < kDense; ++i) schema_.add_dense(name_of('I', i, "_missing"));
    for (int i = 0; i < kCategorical; ++i)
      schema_.add_hashed(cat_name(i), opt_.hash_buckets, opt_.hash_seed, opt_.embedding_dim);
  }

  const Schema& schema() const { return schema_; }
  const CriteoOptions& options() const { return opt_; }

  LineStatus parse(std::string_view line, std::int64_t /*line_number*/, Batch& out, LineIssue& issue) const {
    if (line.empty()) return LineStatus::blank;
    Row row;
    if (!parse_fast(line, row) && !parse_checked(line, row, issue)) return LineStatus::bad;
    commit(row, out);
    return LineStatus::row;
  }

 private:
  struct Row {
    float label = 0;
    float dense[kDense];
    float missing[kDense];
    FeatureId cat[kCategorical];
  };

  // The common case in one pass over the bytes: plain digits (at most 18, optional '-'),
  // exactly 8 hex digits, empty fields. Anything else returns false and parse_checked decides
  // (and explains).
  bool parse_fast(std::string_view line, Row& row) const {
    const char* p = line.data();
    const char* const end = p + line.size();
    if (line.size() < 2 || (p[0] != '0' && p[0] != '1') || p[1] != '\t') return false;
    row.label = p[0] == '1' ? 1.0f : 0.0f;
    p += 2;
    const float missing_value = opt_.dense_missing == DenseMissing::nan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    for (int d = 0; d < kDense; ++d) {
      if (p >= end) return false;
      if (*p == '\t') {
        row.dense[d] = missing_value;
        row.missing[d] = 1.0f;
        ++p;
        continue;
      }
      const bool neg = *p == '-';
      p += neg;
      const char* digits = p;
      std::int64_t v = 0;  // at most 18 digits: no overflow; longer numbers take the checked path
      while (p < end && p - digits < 18 && static_cast<unsigned>(*p - '0') < 10u) v = v * 10 + (*p++ - '0');
      if (p == digits || p - digits > 18 || p >= end || *p != '\t') return false;
      ++p;
      row.dense[d] = static_cast<float>(neg ? -v : v);
      row.missing[d] = 0.0f;
    }
    for (int c = 0; c < kCategorical; ++c) {
      const bool last = c == kCategorical - 1;
      if (p == end || *p == '\t') {
        if (p == end && !last) return false;
        row.cat[c] = kMissingId;
        p += p < end;
        if (last && p != end) return false;
        continue;
      }
      if (end - p < 8) return false;
      std::uint64_t h = 0;
      for (int k = 0; k < 8; ++k) {
        const int v = hex_value(static_cast<unsigned char>(p[k]));
        if (v < 0) return false;
        h = (h << 4) | static_cast<std::uint64_t>(v);
      }
      p += 8;
      if (last ? p != end : (p >= end || *p != '\t')) return false;
      p += !last;
      row.cat[c] = static_cast<FeatureId>(h);
    }
    return true;
  }

  static int hex_value(unsigned char c) {
    if (static_cast<unsigned>(c - '0') < 10u) return c - '0';
    const unsigned l = c | 0x20u;  // lower case
    if (l - 'a' < 6u) return static_cast<int>(l - 'a' + 10);
    return -1;
  }

  void commit(const Row& row, Batch& out) const {
    out.dense_values.insert(out.dense_values.end(), row.dense, row.dense + kDense);
    if (opt_.dense_missing == DenseMissing::indicator)
      out.dense_values.insert(out.dense_values.end(), row.missing, row.missing + kDense);
    for (int c = 0; c < kCategorical; ++c) {
      auto& ids = out.ids[static_cast<std::size_t>(c)];
      ids.push_back(row.cat[c]);
      out.offsets[static_cast<std::size_t>(c)].push_back(static_cast<index_t>(ids.size()));
    }
    out.labels.push_back(row.label);
  }

  // Field by field, with an exact LineIssue for the first problem.
  bool parse_checked(std::string_view line, Row& row, LineIssue& issue) const {
    float& label = row.label;
    float* dense = row.dense;
    float* missing = row.missing;
    FeatureId* cat = row.cat;
    const char* p = line.data();
    const char* const end = p + line.size();
    int field = 0;
    while (true) {
      const void* tab = std::memchr(p, '\t', static_cast<std::size_t>(end - p));
      const char* q = tab ? static_cast<const char*>(tab) : end;
      const std::string_view tok(p, static_cast<std::size_t>(q - p));
      if (field >= kFields) return wrong_count(line, issue);
      if (field == 0) {
        if (tok == "0") label = 0.0f;
        else if (tok == "1") label = 1.0f;
        else return issue.set("bad label", "label", tok, "0 or 1"), false;
      } else if (field <= kDense) {
        const int d = field - 1;
        if (tok.empty()) {
          dense[d] = opt_.dense_missing == DenseMissing::nan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
          missing[d] = 1.0f;
        } else {
          std::int64_t v;
          if (!detail::parse_int64(tok, v))
            return issue.set("non-numeric dense value", dense_name(d), tok, "an integer or an empty field"),
                   false;
          dense[d] = static_cast<float>(v);
          missing[d] = 0.0f;
        }
      } else {
        const int c = field - 1 - kDense;
        if (tok.empty()) {
          cat[c] = kMissingId;
        } else {
          std::uint64_t h;
          if (tok.size() != 8 || !detail::parse_hex(tok, h))
            return issue.set("bad categorical hash", cat_name(c), tok, "8 hex digits or an empty field"),
                   false;
          cat[c] = static_cast<FeatureId>(h);
        }
      }
      ++field;
      if (q == end) break;
      p = q + 1;
    }
    if (field != kFields) return wrong_count(line, issue, field);
    return true;
  }

  // "I3", "C26", "I1_missing" (0-based i).
  static std::string name_of(char prefix, int i, const char* suffix = "") {
    std::string s(1, prefix);
    s += std::to_string(i + 1);
    s += suffix;
    return s;
  }
  static std::string dense_name(int d) { return name_of('I', d); }
  static std::string cat_name(int c) { return name_of('C', c); }
  static bool wrong_count(std::string_view line, LineIssue& issue, int got = -1) {
    std::string what = "40 tab-separated fields (label, I1..I13, C1..C26), found ";
    what += got < 0 ? std::string("more") : std::to_string(got);
    issue.set("wrong field count", "", line, what);
    return false;
  }

  CriteoOptions opt_;
  Schema schema_;
};

using CriteoReader = TextReader<CriteoParser>;

/// Opens a Criteo TSV file for streaming (`next_batch`).
inline CriteoReader open_criteo(const std::string& path, CriteoOptions opt = {}, ReaderOptions ropt = {}) {
  return CriteoReader(path, CriteoParser(opt), ropt);
}

/// Reads a whole Criteo TSV file into memory.
inline ReadResult read_criteo(const std::string& path, CriteoOptions opt = {}, ReaderOptions ropt = {}) {
  return open_criteo(path, opt, ropt).read_all();
}

}  // namespace ctrnet
