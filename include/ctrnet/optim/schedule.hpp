// Learning-rate schedules as pure functions of the step s = 0, 1, 2, ... (s = the optimizer's
// step_count() before the step it is used for):  lr(s) = base_lr · factor(s).
//   warm-up (s < W):   factor = f0 + (1 − f0) · s / W        (linear from f0 = warmup_start_factor to 1;
//                                                            Goyal et al. 2017, "Accurate, Large Minibatch SGD")
//   then, with t = s − W and D = decay_steps:
//     constant:     1
//     linear:       1 − (1 − floor) · min(t, D) / D                       (to `min_factor` at t = D)
//     cosine:       floor + (1 − floor) · ½ (1 + cos(π · min(t, D) / D))   (Loshchilov & Hutter 2017, SGDR,
//                                                                          without restarts)
//     exponential:  max(floor, γ^(t / D))                                 (smooth)
//     step:         max(floor, γ^⌊t / D⌋)                                 (staircase: ×γ every D steps)
// Use: `opt.set_lr(schedule.lr_at(opt.step_count())); opt.step(...)`, or factor_at() to scale several
// optimizers (dense and per-table) that have different base rates.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

#include "ctrnet/core/error.hpp"
#include "ctrnet/optim/optimizer.hpp"

namespace ctrnet {

enum class DecayKind { constant, linear, cosine, exponential, step };

inline constexpr std::string_view to_string(DecayKind k) {
  switch (k) {
    case DecayKind::constant: return "constant";
    case DecayKind::linear: return "linear";
    case DecayKind::cosine: return "cosine";
    case DecayKind::exponential: return "exponential";
    case DecayKind::step: return "step";
  }
  return "?";
}

/// "constant", "linear", "cosine", "exponential", "step" (case-insensitive). Throws ctrnet::Error.
inline DecayKind parse_decay_kind(std::string_view name) {
  const std::string s = detail::lower_ascii(name);
  for (DecayKind k : {DecayKind::constant, DecayKind::linear, DecayKind::cosine, DecayKind::exponential, DecayKind::step})
    if (s == to_string(k)) return k;
  detail::throw_error("unknown learning-rate decay '", name,
                      "'; expected one of: constant, linear, cosine, exponential, step");
}

struct ScheduleOptions {
  DecayKind decay = DecayKind::constant;
  std::int64_t warmup_steps = 0;     ///< W >= 0
  double warmup_start_factor = 0.0;  ///< f0 in [0, 1]: factor at step 0 of the warm-up
  std::int64_t decay_steps = 0;      ///< D: linear/cosine: length of the decay after warm-up;
                                     ///<    exponential/step: steps per factor γ. > 0 unless constant
  double min_factor = 0.0;           ///< floor in [0, 1] (linear, cosine, exponential, step)
  double gamma = 0.1;                ///< γ in (0, 1] (exponential, step)
};

/// \brief lr(s) = base_lr · factor(s); immutable, cheap to copy, thread-safe.
class LrSchedule {
 public:
  explicit LrSchedule(double base_lr, const ScheduleOptions& o = {}) : base_(base_lr), opt_(o) {
    detail::check_lr(base_lr, "learning-rate schedule");
    CTRNET_CHECK(o.warmup_steps >= 0, "learning-rate schedule: warmup_steps must be >= 0, got ", o.warmup_steps);
    CTRNET_CHECK(std::isfinite(o.warmup_start_factor) && o.warmup_start_factor >= 0.0 && o.warmup_start_factor <= 1.0,
                 "learning-rate schedule: warmup_start_factor must be in [0, 1], got ", o.warmup_start_factor);
    CTRNET_CHECK(std::isfinite(o.min_factor) && o.min_factor >= 0.0 && o.min_factor <= 1.0,
                 "learning-rate schedule: min_factor must be in [0, 1], got ", o.min_factor);
    if (o.decay != DecayKind::constant)
      CTRNET_CHECK(o.decay_steps > 0, "learning-rate schedule: ", to_string(o.decay),
                   " decay needs decay_steps > 0, got ", o.decay_steps);
    if (o.decay == DecayKind::exponential || o.decay == DecayKind::step)
      CTRNET_CHECK(std::isfinite(o.gamma) && o.gamma > 0.0 && o.gamma <= 1.0,
                   "learning-rate schedule: gamma must be in (0, 1], got ", o.gamma);
  }

  /// base_lr · factor_at(step).
  double lr_at(std::int64_t step) const { return base_ * factor_at(step); }

  /// The multiplier of the base rate at `step` (steps < 0 read as 0).
  double factor_at(std::int64_t step) const {
    const std::int64_t s = std::max<std::int64_t>(step, 0);
    const std::int64_t W = opt_.warmup_steps;
    if (s < W) {
      const double f0 = opt_.warmup_start_factor;
      return f0 + (1.0 - f0) * static_cast<double>(s) / static_cast<double>(W);
    }
    const std::int64_t t = s - W;
    const double D = static_cast<double>(opt_.decay_steps);
    const double floor_f = opt_.min_factor;
    switch (opt_.decay) {
      case DecayKind::constant: return 1.0;
      case DecayKind::linear: {
        const double x = static_cast<double>(std::min(t, opt_.decay_steps)) / D;
        return 1.0 - (1.0 - floor_f) * x;
      }
      case DecayKind::cosine: {
        const double x = static_cast<double>(std::min(t, opt_.decay_steps)) / D;
        return floor_f + (1.0 - floor_f) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
      }
      case DecayKind::exponential:
        return std::max(floor_f, std::pow(opt_.gamma, static_cast<double>(t) / D));
      case DecayKind::step:
        return std::max(floor_f, std::pow(opt_.gamma, static_cast<double>(t / opt_.decay_steps)));
    }
    return 1.0;
  }

  double base_lr() const { return base_; }
  const ScheduleOptions& options() const { return opt_; }

 private:
  double base_;
  ScheduleOptions opt_;
};

}  // namespace ctrnet
