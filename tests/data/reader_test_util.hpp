// Helpers shared by the reader tests: a per-test temporary folder, writing fixture files, the
// shared data folder (CTRNET_DATA_DIR, skipped when unset or absent) and replaying fuzz corpora.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace ctrnet::test {

namespace fs = std::filesystem;

/// A fresh folder under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ctrnet_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Writes `bytes` verbatim to <dir>/<name> and returns the full path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = path_ / name;
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// <CTRNET_DATA_DIR>/<sub> when the variable is set and the folder exists; otherwise prints why
/// the calling test is skipped and returns nothing.
inline std::optional<std::string> shared_data(const std::string& sub) {
  const char* dir = std::getenv("CTRNET_DATA_DIR");
  if (dir == nullptr || *dir == '\0') {
    std::cout << "SKIPPED: CTRNET_DATA_DIR is not set; the test on shared data '" << sub << "' does not run\n";
    return std::nullopt;
  }
  const fs::path p = fs::path(dir) / sub;
  if (!fs::exists(p)) {
    std::cout << "SKIPPED: " << p.string() << " does not exist\n";
    return std::nullopt;
  }
  return p.string();
}

/// The files of tests/data/fuzz_corpus/<parser> (found next to this header).
inline std::vector<std::string> fuzz_corpus(const std::string& parser) {
  std::vector<std::string> files;
  const fs::path dir = fs::path(__FILE__).parent_path() / "fuzz_corpus" / parser;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

/// `msg` without the leading `prefix` when it starts with it, else `msg` unchanged. Reader errors
/// name the full path of the file; tests strip "<dir>/" to compare the rest of the message.
inline std::string strip_prefix(const std::string& msg, const std::string& prefix) {
  return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
}

/// `msg` without the leading "<dir>/" (see strip_prefix).
inline std::string strip_dir(const std::string& msg, const TempDir& dir) {
  return strip_prefix(msg, dir.path().string() + "/");
}

/// `msg` without the leading folder of `path` ("<folder>/"), for helpers that get only the path.
inline std::string strip_dir_of(const std::string& msg, const std::string& path) {
  return strip_prefix(msg, fs::path(path).parent_path().string() + "/");
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace ctrnet::test
