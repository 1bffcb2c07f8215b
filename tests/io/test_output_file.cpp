// OutputFile (io/output_file.hpp): commit writes the content through a temporary; an exception
// before commit leaves neither the file nor a temporary; write errors (a full disk simulated with
// RLIMIT_FSIZE, /dev/full) are errors naming the path and the system's reason; stale temporaries
// of dead processes are removed, those of live ones kept; a writer killed with SIGKILL leaves the
// old file intact; OutputFiles commits together; outputs equal to inputs are refused.
#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctrnet/io/output_file.hpp"
#include "../temp_dir.hpp"

using namespace ctrnet;
namespace fs = std::filesystem;

namespace {

using test_util::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

/// A pid that no longer exists: a child that exited and was reaped.
pid_t dead_pid() {
  const pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  ::waitpid(p, nullptr, 0);
  return p;
}

}  // namespace

TEST_CASE("OutputFile writes to a temporary and commit renames it over the path", "[io][output_file]") {
  TempDir dir;
  const std::string path = dir.file("out.txt");
  write_text(path, "old content\n");
  ::chmod(path.c_str(), 0600);
  {
    OutputFile out(path);
    CHECK_FALSE(out.direct());
    CHECK(out.temporary_path() == path + ".tmp-" + std::to_string(::getpid()));
    out.write("hello ");
    out.printf("%d %s\n", 42, "world");
    out.write(std::string(200000, 'x'));  // larger than the buffer
    out.flush();
    CHECK(fs::exists(out.temporary_path()));
    CHECK(read_text(path) == "old content\n");  // not replaced before commit
    out.commit();
    CHECK(out.committed());
    CHECK_THROWS_WITH(out.write("more"), Catch::Contains("not open"));
  }
  CHECK(read_text(path) == "hello 42 world\n" + std::string(200000, 'x'));
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);  // the replaced file's permissions
}

TEST_CASE("OutputFile without commit leaves no file and no temporary", "[io][output_file]") {
  TempDir dir;
  const std::string fresh = dir.file("fresh.csv"), old = dir.file("old.csv");
  write_text(old, "previous\n");
  try {
    OutputFile a(fresh), b(old);
    a.write("partial");
    b.write("partial");
    a.flush();
    b.flush();
    throw std::runtime_error("training failed");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(fs::exists(fresh));
  CHECK(read_text(old) == "previous\n");
  CHECK(dir.entries() == std::vector<std::string>{"old.csv"});
  // A folder that does not exist fails at once, naming the path and the reason.
  CHECK_THROWS_WITH(OutputFile(dir.file("no/such/folder/x.csv")),
                    Catch::Contains(dir.file("no/such/folder/x.csv")) && Catch::Contains("cannot open for writing") &&
                        Catch::Contains(std::strerror(ENOENT)));
  CHECK_THROWS_WITH(check_can_write(dir.file("missing/m.safetensors")), Catch::Contains("missing/m.safetensors"));
  // Appending (keep_content) copies the current content first; the destination changes only at commit.
  {
    OutputFile o(old, /*keep_content=*/true);
    o.write("appended\n");
    o.commit();
  }
  CHECK(read_text(old) == "previous\nappended\n");
}

TEST_CASE("OutputFile reports a full disk (RLIMIT_FSIZE) and leaves the old file", "[io][output_file]") {
  TempDir dir;
  const std::string path = dir.file("big.bin");
  write_text(path, "old");
  // In a child, so the file size limit does not reach the test runner; exit codes say what failed.
  const pid_t p = ::fork();
  REQUIRE(p >= 0);
  if (p == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{4096, 4096};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    try {
      OutputFile out(path);
      const std::string tmp = out.temporary_path();
      try {
        out.write(std::string(300000, 'y'));
        out.commit();
        ::_exit(11);  // no error
      } catch (const Error& e) {
        const std::string m = e.what();
        if (m.find(path) == std::string::npos) ::_exit(12);
        if (m.find(std::strerror(EFBIG)) == std::string::npos) ::_exit(13);
        if (fs::exists(tmp)) ::_exit(14);  // the temporary is gone at once
      }
    } catch (...) {
      ::_exit(15);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(p, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(path) == "old");
  CHECK(dir.entries() == std::vector<std::string>{"big.bin"});
}

TEST_CASE("OutputFile writes special files directly and reports /dev/full", "[io][output_file]") {
  if (!fs::exists("/dev/full")) return;
  OutputFile out("/dev/full");
  CHECK(out.direct());
  CHECK(out.temporary_path().empty());
  out.write("0.5\n");
  CHECK_THROWS_WITH(out.commit(), Catch::Contains("/dev/full") && Catch::Contains(std::strerror(ENOSPC)));
  OutputFile null("/dev/null");
  null.write("ignored");
  null.commit();
  // A group with one failing output renames none of them.
  TempDir dir;
  OutputFiles group;
  group.open(dir.file("lists.csv")).write("item,rank\n");
  group.open("/dev/full").write("model");
  CHECK_THROWS_WITH(group.commit(), Catch::Contains("/dev/full"));
  CHECK(dir.entries().empty());
}

TEST_CASE("OutputFile removes stale temporaries of dead processes, not of live ones", "[io][output_file]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::string dead = path + ".tmp-" + std::to_string(dead_pid());
  const std::string live = path + ".tmp-" + std::to_string(::getppid());
  const std::string other = dir.file("other.safetensors.tmp-" + std::to_string(dead_pid()));
  const std::string not_pid = path + ".tmp-abc";
  for (const auto& f : {dead, live, other, not_pid}) write_text(f, "junk");
  OutputFile out(path);
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other));  // another destination's
  CHECK(fs::exists(not_pid));
  out.write("new");
  out.commit();
  CHECK(read_text(path) == "new");
}

TEST_CASE("a writer killed with SIGKILL leaves the old file; the next writer removes its temporary",
          "[io][output_file]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_text(path, "old checkpoint");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t p = ::fork();
  REQUIRE(p >= 0);
  if (p == 0) {
    ::close(ready[0]);
    OutputFile out(path);
    out.write(std::string(100000, 'z'));
    out.flush();
    const char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    for (;;) {  // writing until killed
      out.write(std::string(1000, 'z'));
      ::usleep(1000);
    }
  }
  ::close(ready[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  const std::string tmp = path + ".tmp-" + std::to_string(p);
  CHECK(fs::exists(tmp));
  ::kill(p, SIGKILL);
  int status = 0;
  ::waitpid(p, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(read_text(path) == "old checkpoint");
  CHECK(fs::exists(tmp));  // left behind by the killed writer
  OutputFile next(path);
  CHECK_FALSE(fs::exists(tmp));
  next.write("new checkpoint");
  next.commit();
  CHECK(read_text(path) == "new checkpoint");
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("check_outputs_not_inputs refuses an output that is an input or another output", "[io][output_file]") {
  TempDir dir;
  const std::string train = dir.file("train.tsv"), model = dir.file("model.safetensors");
  write_text(train, "1\t2\n");
  CHECK_NOTHROW(check_outputs_not_inputs({{"--save", model}, {"--lists", ""}}, {{"--train", train}, {"--test", ""}}));
  CHECK_THROWS_WITH(check_outputs_not_inputs({{"--save", train}}, {{"--train", train}}),
                    Catch::Contains("--save " + train + " is the same file as --train " + train));
  // Through a symbolic link, a hard link or another spelling of the path.
  fs::create_symlink(train, dir.file("link.tsv"));
  fs::create_hard_link(train, dir.file("hard.tsv"));
  CHECK_THROWS_WITH(check_outputs_not_inputs({{"--output", dir.file("link.tsv")}}, {{"--input", train}}),
                    Catch::Contains("overwrite the input"));
  CHECK_THROWS_WITH(check_outputs_not_inputs({{"--output", dir.file("hard.tsv")}}, {{"--input", train}}),
                    Catch::Contains("--output"));
  CHECK_THROWS(check_outputs_not_inputs({{"--save", dir.path.string() + "/./train.tsv"}}, {{"--train", train}}));
  // Two outputs to the same (not yet existing) file.
  CHECK_THROWS_WITH(check_outputs_not_inputs({{"--model", model}, {"--lists", model}}, {}),
                    Catch::Contains("--lists " + model + " is the same file as --model " + model));
  // Special files are not compared.
  if (fs::exists("/dev/null"))
    CHECK_NOTHROW(check_outputs_not_inputs({{"--output", "/dev/null"}, {"--lists", "/dev/null"}}, {{"--input", "/dev/null"}}));
  // Committing through a symbolic link replaces the link's target and keeps the link.
  const std::string target = dir.file("target.txt"), link = dir.file("out-link.txt");
  write_text(target, "old");
  fs::create_symlink(target, link);
  OutputFile o(link);
  o.write("new");
  o.commit();
  CHECK(fs::is_symlink(link));
  CHECK(read_text(target) == "new");
}

TEST_CASE("OutputLog rewrites the whole log atomically at each line and continues it on resume",
          "[io][output_file]") {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  write_text(path, "{\"epoch\":1}\n");
  {
    OutputLog log(path);  // a new run: the old lines are replaced at the first append
    CHECK(read_text(path) == "{\"epoch\":1}\n");
    log.append("{\"epoch\":1,\"new\":true}\n");
    CHECK(read_text(path) == "{\"epoch\":1,\"new\":true}\n");
  }
  {
    OutputLog log(path, /*resume=*/true);
    log.append("{\"epoch\":2}\n");
    CHECK(read_text(path) == "{\"epoch\":1,\"new\":true}\n{\"epoch\":2}\n");
    log.commit();
  }
  {
    OutputLog log(path);  // a run without any line leaves an empty log at commit
    log.commit();
  }
  CHECK(read_text(path).empty());
  CHECK(dir.entries() == std::vector<std::string>{"metrics.jsonl"});
  CHECK_THROWS_WITH(OutputLog(dir.file("no/dir/m.jsonl")), Catch::Contains("no/dir/m.jsonl"));
  if (fs::exists("/dev/full")) {
    OutputLog full("/dev/full");
    CHECK_THROWS_WITH(full.append("{}\n"), Catch::Contains("/dev/full") && Catch::Contains(std::strerror(ENOSPC)));
  }
}
