// TempDir: a fresh directory under the system's temporary directory, removed with its contents
// on destruction. Shared by the tests that write files (tests/io, tests/train).
#pragma once
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace ctrnet::test_util {

class TempDir {
 public:
  /// <tmp>/<prefix>_<pid>_<n>: unique per process (pid) and per TempDir (n).
  explicit TempDir(const std::string& prefix = "ctrnet_test") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// <dir>/<name>.
  std::string file(const std::string& name) const { return (path / name).string(); }
  /// The names in the directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(path)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }

  std::filesystem::path path;
};

}  // namespace ctrnet::test_util
