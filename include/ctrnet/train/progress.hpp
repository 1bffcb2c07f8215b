// A one-line progress display for terminals: samples/s, loss, ETA. Silent when stderr is not a
// terminal (CI logs, pipes) unless forced.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace ctrnet {

enum class ProgressMode { automatic, always, never };

class ProgressLine {
 public:
  explicit ProgressLine(ProgressMode mode = ProgressMode::automatic)
      : enabled_(mode == ProgressMode::always || (mode == ProgressMode::automatic && ::isatty(::fileno(stderr)))) {}

  bool enabled() const { return enabled_; }

  /// Starts a phase of `total` samples (e.g. one epoch).
  void start(std::string label, long long total) {
    label_ = std::move(label);
    total_ = total;
    start_ = last_ = clock::now();
  }

  /// Reports `done` samples so far and the running loss; redraws at most every 0.2 s.
  void update(long long done, double loss, bool force = false) {
    if (!enabled_) return;
    const auto now = clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    const int pct = total_ > 0 ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_)) : 0;
    std::fprintf(stderr, "\r%s %3d%% | %lld/%lld | %.0f samples/s | loss %.5f | ETA %.0fs   ", label_.c_str(), pct,
                 done, total_, rate, loss, eta);
    std::fflush(stderr);
  }

  /// Ends the line.
  void finish() {
    if (!enabled_) return;
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  using clock = std::chrono::steady_clock;
  bool enabled_;
  std::string label_;
  long long total_ = 0;
  clock::time_point start_, last_;
};

}  // namespace ctrnet
