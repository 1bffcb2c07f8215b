// Output files written safely: the bytes go to a temporary file next to the destination, every
// write is checked, and commit() makes the new content appear at once (fsync, rename, fsync of the
// folder), so a reader sees the old file or the complete new one, never a truncated one.
//
//   OutputFile out(path);         // creates PATH.tmp-<pid>; an unwritable folder fails here
//   out.write(text);              // buffered; a failed write (full disk...) throws ctrnet::Error
//   out.commit();                 // flush, fsync, rename over PATH, fsync of the folder
//                                 // destroyed without commit (an exception): the temporary goes
//
// The temporary is named `PATH.tmp-<pid>` (symbolic links in PATH resolved, so a link keeps pointing
// at the new file). A process killed with SIGKILL leaves its temporary behind; opening an output
// to the same PATH removes every `PATH.tmp-<pid>` whose process no longer exists (kill(pid, 0)
// fails with ESRCH) and keeps those of live processes (pids are those of this machine's pid
// namespace: two machines writing one shared folder should not use the same PATH). A destination
// that exists and is not a regular file (/dev/full, a pipe, a terminal), or that names a
// descriptor (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), is written directly, with
// the same checked writes (there is nothing to rename over). OutputFiles commits
// several outputs together; OutputLog is a per-epoch log rewritten atomically at each line;
// check_outputs_not_inputs refuses an output that is one of the inputs.
#pragma once
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ctrnet/core/error.hpp"

namespace ctrnet {

namespace detail {

/// The temporaries this process is writing now (one writer per destination at a time).
inline std::set<std::string>& active_temporaries(std::unique_lock<std::mutex>& lock) {
  static std::mutex m;
  static std::set<std::string> s;
  lock = std::unique_lock<std::mutex>(m);
  return s;
}

/// The folder and file name of `path` ("." for a bare name).
inline std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

/// The pid of a temporary `<name>.tmp-<pid>` of `name`, or -1 when `entry` is no such name.
inline long temporary_pid(std::string_view entry, std::string_view name) {
  const std::string_view tag = ".tmp-";
  if (entry.size() <= name.size() + tag.size() || !entry.starts_with(name) ||
      entry.substr(name.size(), tag.size()) != tag)
    return -1;
  const std::string_view digits = entry.substr(name.size() + tag.size());
  if (digits.size() > 9) return -1;
  long pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

/// Removes the temporaries `<path>.tmp-<pid>` left by processes that no longer exist (killed
/// while writing). Best effort: a folder that cannot be listed is left alone.
inline void remove_stale_temporaries(const std::string& path) {
  const auto [dir, name] = split_path(path);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const long pid = temporary_pid(e->d_name, name);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH) stale.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  for (const auto& s : stale) ::unlink(s.c_str());
}

/// Whether `path` names an open descriptor (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/.../fd/N):
/// written directly even when it leads to a regular file (a shell redirection).
inline bool names_descriptor(std::string_view path) {
  return path == "/dev/stdout" || path == "/dev/stderr" || path.starts_with("/dev/fd/") ||
         (path.starts_with("/proc/") && path.find("/fd/") != std::string_view::npos);
}

}  // namespace detail

/// \brief One output file, written to a temporary and renamed over its path on commit(); see the
/// header comment. Move-only. Errors (cannot create, write, fsync, close, rename) throw
/// ctrnet::Error naming the destination, the temporary and the system's reason; after an error the
/// temporary is already removed.
class OutputFile {
 public:
  OutputFile() = default;

  /// Opens an output to `path`: creates `PATH.tmp-<pid>` (removing stale temporaries of dead
  /// processes first), or opens a special file (device, pipe, /dev/stdout, /dev/fd/N) for direct
  /// writing. With `keep_content`, the current content of an existing regular PATH is copied into
  /// the temporary first, so the writes append to it (atomically, at commit).
  explicit OutputFile(std::string path, bool keep_content = false) : path_(std::move(path)) {
    CTRNET_CHECK(!path_.empty(), "an output file needs a path");
    struct stat st {};
    const bool exists = ::stat(path_.c_str(), &st) == 0;
    const bool special_path = detail::names_descriptor(path_);
    if (exists && (!S_ISREG(st.st_mode) || special_path)) {
      direct_ = true;
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | (S_ISREG(st.st_mode) ? O_TRUNC : 0));
      CTRNET_CHECK(fd_ >= 0, path_, ": cannot open for writing: ", std::strerror(errno));
      return;
    }
    CTRNET_CHECK(!special_path, path_, ": cannot write: no such file");
    // A symbolic link keeps pointing at the new content: write next to its target.
    target_ = path_;
    std::error_code ec;
    if (std::filesystem::is_symlink(path_, ec)) {
      const auto t = std::filesystem::weakly_canonical(path_, ec);
      if (!ec) target_ = t.string();
    }
    detail::remove_stale_temporaries(target_);
    tmp_ = target_ + ".tmp-" + std::to_string(::getpid());
    {
      std::unique_lock<std::mutex> lock;
      auto& active = detail::active_temporaries(lock);
      CTRNET_CHECK(active.insert(tmp_).second, path_, ": this process is already writing this file");
    }
    registered_ = true;
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) fail("cannot open for writing: cannot create its temporary " + tmp_);
    if (exists) ::fchmod(fd_, st.st_mode & 07777);  // the replaced file's permissions
    if (keep_content && exists) copy_from(path_);
  }

  /// Checked writes to an already open descriptor that this object does not close (e.g. 1 for
  /// standard output); `name` names it in errors.
  static OutputFile to_descriptor(int fd, std::string name) {
    OutputFile o;
    o.path_ = std::move(name);
    o.fd_ = fd;
    o.direct_ = true;
    o.own_fd_ = false;
    return o;
  }

  OutputFile(OutputFile&& o) noexcept { swap(o); }
  OutputFile& operator=(OutputFile&& o) noexcept {
    if (this != &o) {
      OutputFile old(std::move(*this));
      swap(o);
    }
    return *this;
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Without commit(): closes and removes the temporary (the destination keeps its old content).
  ~OutputFile() { discard(); }

  const std::string& path() const { return path_; }
  /// The temporary file (empty when writing directly).
  const std::string& temporary_path() const { return tmp_; }
  /// Whether writes go straight to the destination (a special file).
  bool direct() const { return direct_; }
  bool is_open() const { return fd_ >= 0; }
  bool committed() const { return committed_; }

  void write(const void* data, std::size_t n) {
    CTRNET_CHECK(fd_ >= 0, path_, ": write to an output that is not open (committed or failed)");
    if (n >= kBuffer) {
      flush();
      write_fd(data, n);
      return;
    }
    if (buf_.size() + n > kBuffer) flush();
    buf_.append(static_cast<const char*>(data), n);
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  /// printf-style formatted write.
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  void printf(const char* fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    CTRNET_CHECK(n >= 0, path_, ": formatting failed");
    if (static_cast<std::size_t>(n) < sizeof small) {
      write(small, static_cast<std::size_t>(n));
      return;
    }
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    write(big.data(), static_cast<std::size_t>(n));
  }

  /// Writes the buffered bytes out (to the temporary, or the special file).
  void flush() {
    if (buf_.empty()) return;
    write_fd(buf_.data(), buf_.size());  // an error clears buf_ (no reallocation) and throws
    buf_.clear();
  }

  /// Phase one of commit(): flushes, fsyncs and closes the temporary (direct: flushes and closes).
  /// OutputFiles::commit runs this on every file before renaming any.
  void finish() {
    if (finished_) return;
    CTRNET_CHECK(fd_ >= 0, path_, ": commit of an output that is not open (committed or failed)");
    flush();
    if (!direct_ && ::fsync(fd_) != 0) fail("fsync of " + tmp_ + " failed");
    if (own_fd_) {
      const int fd = fd_;
      fd_ = -1;
      if (::close(fd) != 0) fail("close of " + (direct_ ? path_ : tmp_) + " failed");
    }
    finished_ = true;
  }

  /// Makes the written content the destination's: finish(), then rename the temporary over PATH
  /// and fsync the folder. After commit() the object holds nothing; writes are errors.
  void commit() {
    finish();
    if (!direct_) {
      if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail("cannot rename " + tmp_ + " to it");
      unregister();
      const auto dir = detail::split_path(target_).first;
      const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        const int rc = ::fsync(dfd), e = errno;
        ::close(dfd);
        CTRNET_CHECK(rc == 0 || e == EINVAL, path_, ": fsync of the folder ", dir, " failed: ", std::strerror(e));
      }
    }
    fd_ = -1;
    committed_ = true;
  }

  /// Drops what was written: closes and removes the temporary. No-op after commit().
  void discard() noexcept {
    if (fd_ >= 0 && own_fd_) ::close(fd_);
    fd_ = -1;
    buf_.clear();
    if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
    unregister();
  }

 private:
  static constexpr std::size_t kBuffer = std::size_t(1) << 16;

  void swap(OutputFile& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(target_, o.target_);
    std::swap(tmp_, o.tmp_);
    std::swap(buf_, o.buf_);
    std::swap(fd_, o.fd_);
    std::swap(direct_, o.direct_);
    std::swap(own_fd_, o.own_fd_);
    std::swap(finished_, o.finished_);
    std::swap(committed_, o.committed_);
    std::swap(registered_, o.registered_);
  }

  void unregister() noexcept {
    if (!registered_) return;
    std::unique_lock<std::mutex> lock;
    detail::active_temporaries(lock).erase(tmp_);
    registered_ = false;
  }

  /// Throws an error naming the destination and errno's text, removing the temporary first.
  [[noreturn]] void fail(const std::string& what) {
    const int e = errno;
    discard();
    detail::throw_error(path_, ": ", what, ": ", std::strerror(e));
  }

  void write_fd(const void* data, std::size_t n) {
    const char* c = static_cast<const char*>(data);
    while (n > 0) {
      const ::ssize_t w = ::write(fd_, c, std::min<std::size_t>(n, std::size_t(1) << 30));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(direct_ ? std::string("write failed") : "write to " + tmp_ + " failed");
      }
      if (w == 0) {
        errno = ENOSPC;
        fail(direct_ ? std::string("write failed") : "write to " + tmp_ + " failed");
      }
      c += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  void copy_from(const std::string& src) {
    const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) fail("cannot read its current content");
    char b[1 << 16];
    for (;;) {
      const ::ssize_t r = ::read(in, b, sizeof b);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        const int e = errno;
        ::close(in);
        errno = e;
        fail("cannot read its current content");
      }
      if (r == 0) break;
      try {
        write_fd(b, static_cast<std::size_t>(r));
      } catch (...) {
        ::close(in);
        throw;
      }
    }
    ::close(in);
  }

  std::string path_, target_, tmp_, buf_;
  int fd_ = -1;
  bool direct_ = false, own_fd_ = true, finished_ = false, committed_ = false, registered_ = false;
};

/// \brief Several outputs committed together: open them all first (an unwritable destination fails
/// before any work), write, then commit() finishes (flush, fsync, close) every one before renaming
/// any, so a write error leaves every destination unchanged and removes every temporary. Destroyed
/// without commit(): every temporary is removed.
class OutputFiles {
 public:
  /// Opens one more output (see OutputFile); the reference stays valid while this object lives.
  OutputFile& open(std::string path, bool keep_content = false) {
    return files_.emplace_back(std::move(path), keep_content);
  }
  /// Finishes every output, then renames each; on an error every temporary is removed.
  void commit() {
    try {
      for (auto& f : files_) f.finish();
      for (auto& f : files_) f.commit();
    } catch (...) {
      discard();
      throw;
    }
  }
  void discard() noexcept {
    for (auto& f : files_) f.discard();
  }

 private:
  std::deque<OutputFile> files_;
};

/// \brief A log that grows by whole lines (per-epoch metrics) and is never seen half-written: each
/// append() rewrites the file atomically (OutputFile) with every line so far, so after a crash or a
/// full disk it holds the lines of the completed appends. With `resume`, the lines continue the
/// file's current content. A special file (/dev/stdout) is written directly, line by line.
class OutputLog {
 public:
  OutputLog() = default;
  /// Checks at once that `path` can be written (and reads its content with `resume`).
  explicit OutputLog(std::string path, bool resume = false) : path_(std::move(path)) {
    OutputFile probe(path_);
    if (probe.direct()) {
      direct_ = std::make_unique<OutputFile>(std::move(probe));
      return;
    }
    probe.discard();
    if (!resume) return;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return;
    CTRNET_CHECK(fd >= 0, path_, ": cannot read the log to continue it: ", std::strerror(errno));
    char b[1 << 14];
    for (;;) {
      const ::ssize_t r = ::read(fd, b, sizeof b);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        const int e = errno;
        ::close(fd);
        CTRNET_CHECK(r == 0, path_, ": cannot read the log to continue it: ", std::strerror(e));
        break;
      }
      text_.append(b, static_cast<std::size_t>(r));
    }
  }

  const std::string& path() const { return path_; }
  bool is_open() const { return !path_.empty(); }

  /// Appends `lines` (ending in '\n') and writes the file: atomically, or straight to a special file.
  void append(std::string_view lines) {
    CTRNET_CHECK(is_open(), "OutputLog: append to a log that is not open");
    if (direct_) {
      direct_->write(lines);
      direct_->flush();
      return;
    }
    text_ += lines;
    write_all();
  }

  /// Keeps the continued log's leading lines while `keep(line)` holds (the line without its '\n')
  /// and drops the rest, e.g. lines a resumed run is about to write again. A special file keeps all.
  template <class Keep>
  void keep_lines_while(Keep keep) {
    std::size_t at = 0;
    while (at < text_.size()) {
      const std::size_t end = text_.find('\n', at);
      const std::size_t stop = end == std::string::npos ? text_.size() : end;
      if (!keep(std::string_view(text_).substr(at, stop - at))) break;
      at = end == std::string::npos ? text_.size() : end + 1;
    }
    text_.resize(at);
  }

  /// Writes the file once more (so a run without any line leaves an empty file, not an older
  /// run's) and closes a special file, checking the close.
  void commit() {
    if (!is_open()) return;
    if (direct_) direct_->commit();
    else write_all();
  }

 private:
  void write_all() const {
    OutputFile out(path_);
    out.write(text_);
    out.commit();
  }

  std::string path_, text_;
  std::unique_ptr<OutputFile> direct_;
};

/// Checks that `path` can be written (its folder exists and is writable) without changing it: an
/// OutputFile opened and discarded. For outputs written later (checkpoints during a run).
inline void check_can_write(const std::string& path) { OutputFile(path).discard(); }

/// A command-line flag and its path, for check_outputs_not_inputs.
struct NamedPath {
  std::string flag;  ///< e.g. "--save"
  std::string path;  ///< empty: not given (skipped)
};

/// \brief Refuses outputs that would overwrite an input or each other: throws ctrnet::Error when an
/// output names the same file as an input (std::filesystem::equivalent: also through links) or two
/// outputs name the same file (same inode, or the same normalised path when neither exists yet).
/// Special files (devices, pipes) are not compared.
inline void check_outputs_not_inputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  namespace fs = std::filesystem;
  auto special = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  };
  auto same = [](const std::string& a, const std::string& b) {
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
    const fs::path x = fs::weakly_canonical(a, ec);
    if (ec) return false;
    const fs::path y = fs::weakly_canonical(b, ec);
    return !ec && x == y;
  };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& o = outputs[i];
    if (o.path.empty() || special(o.path)) continue;
    for (const auto& in : inputs)
      CTRNET_CHECK(in.path.empty() || !same(o.path, in.path), o.flag, " ", o.path, " is the same file as ", in.flag,
                   " ", in.path, ": writing it would overwrite the input; choose another output path");
    for (std::size_t j = 0; j < i; ++j)
      CTRNET_CHECK(outputs[j].path.empty() || !same(o.path, outputs[j].path), o.flag, " ", o.path,
                   " is the same file as ", outputs[j].flag, " ", outputs[j].path,
                   ": two outputs cannot share a file; choose another path");
  }
}

}  // namespace ctrnet
