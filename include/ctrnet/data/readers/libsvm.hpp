// libsvm / libFM text: one example per line, `label idx:val idx:val ...`, or with field prefixes
// (libFFM) `label field:idx:val ...`, separated by spaces or tabs. Two layouts:
//   sparse: the indices become ids of a multi-hot field ("features", or "field_<f>" per field
//           with num_fields > 0), checked against [0, num_features); values must be 1 (binary
//           features) unless `drop_values` is set, which documents that values are ignored.
//           libFFM: each field_<f> has its OWN embedding table ("embedding.field_<f>",
//           num_features rows each): a field-aware model learns per-field embeddings, and the
//           preprocessing (data/preprocess.hpp: a vocabulary or hash per field) gives fields
//           different sizes, which one shared table could not hold. A file whose indices are
//           global (libffm's convention) then gives each field num_features rows before
//           preprocessing; preprocess (or set num_features) to keep the tables small.
//   dense:  num_features dense columns x0..x{n-1}; a value goes to column idx, absent ones are 0
// Labels are kept as written (LibsvmLabels::raw) or mapped {+1, 1} -> 1, {0, -1} -> 0 (binary:
// the explicit opt-in for the conventional -1/+1 labels). For a binary model read raw labels with
// ReaderOptions::labels = LabelCheck::binary: a -1, 2 or 0.5 is then an error naming path:line.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/data/readers/reader.hpp"
#include "ctrnet/data/readers/text.hpp"

namespace ctrnet {

enum class LibsvmLayout { sparse, dense };
enum class LibsvmLabels { raw, binary };

struct LibsvmOptions {
  LibsvmLayout layout = LibsvmLayout::sparse;
  index_t num_features = 0;   ///< indices lie in [0, num_features); read_libsvm scans the file when 0
  index_t num_fields = 0;     ///< > 0: tokens are field:idx:val with field in [0, num_fields)
  LibsvmLabels labels = LibsvmLabels::raw;
  bool drop_values = false;   ///< sparse layout: accept values other than 1 and ignore them
  index_t embedding_dim = 0;
};

/// \brief Parses one libsvm / libFM line into a Batch row (a LineParser for TextReader).
class LibsvmParser {
 public:
  explicit LibsvmParser(LibsvmOptions opt) : opt_(opt) {
    CTRNET_CHECK(opt_.num_features > 0, "libsvm: num_features must be positive (1 + the largest index), got ",
                 opt_.num_features, "; read_libsvm finds it by scanning the file");
    CTRNET_CHECK(opt_.num_fields >= 0, "libsvm: num_fields must be >= 0, got ", opt_.num_fields);
    if (opt_.layout == LibsvmLayout::dense) {
      for (index_t i = 0; i < opt_.num_features; ++i) schema_.add_dense("x" + std::to_string(i));
      return;
    }
    const index_t nf = opt_.num_fields > 0 ? opt_.num_fields : 1;
    for (index_t f = 0; f < nf; ++f) {
      Field fld;
      fld.name = opt_.num_fields > 0 ? "field_" + std::to_string(f) : std::string("features");
      fld.kind = FieldKind::multi_hot;
      fld.vocab_size = opt_.num_features;
      fld.embedding_dim = opt_.embedding_dim;
      // One table per field (see the header comment): fields of different sizes train.
      schema_.add(std::move(fld));
    }
  }

  const Schema& schema() const { return schema_; }
  const LibsvmOptions& options() const { return opt_; }

  LineStatus parse(std::string_view line, std::int64_t /*line_number*/, Batch& out, LineIssue& issue) const {
    std::size_t pos = 0;
    std::string_view tok;
    if (!next_token(line, pos, tok)) return LineStatus::blank;
    float label;
    if (!parse_label(tok, label, issue)) return LineStatus::bad;
    const RowMark mark(out);
    const bool dense = opt_.layout == LibsvmLayout::dense;
    if (dense) out.dense_values.resize(out.dense_values.size() + static_cast<std::size_t>(opt_.num_features), 0.0f);
    float* row = dense ? out.dense_values.data() + (out.dense_values.size() - static_cast<std::size_t>(opt_.num_features))
                       : nullptr;
    thread_local std::vector<std::uint8_t> seen;
    if (dense) seen.assign(static_cast<std::size_t>(opt_.num_features), 0);
    while (next_token(line, pos, tok)) {
      const std::size_t c1 = tok.find(':');
      const std::size_t c2 = c1 == std::string_view::npos ? c1 : tok.find(':', c1 + 1);
      std::string_view field_s, idx_s, val_s;
      if (opt_.num_fields > 0) {
        if (c2 == std::string_view::npos || tok.find(':', c2 + 1) != std::string_view::npos) {
          issue.set("bad feature token", "", tok, "field:index:value");
          return mark.rollback(out), LineStatus::bad;
        }
        field_s = tok.substr(0, c1);
        idx_s = tok.substr(c1 + 1, c2 - c1 - 1);
        val_s = tok.substr(c2 + 1);
      } else {
        if (c1 == std::string_view::npos || c2 != std::string_view::npos) {
          issue.set("bad feature token", "", tok, "index:value (set num_fields for field:index:value)");
          return mark.rollback(out), LineStatus::bad;
        }
        idx_s = tok.substr(0, c1);
        val_s = tok.substr(c1 + 1);
      }
      std::int64_t field = 0, idx;
      if (opt_.num_fields > 0 && (!detail::parse_int64(field_s, field) || field < 0 || field >= opt_.num_fields)) {
        issue.set("bad field", "field", tok, "a field in [0, " + std::to_string(opt_.num_fields) + ")");
        return mark.rollback(out), LineStatus::bad;
      }
      if (!detail::parse_int64(idx_s, idx) || idx < 0 || idx >= opt_.num_features) {
        issue.set("bad index", "index", tok, "an index in [0, " + std::to_string(opt_.num_features) + ")");
        return mark.rollback(out), LineStatus::bad;
      }
      float v;
      if (!detail::parse_float(val_s, v)) {
        issue.set("bad value", "value", tok, "a finite number after the last ':'");
        return mark.rollback(out), LineStatus::bad;
      }
      if (dense) {
        if (seen[static_cast<std::size_t>(idx)]) {
          issue.set("repeated index", "index", tok, "each index at most once per line");
          return mark.rollback(out), LineStatus::bad;
        }
        seen[static_cast<std::size_t>(idx)] = 1;
        row[idx] = v;
      } else {
        if (v != 1.0f && !opt_.drop_values) {
          issue.set("non-binary value", "value", tok, "the value 1 (sparse layout; use the dense layout or drop_values)");
          return mark.rollback(out), LineStatus::bad;
        }
        out.ids[static_cast<std::size_t>(field)].push_back(idx);
      }
    }
    for (std::size_t f = 0; f < out.ids.size(); ++f) out.offsets[f].push_back(static_cast<index_t>(out.ids[f].size()));
    out.labels.push_back(label);
    return LineStatus::row;
  }

  /// Splits at runs of spaces and tabs: the next token from `pos`, or false at the end.
  static bool next_token(std::string_view line, std::size_t& pos, std::string_view& tok) {
    const std::size_t n = line.size();
    while (pos < n && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos >= n) return false;
    const std::size_t b = pos;
    while (pos < n && line[pos] != ' ' && line[pos] != '\t') ++pos;
    tok = line.substr(b, pos - b);
    return true;
  }

 private:
  bool parse_label(std::string_view tok, float& label, LineIssue& issue) const {
    if (opt_.labels == LibsvmLabels::raw) {
      if (detail::parse_float(tok, label)) return true;
      issue.set("bad label", "label", tok, "a number");
      return false;
    }
    if (tok == "1" || tok == "+1") return label = 1.0f, true;
    if (tok == "0" || tok == "-1") return label = 0.0f, true;
    issue.set("bad label", "label", tok, "+1, 1, 0 or -1 (binary labels)");
    return false;
  }

  LibsvmOptions opt_;
  Schema schema_;
};

using LibsvmReader = TextReader<LibsvmParser>;

/// The largest index and field seen in a libsvm file, +1 (a tolerant pass: malformed tokens are
/// left for the parser to report).
struct LibsvmDims {
  index_t num_features = 0;
  index_t num_fields = 0;
};
inline LibsvmDims scan_libsvm(const std::string& path, LineSourceOptions sopt = {}) {
  LibsvmDims d;
  LineSource src(path, sopt);
  LineChunk chunk;
  while (src.next(chunk))
    for (index_t i = 0; i < chunk.size(); ++i) {
      const std::string_view line = chunk.line(i);
      std::size_t pos = 0;
      std::string_view tok;
      if (!LibsvmParser::next_token(line, pos, tok)) continue;  // label
      while (LibsvmParser::next_token(line, pos, tok)) {
        const std::size_t c1 = tok.find(':');
        if (c1 == std::string_view::npos) continue;
        const std::size_t c2 = tok.find(':', c1 + 1);
        std::int64_t v;
        if (c2 == std::string_view::npos) {
          if (detail::parse_int64(tok.substr(0, c1), v) && v >= 0 && v < INT64_MAX) d.num_features = std::max<index_t>(d.num_features, v + 1);
        } else {
          if (detail::parse_int64(tok.substr(0, c1), v) && v >= 0 && v < INT64_MAX) d.num_fields = std::max<index_t>(d.num_fields, v + 1);
          if (detail::parse_int64(tok.substr(c1 + 1, c2 - c1 - 1), v) && v >= 0 && v < INT64_MAX)
            d.num_features = std::max<index_t>(d.num_features, v + 1);
        }
      }
    }
  return d;
}

/// Opens a libsvm / libFM file for streaming (`next_batch`); options.num_features must be set.
inline LibsvmReader open_libsvm(const std::string& path, LibsvmOptions opt, ReaderOptions ropt = {}) {
  return LibsvmReader(path, LibsvmParser(opt), ropt);
}

/// Reads a whole libsvm / libFM file. With num_features == 0 the file is scanned first and
/// num_features (and num_fields, when the file has field prefixes and it is 0) set from it.
inline ReadResult read_libsvm(const std::string& path, LibsvmOptions opt = {}, ReaderOptions ropt = {}) {
  if (opt.num_features == 0) {
    const LibsvmDims d = scan_libsvm(path, ropt.source);
    opt.num_features = std::max<index_t>(d.num_features, 1);
    if (opt.num_fields == 0) opt.num_fields = d.num_fields;
  }
  return open_libsvm(path, opt, ropt).read_all();
}

}  // namespace ctrnet
