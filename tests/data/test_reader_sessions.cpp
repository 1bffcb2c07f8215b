// Session-log reader (data/readers/sessions.hpp): YooChoose-style `session \t item \t time` lines
// with a header, CRLF, an action column, hashed ids, per-session ordering by time; malformed lines
// (error with file:line:column, or counted with the skip policy); and the shared YooChoose sample.
#include <catch2/catch.hpp>

#include <string>

#include "ctrnet/data/readers/sessions.hpp"
#include "reader_test_util.hpp"

using namespace ctrnet;

namespace {
std::string error_of(const std::string& path, const SessionLogOptions& o = {}) {
  try {
    read_session_log(path, o);
  } catch (const Error& e) {
    return test::strip_dir_of(e.what(), path);  // "t.tsv:3: ..."
  }
  return "";
}
}  // namespace

TEST_CASE("session log: header, CRLF, events in file order, sessions ordered by time", "[data][sessions]") {
  test::TempDir dir("sessions");
  const std::string path = dir.write("log.tsv",
                                     "SessionId\tItemId\tTime\r\n"
                                     "7\t100\t1400000012.854\r\n"
                                     "3\t200\t1400000500.94\r\n"
                                     "7\t101\t1400000001.104\r\n"
                                     "3\t201\t1400000500.94\r\n"
                                     "\r\n"
                                     "3\t202\t1400000900.318");  // no final newline
  const SessionLog log = read_session_log(path);
  REQUIRE(log.events.size() == 5);
  CHECK(log.lines == 7);
  CHECK(log.report.blank_lines() == 2);  // the header and the empty line
  CHECK(log.events[0].session == 7);
  CHECK(log.events[0].item == 100);
  CHECK(log.events[0].time == 1400000012.854);  // a double: a float would round to 1400000000
  const auto s = log.sessions();
  REQUIRE(s.size() == 2);
  CHECK(s[0].id == 7);  // its first event (…001.104) is the earliest
  CHECK(s[0].items == std::vector<std::int64_t>{101, 100});
  CHECK(s[1].id == 3);
  CHECK(s[1].items == std::vector<std::int64_t>{200, 201, 202});  // equal times keep file order
}

TEST_CASE("session log: action column, hashed ids, no header", "[data][sessions]") {
  test::TempDir dir("sessions");
  SessionLogOptions o;
  o.delimiter = ',';
  o.action_column = 3;
  o.hash_ids = true;
  o.header = SessionLogOptions::Header::no;
  const std::string path = dir.write("log.csv", "s1,sku-9,10.5,2\ns1,sku-7,11,view\n");
  const SessionLog log = read_session_log(path, o);
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[0].session == token_id("s1"));
  CHECK(log.events[1].item == token_id("sku-7"));
  CHECK(log.events[0].action == 2);
  CHECK(log.events[1].action == token_id("view"));
  CHECK(read_session_log(dir.write("empty.csv", ""), o).events.empty());
}

TEST_CASE("session log: malformed lines name file, line, column and what was expected", "[data][sessions][errors]") {
  test::TempDir dir("sessions");
  const std::string bad_time = dir.write("t.tsv", "SessionId\tItemId\tTime\n1\t2\t3.5\n1\t2\tsoon\n");
  const std::string msg = error_of(bad_time);
  CHECK_THAT(msg, Catch::Contains("t.tsv:3") && Catch::Contains("'time'") && Catch::Contains("\"soon\"") &&
                      Catch::Contains("a finite number"));
  CHECK_THAT(error_of(dir.write("f.tsv", "1\t2\t3\n1\t2\n")), Catch::Contains("f.tsv:2") && Catch::Contains("3 fields"));
  CHECK_THAT(error_of(dir.write("i.tsv", "1\t2\t3\nx\t2\t3\n")), Catch::Contains("i.tsv:2") && Catch::Contains("'session'"));
  CHECK_THAT(error_of(dir.write("u.tsv", "1\t2\t3\n1\t\xff\xfe\t3\n")), Catch::Contains("u.tsv:2") && Catch::Contains("UTF-8"));
  // A first line that is not a header (its time is a number) is an error, not silently dropped.
  CHECK_THAT(error_of(dir.write("h.tsv", "x\t2\t3\n")), Catch::Contains("h.tsv:1"));
  // skip: the bad lines are counted by reason, the good ones kept unchanged.
  SessionLogOptions o;
  o.bad_lines = BadLines::skip;
  const SessionLog log = read_session_log(bad_time, o);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].time == 3.5);
  CHECK(log.report.skipped() == 1);
  CHECK(log.report.count("bad time") == 1);
}

TEST_CASE("session log: the shared YooChoose sample", "[data][sessions][shared]") {
  const auto dir = test::shared_data("yoochoose-100k");
  if (!dir) return;
  const SessionLog log = read_session_log(*dir + "/yoochoose-clicks-100k_test.txt");
  CHECK(log.events.size() == 13568);  // the data README: test 13,568 clicks
  CHECK(log.report.skipped() == 0);
  const auto sessions = log.sessions();
  CHECK(sessions.size() > 1000);
  for (const auto& s : sessions) CHECK(std::is_sorted(s.times.begin(), s.times.end()));
}

TEST_CASE("session log: every fuzz corpus input reads cleanly or throws ctrnet::Error", "[data][sessions][fuzz]") {
  const auto files = test::fuzz_corpus("sessions");
  REQUIRE(!files.empty());
  for (const auto& f : files) {
    INFO(f);
    const std::string bytes = test::read_bytes(f);
    for (BadLines policy : {BadLines::error, BadLines::skip}) {
      SessionLogOptions o;
      o.bad_lines = policy;
      try {
        const SessionLog log = read_session_log(LineSource::from_memory(bytes, "corpus", o.source), o);
        CHECK(static_cast<std::int64_t>(log.events.size()) + log.report.skipped() + log.report.blank_lines() ==
              log.lines);
      } catch (const Error&) {
        CHECK(policy == BadLines::error);  // skip never throws for a bad line
      }
    }
  }
}

TEST_CASE("session log: a 10 MB single line is read (hashed id) or rejected with a short excerpt", "[data][sessions][errors]") {
  test::TempDir dir("sessions");
  const std::string big(10u << 20, '7');
  SessionLogOptions o;
  o.hash_ids = true;
  o.header = SessionLogOptions::Header::no;
  const SessionLog ok = read_session_log(dir.write("big.tsv", "s\t" + big + "\t1.5\ns\tx\t2\n"), o);
  REQUIRE(ok.events.size() == 2);
  CHECK(ok.events[0].item == token_id(big));
  // As an integer id it overflows: an error whose message quotes at most ~40 bytes of it.
  const std::string msg = error_of(dir.write("big2.tsv", "1\t" + big + "\t1.5\n"));
  CHECK_THAT(msg, Catch::Contains("big2.tsv:1") && Catch::Contains("'item'"));
  CHECK(msg.size() < 400);
}

TEST_CASE("session log: require_sessions rejects empty, header-only and query-less logs, naming the file",
          "[data][sessions][empty]") {
  test::TempDir dir("sessions_empty");
  auto msg_of = [](const std::string& path, std::size_t min_events) -> std::string {
    const SessionLog log = read_session_log(path);
    try {
      require_sessions(log, log.sessions(), path, "--test file", min_events);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string empty = dir.write("empty.tsv", "");
  CHECK(msg_of(empty, 1) == "--test file '" + empty +
                                "' holds no events: the file is empty; expected at least one event line (session, item, time)");
  const std::string header = dir.write("header.tsv", "SessionId\tItemId\tTime\n\n");
  CHECK_THAT(msg_of(header, 1), Catch::Contains("'" + header + "' holds no events: 2 lines read, 2 blank or header lines"));
  // Events, but no session with two events: no next-item query to evaluate.
  const std::string singles = dir.write("singles.tsv", "1\t5\t10\n2\t6\t11\n");
  CHECK(msg_of(singles, 1) == "no error");
  CHECK_THAT(msg_of(singles, 2), Catch::Contains("has 2 events in 2 sessions but none with 2 or more events"));
  CHECK(msg_of(dir.write("pair.tsv", "1\t5\t10\n1\t6\t11\n"), 2) == "no error");
}
