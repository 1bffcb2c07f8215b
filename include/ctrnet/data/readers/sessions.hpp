// Session logs as interaction streams: one event per line, `session id, item id, timestamp` and an
// optional action type (YooChoose clicks: `SessionId\tItemId\tTime`, unix seconds with a fraction).
//   read_session_log(path, SessionLogOptions) -> SessionLog: the events in file order, plus
//   SessionLog::sessions(): each session's events ordered by time (stable for equal times), the
//   sessions ordered by their first event's time (then by session id).
// A header line is recognised when its time column is not a number (or `header = yes`). Ids are
// 64-bit integers; `hash_ids = true` maps any token (e.g. a hex or a SKU string) to a stable
// 63-bit id with token_id (FNV-1a). Times are doubles (a float would round unix seconds to
// minutes). Malformed lines: ctrnet::Error with file, line, column, text and what was expected, or
// counted and skipped with BadLines::skip (never silently changed).
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ctrnet/core/error.hpp"
#include "ctrnet/data/readers/line_source.hpp"
#include "ctrnet/data/readers/parse_error.hpp"
#include "ctrnet/data/readers/text.hpp"

namespace ctrnet {

struct SessionLogOptions {
  char delimiter = '\t';
  int session_column = 0;
  int item_column = 1;
  int time_column = 2;
  int action_column = -1;  ///< -1: no action type; else a column of small integers or tokens
  enum class Header { detect, yes, no } header = Header::detect;
  bool hash_ids = false;   ///< ids are tokens, hashed with token_id, instead of integers
  BadLines bad_lines = BadLines::error;
  LineSourceOptions source{};
};

/// One event of a session log.
struct SessionEvent {
  std::int64_t session = 0;
  std::int64_t item = 0;
  double time = 0.0;
  std::int64_t action = 0;  ///< 0 when the log has no action column
};

/// The events of one session, ordered by time.
struct Session {
  std::int64_t id = 0;
  std::vector<std::int64_t> items;
  std::vector<double> times;
  std::vector<std::int64_t> actions;
};

struct SessionLog {
  std::vector<SessionEvent> events;  ///< in file order
  BadLineReport report;
  std::int64_t lines = 0;

  /// Every session, its events ordered by time (stable), sessions by first time then id.
  std::vector<Session> sessions() const {
    std::vector<std::size_t> order(events.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const auto &x = events[a], &y = events[b];
      return x.session != y.session ? x.session < y.session : x.time < y.time;
    });
    std::vector<Session> out;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const SessionEvent& e = events[order[k]];
      if (out.empty() || out.back().id != e.session) out.push_back(Session{e.session, {}, {}, {}});
      out.back().items.push_back(e.item);
      out.back().times.push_back(e.time);
      out.back().actions.push_back(e.action);
    }
    std::stable_sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
      return a.times.front() != b.times.front() ? a.times.front() < b.times.front() : a.id < b.id;
    });
    return out;
  }
};

namespace detail {

inline bool parse_double_strict(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end && std::isfinite(out);
}

/// Parses one event line; false with `issue` set when it is malformed.
inline bool parse_session_line(std::string_view line, const SessionLogOptions& o, std::vector<std::string_view>& f,
                               SessionEvent& e, LineIssue& issue) {
  f.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t p = line.find(o.delimiter, start);
    f.push_back(line.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  const int need = std::max({o.session_column, o.item_column, o.time_column, o.action_column}) + 1;
  if (static_cast<int>(f.size()) < need) {
    issue.set("wrong field count", "", line, std::to_string(need) + " fields, got " + std::to_string(f.size()));
    return false;
  }
  if (const std::size_t bad = find_invalid_utf8(line); bad != std::string_view::npos) {
    issue.set("invalid UTF-8", "", line.substr(bad), "valid UTF-8");
    return false;
  }
  auto id = [&](int col, const char* name, std::int64_t& out) {
    const std::string_view s = trim(f[static_cast<std::size_t>(col)]);
    if (o.hash_ids) {
      if (s.empty()) {
        issue.set("missing id", name, s, "a non-empty id");
        return false;
      }
      out = token_id(s);
      return true;
    }
    if (!parse_int64(s, out)) {
      issue.set("bad id", name, s, "an integer id");
      return false;
    }
    return true;
  };
  if (!id(o.session_column, "session", e.session) || !id(o.item_column, "item", e.item)) return false;
  if (!parse_double_strict(f[static_cast<std::size_t>(o.time_column)], e.time)) {
    issue.set("bad time", "time", f[static_cast<std::size_t>(o.time_column)], "a finite number (unix seconds)");
    return false;
  }
  e.action = 0;
  if (o.action_column >= 0) {
    const std::string_view s = trim(f[static_cast<std::size_t>(o.action_column)]);
    if (!parse_int64(s, e.action)) e.action = token_id(s);
  }
  return true;
}

}  // namespace detail

/// \brief Reads a whole session log (see the header comment).
inline SessionLog read_session_log(LineSource src, const SessionLogOptions& o = {}) {
  CTRNET_CHECK(o.session_column >= 0 && o.item_column >= 0 && o.time_column >= 0,
               "session log: column indices must be >= 0");
  SessionLog log;
  LineChunk chunk;
  std::vector<std::string_view> fields;
  LineIssue issue;
  bool first = true;
  while (src.next(chunk)) {
    for (index_t i = 0; i < chunk.size(); ++i) {
      const std::string_view line = chunk.line(i);
      const std::int64_t n = chunk.line_number(i);
      ++log.lines;
      if (detail::is_blank(line)) {
        log.report.add_blank();
        first = false;
        continue;
      }
      SessionEvent e;
      issue.clear();
      const bool ok = detail::parse_session_line(line, o, fields, e, issue);
      if (first) {
        first = false;
        // detect: a first line whose time column is present but not a number is a header.
        double t = 0.0;
        const bool header = o.header == SessionLogOptions::Header::yes ||
                            (o.header == SessionLogOptions::Header::detect && !ok &&
                             static_cast<int>(fields.size()) > o.time_column &&
                             !detail::parse_double_strict(fields[static_cast<std::size_t>(o.time_column)], t));
        if (header) {
          log.report.add_blank();
          continue;
        }
      }
      if (ok) {
        log.events.push_back(e);
      } else if (o.bad_lines == BadLines::skip) {
        log.report.add(issue.reason, format_line_issue(src.path(), n, issue));
      } else {
        throw_line_issue(src.path(), n, issue);
      }
    }
  }
  return log;
}

inline SessionLog read_session_log(const std::string& path, const SessionLogOptions& o = {}) {
  return read_session_log(LineSource(path, o.source), o);
}

/// \brief Throws ctrnet::Error unless `sessions` (SessionLog::sessions() of `log`, read from
/// `path`) has a session of at least `min_events` events: an empty, blank-only or header-only log
/// (or one whose every line was skipped), or, with min_events = 2, a log without a single
/// next-item query. `what` names the file's role in the message ("--test file", ...).
inline void require_sessions(const SessionLog& log, const std::vector<Session>& sessions, const std::string& path,
                             std::string_view what = "session log", std::size_t min_events = 1) {
  for (const auto& s : sessions)
    if (s.items.size() >= min_events) return;
  std::ostringstream os;
  os << what << " '" << path << "' ";
  if (log.events.empty()) {
    os << "holds no events: ";
    if (log.lines == 0) {
      os << "the file is empty";
    } else {
      os << log.lines << " line" << (log.lines == 1 ? "" : "s") << " read, " << log.report.blank_lines()
         << " blank or header line" << (log.report.blank_lines() == 1 ? "" : "s");
      if (log.report.skipped() > 0)
        os << ", " << log.report.skipped() << " malformed line" << (log.report.skipped() == 1 ? "" : "s")
           << " skipped (e.g. " << log.report.reasons().begin()->second.first_message << ")";
    }
    os << "; expected at least one event line (session, item, time)";
  } else {
    os << "has " << log.events.size() << " event" << (log.events.size() == 1 ? "" : "s") << " in " << sessions.size()
       << " session" << (sessions.size() == 1 ? "" : "s") << " but none with " << min_events
       << " or more events; expected at least one such session (a next-item query needs two events)";
  }
  throw Error(os.str());
}

}  // namespace ctrnet
