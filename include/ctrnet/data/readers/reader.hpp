// TextReader: the streaming, parallel driver shared by the line-based readers (Criteo, delimited,
// libsvm). A LineSource yields chunks of whole lines; each chunk is cut into blocks of a FIXED
// number of lines, the blocks are parsed on oneTBB (tbb::parallel_for over blocks), and the
// blocks' rows are concatenated in file order. The output therefore does not depend on the number
// of threads. `next_batch(batch, n)` streams files larger than memory; `read_all()` returns an
// InMemoryDataset for the Trainer.
//
// A line parser is a const, thread-safe object with
//   const Schema& schema() const;
//   LineStatus parse(std::string_view line, std::int64_t line_number, Batch& out, LineIssue&) const;
// that appends one example to `out` (LineStatus::row), or leaves `out` unchanged and says the line
// is not an example (LineStatus::blank: empty, comment or header line) or is malformed
// (LineStatus::bad, with the LineIssue filled in). A parser may also have
//   std::string label_column() const;   // the label's column name, for messages
// ReaderOptions::labels = LabelCheck::binary makes any label other than 0 or 1 a malformed line
// (path:line, the label column, the value and what was expected), for binary models.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/batch.hpp"
#include "ctrnet/data/dataset.hpp"
#include "ctrnet/data/readers/line_source.hpp"
#include "ctrnet/data/readers/parse_error.hpp"
#include "ctrnet/data/schema.hpp"

namespace ctrnet {

enum class LineStatus { row, blank, bad };

template <class P>
concept LineParser = requires(const P& p, std::string_view line, std::int64_t n, Batch& b, LineIssue& issue) {
  { p.schema() } -> std::convertible_to<const Schema&>;
  { p.parse(line, n, b, issue) } -> std::same_as<LineStatus>;
};

/// Which labels a reader accepts (beyond what the format itself requires).
enum class LabelCheck {
  any,     ///< any number the format allows (regression, counts, ...)
  binary,  ///< 0 or 1 only (binary classification): another value is a malformed line
};

/// Options every text reader takes.
struct ReaderOptions {
  BadLines bad_lines = BadLines::error;
  LabelCheck labels = LabelCheck::any;  ///< binary: a label other than 0 or 1 is a malformed line
  int threads = 0;                  ///< parser threads; 0: every core oneTBB sees
  LineSourceOptions source{};       ///< chunk size, longest line allowed
  index_t block_lines = 512;        ///< lines per parallel task (fixed: keeps the output order)
};

/// \brief What `read_all` returns: the data set (schema + every example), the skipped-lines
/// report, and how much input was read.
struct ReadResult {
  InMemoryDataset dataset;
  BadLineReport report;
  std::int64_t lines = 0;     ///< lines read, including blank and skipped ones
  std::uint64_t bytes = 0;    ///< bytes read
};

/// Appends rows [begin, begin + n) of `src` to `dst` (same schema shape). Weights: when only
/// one side has them, the other's rows count as weight 1.
inline void append_rows(Batch& dst, const Batch& src, index_t begin, index_t n) {
  if (n == 0) return;
  const index_t nd = src.num_dense();
  CTRNET_CHECK(dst.num_dense() == nd && dst.ids.size() == src.ids.size() && dst.targets.size() == src.targets.size(),
               "append_rows: batches of different shapes");
  const auto ub = static_cast<std::size_t>(begin), un = static_cast<std::size_t>(n);
  const index_t old_size = dst.size();
  dst.dense_values.insert(dst.dense_values.end(), src.dense_values.begin() + begin * nd,
                          src.dense_values.begin() + (begin + n) * nd);
  for (std::size_t f = 0; f < src.ids.size(); ++f) {
    const index_t b = src.offsets[f][ub], e = src.offsets[f][ub + un];
    const index_t base = static_cast<index_t>(dst.ids[f].size());
    dst.ids[f].insert(dst.ids[f].end(), src.ids[f].begin() + b, src.ids[f].begin() + e);
    for (std::size_t r = 1; r <= un; ++r) dst.offsets[f].push_back(src.offsets[f][ub + r] - b + base);
  }
  dst.labels.insert(dst.labels.end(), src.labels.begin() + begin, src.labels.begin() + begin + n);
  if (!src.weights.empty() || !dst.weights.empty()) {
    if (dst.weights.empty()) dst.weights.assign(static_cast<std::size_t>(old_size), 1.0f);
    if (src.weights.empty()) dst.weights.insert(dst.weights.end(), un, 1.0f);
    else dst.weights.insert(dst.weights.end(), src.weights.begin() + begin, src.weights.begin() + begin + n);
  }
  for (std::size_t t = 0; t < src.targets.size(); ++t)
    dst.targets[t].insert(dst.targets[t].end(), src.targets[t].begin() + begin, src.targets[t].begin() + begin + n);
  dst.set_size(old_size + n);
}

/// \brief Throws ctrnet::Error when `r` holds no example: an empty file, or one with only blank,
/// comment or header lines, or whose every line was skipped as malformed. `what` says what the
/// file is for ("training file", "--test file", ...), `path` is the file's full path.
inline void require_examples(const ReadResult& r, const std::string& path, std::string_view what = "file") {
  if (r.dataset.size() > 0) return;
  std::ostringstream os;
  os << what << " '" << path << "' holds no examples: ";
  if (r.lines == 0) {
    os << "the file is empty";
  } else {
    os << r.lines << " line" << (r.lines == 1 ? "" : "s") << " read, " << r.report.blank_lines()
       << " blank, comment or header line" << (r.report.blank_lines() == 1 ? "" : "s");
    if (r.report.skipped() > 0)
      os << ", " << r.report.skipped() << " malformed line" << (r.report.skipped() == 1 ? "" : "s")
         << " skipped (e.g. " << r.report.reasons().begin()->second.first_message << ")";
  }
  os << "; expected at least one example line";
  throw Error(os.str());
}

namespace detail {

/// The expected-text of a label that is not 0 or 1 under LabelCheck::binary.
inline std::string binary_label_expectation(float y) {
  std::string s = "a binary label 0 or 1";
  if (y == -1.0f)
    s += " (for -1/+1 labels map -1 to 0 explicitly: libsvm LibsvmLabels::binary, i.e. ctrnet-train / "
         "ctrnet-predict --labels pm1; csv: the label column's \"positive\" / \"negative\" tokens)";
  return s;
}

/// The label column's name for messages: the parser's label_column() if it has one, else "label".
template <class P>
std::string label_column_of(const P& p) {
  if constexpr (requires { { p.label_column() } -> std::convertible_to<std::string>; }) return p.label_column();
  else return "label";
}

}  // namespace detail

/// \brief Sizes of a Batch's vectors before a row is parsed, to undo a half-written row.
struct RowMark {
  std::size_t dense = 0, labels = 0, weights = 0;
  std::size_t ids[64];
  std::vector<std::size_t> more_ids;  // only for schemas with more than 64 categorical fields

  explicit RowMark(const Batch& b) : dense(b.dense_values.size()), labels(b.labels.size()), weights(b.weights.size()) {
    const std::size_t nf = b.ids.size();
    if (nf > 64) more_ids.resize(nf);
    std::size_t* p = nf > 64 ? more_ids.data() : ids;
    for (std::size_t f = 0; f < nf; ++f) p[f] = b.ids[f].size();
  }
  /// Undoes everything appended since the mark (offsets are one per row, so rows = labels).
  void rollback(Batch& b) const {
    b.dense_values.resize(dense);
    const std::size_t nf = b.ids.size();
    const std::size_t* p = nf > 64 ? more_ids.data() : ids;
    for (std::size_t f = 0; f < nf; ++f) {
      b.ids[f].resize(p[f]);
      b.offsets[f].resize(labels + 1);
    }
    b.labels.resize(labels);
    b.weights.resize(weights);
    for (auto& t : b.targets) t.resize(labels);
  }
};

/// \brief Parses LineChunks in parallel into rows of a Batch, in file order.
template <LineParser Parser>
class ChunkParser {
 public:
  ChunkParser(const Parser& parser, const ReaderOptions& opt)
      : parser_(&parser), opt_(opt), label_column_(detail::label_column_of(parser)) {
    CTRNET_CHECK(opt_.block_lines > 0, "reader: block_lines must be positive");
    CTRNET_CHECK(opt_.threads >= 0, "reader: threads must be >= 0, got ", opt_.threads);
    arena_ = opt_.threads > 0 ? std::make_unique<tbb::task_arena>(opt_.threads) : std::make_unique<tbb::task_arena>();
  }

  /// Parses every line of `chunk` and appends the rows to `out` in line order. Malformed lines:
  /// BadLines::error throws for the first one (in line order); skip counts them in `report`.
  void parse(const LineChunk& chunk, const std::string& path, Batch& out, BadLineReport& report) {
    const index_t n = chunk.size();
    const index_t nb = (n + opt_.block_lines - 1) / opt_.block_lines;
    if (static_cast<index_t>(blocks_.size()) < nb) blocks_.resize(static_cast<std::size_t>(nb));
    const Schema& schema = parser_->schema();
    const bool stop_at_first = opt_.bad_lines == BadLines::error;
    const bool binary_labels = opt_.labels == LabelCheck::binary;
    auto run_block = [&](index_t k) {
      Block& blk = blocks_[static_cast<std::size_t>(k)];
      if (blk.rows.num_dense() != schema.num_dense() || blk.rows.ids.size() != static_cast<std::size_t>(schema.num_categorical()))
        blk.rows.reset(schema);
      blk.rows.clear();
      blk.bad.clear();
      blk.blank = 0;
      const index_t b = k * opt_.block_lines, e = std::min(n, b + opt_.block_lines);
      LineIssue issue;
      for (index_t i = b; i < e; ++i) {
        issue.clear();
        std::optional<RowMark> mark;
        if (binary_labels) mark.emplace(blk.rows);
        LineStatus st = parser_->parse(chunk.line(i), chunk.line_number(i), blk.rows, issue);
        if (binary_labels && st == LineStatus::row) {
          const float y = blk.rows.labels.back();
          if (y != 0.0f && y != 1.0f) {  // checked where the line is known: path:line in the error
            mark->rollback(blk.rows);
            char text[32];
            std::snprintf(text, sizeof text, "%.9g", static_cast<double>(y));
            issue.set("non-binary label", label_column_, text, detail::binary_label_expectation(y));
            st = LineStatus::bad;
          }
        }
        if (st == LineStatus::blank) {
          ++blk.blank;
        } else if (st == LineStatus::bad) {
          if (!issue) issue.set("malformed line", "", chunk.line(i), "a well-formed line");
          blk.bad.emplace_back(chunk.line_number(i), issue);
          if (stop_at_first) break;
        }
      }
      blk.rows.set_size(static_cast<index_t>(blk.rows.labels.size()));
    };
    if (nb == 1) {
      run_block(0);
    } else {
      arena_->execute([&] {
        tbb::parallel_for(tbb::blocked_range<index_t>(0, nb, 1), [&](const tbb::blocked_range<index_t>& r) {
          for (index_t k = r.begin(); k < r.end(); ++k) run_block(k);
        });
      });
    }
    for (index_t k = 0; k < nb; ++k) {
      const Block& blk = blocks_[static_cast<std::size_t>(k)];
      if (!blk.bad.empty()) {
        if (stop_at_first) throw_line_issue(path, blk.bad.front().first, blk.bad.front().second);
        for (const auto& [line, issue] : blk.bad) report.add(issue.reason, format_line_issue(path, line, issue));
      }
      report.add_blank(blk.blank);
    }
    concat(nb, out);
  }

 private:
  // Appends the rows of blocks [0, nb) to `out` in block order; the copies run in parallel, each
  // block into its own slice (sizes from prefix sums), so the result is the serial one.
  void concat(index_t nb, Batch& out) {
    const std::size_t nf = out.ids.size();
    CTRNET_CHECK(out.targets.empty(), "reader: the output batch must not have targets");
    const auto r0 = static_cast<std::size_t>(out.size());
    const std::size_t nd = static_cast<std::size_t>(out.num_dense());
    rows_at_.assign(static_cast<std::size_t>(nb) + 1, 0);
    ids_at_.assign((static_cast<std::size_t>(nb) + 1) * nf, 0);
    bool weighted = !out.weights.empty();
    for (std::size_t f = 0; f < nf; ++f) ids_at_[f] = out.ids[f].size();
    for (index_t k = 0; k < nb; ++k) {
      const Block& blk = blocks_[static_cast<std::size_t>(k)];
      const auto uk = static_cast<std::size_t>(k);
      rows_at_[uk + 1] = rows_at_[uk] + static_cast<std::size_t>(blk.rows.size());
      for (std::size_t f = 0; f < nf; ++f) ids_at_[(uk + 1) * nf + f] = ids_at_[uk * nf + f] + blk.rows.ids[f].size();
      weighted = weighted || !blk.rows.weights.empty();
    }
    const std::size_t added = rows_at_[static_cast<std::size_t>(nb)];
    if (added == 0) return;
    out.dense_values.resize((r0 + added) * nd);
    out.labels.resize(r0 + added);
    if (weighted) out.weights.resize(r0 + added, 1.0f);  // rows before without weights count 1
    for (std::size_t f = 0; f < nf; ++f) {
      out.ids[f].resize(ids_at_[static_cast<std::size_t>(nb) * nf + f]);
      out.offsets[f].resize(r0 + added + 1);
    }
    auto copy_block = [&](index_t k) {
      const Batch& src = blocks_[static_cast<std::size_t>(k)].rows;
      const auto uk = static_cast<std::size_t>(k);
      const std::size_t n = static_cast<std::size_t>(src.size()), at = r0 + rows_at_[uk];
      if (n == 0) return;
      std::copy(src.dense_values.begin(), src.dense_values.end(), out.dense_values.begin() + static_cast<std::ptrdiff_t>(at * nd));
      std::copy(src.labels.begin(), src.labels.end(), out.labels.begin() + static_cast<std::ptrdiff_t>(at));
      if (weighted) {
        if (src.weights.empty()) std::fill_n(out.weights.begin() + static_cast<std::ptrdiff_t>(at), n, 1.0f);
        else std::copy(src.weights.begin(), src.weights.end(), out.weights.begin() + static_cast<std::ptrdiff_t>(at));
      }
      for (std::size_t f = 0; f < nf; ++f) {
        const std::size_t base = ids_at_[uk * nf + f];
        std::copy(src.ids[f].begin(), src.ids[f].end(), out.ids[f].begin() + static_cast<std::ptrdiff_t>(base));
        index_t* off = out.offsets[f].data() + at;
        for (std::size_t r = 1; r <= n; ++r) off[r] = src.offsets[f][r] + static_cast<index_t>(base);
      }
    };
    if (nb == 1) {
      copy_block(0);
    } else {
      arena_->execute([&] {
        tbb::parallel_for(tbb::blocked_range<index_t>(0, nb, 1), [&](const tbb::blocked_range<index_t>& r) {
          for (index_t k = r.begin(); k < r.end(); ++k) copy_block(k);
        });
      });
    }
    out.set_size(static_cast<index_t>(r0 + added));
  }

  struct Block {
    Batch rows;
    std::vector<std::pair<std::int64_t, LineIssue>> bad;
    std::int64_t blank = 0;
  };
  const Parser* parser_;
  ReaderOptions opt_;
  std::string label_column_;  // for the non-binary label message
  std::unique_ptr<tbb::task_arena> arena_;
  std::vector<Block> blocks_;
  std::vector<std::size_t> rows_at_, ids_at_;  // prefix sums of rows / ids per block
};

/// \brief Streams a text file through a line parser: `next_batch` for files larger than memory,
/// `read_all` for an InMemoryDataset.
template <LineParser Parser>
class TextReader {
 public:
  TextReader(LineSource source, Parser parser, ReaderOptions opt = {})
      : source_(std::move(source)), parser_(std::make_unique<Parser>(std::move(parser))), opt_(opt),
        chunks_(*parser_, opt_) {
    pending_.reset(schema());
  }
  TextReader(const std::string& path, Parser parser, ReaderOptions opt = {})
      : TextReader(LineSource(path, opt.source), std::move(parser), opt) {}

  const Schema& schema() const { return parser_->schema(); }
  const Parser& parser() const { return *parser_; }
  const BadLineReport& report() const { return report_; }
  const std::string& path() const { return source_.path(); }
  std::int64_t lines_read() const { return source_.lines_read(); }
  std::uint64_t bytes_read() const { return source_.bytes_read(); }

  /// Replaces `out`'s contents with the next (up to) `n` examples in file order; returns how
  /// many (0 at the end of the file).
  index_t next_batch(Batch& out, index_t n) {
    CTRNET_CHECK(n > 0, "next_batch: n must be positive, got ", n);
    const Schema& s = schema();
    if (out.num_dense() != s.num_dense() || out.ids.size() != static_cast<std::size_t>(s.num_categorical()) ||
        !out.targets.empty())
      out.reset(s);
    out.clear();
    while (pending_.size() - pos_ < n && !source_.done()) {
      compact();
      if (!source_.next(chunk_)) break;
      chunks_.parse(chunk_, source_.path(), pending_, report_);
    }
    const index_t take = std::min(n, pending_.size() - pos_);
    append_rows(out, pending_, pos_, take);
    pos_ += take;
    return take;
  }

  /// Starts again at the first line (the next epoch); the report starts afresh.
  void rewind() {
    source_.rewind();
    pending_.clear();
    pos_ = 0;
    report_.clear();
  }

  /// Reads everything that is left into one data set.
  ReadResult read_all() {
    Batch all(schema());
    compact();
    append_rows(all, pending_, 0, pending_.size());
    pending_.clear();
    pos_ = 0;
    while (source_.next(chunk_)) chunks_.parse(chunk_, source_.path(), all, report_);
    ReadResult r;
    r.dataset = InMemoryDataset(schema(), std::move(all));
    r.report = report_;
    r.lines = source_.lines_read();
    r.bytes = source_.bytes_read();
    return r;
  }

 private:
  void compact() {
    if (pos_ == 0) return;
    if (spare_.num_dense() != pending_.num_dense() || spare_.ids.size() != pending_.ids.size()) spare_.reset(schema());
    spare_.clear();
    append_rows(spare_, pending_, pos_, pending_.size() - pos_);
    std::swap(spare_, pending_);
    pos_ = 0;
  }

  LineSource source_;
  std::unique_ptr<Parser> parser_;  // stable address: chunks_ points at it
  ReaderOptions opt_;
  ChunkParser<Parser> chunks_;
  LineChunk chunk_;
  Batch pending_, spare_;
  index_t pos_ = 0;
  BadLineReport report_;
};

}  // namespace ctrnet
