// Tests for optim/schedule.hpp: learning-rate values at chosen steps for warm-up + each decay,
// and the errors for bad options.
#include <catch2/catch.hpp>

#include <cmath>
#include <span>
#include <vector>

#include "ctrnet/optim/schedule.hpp"
#include "ctrnet/optim/sgd.hpp"

using namespace ctrnet;

namespace {
bool near(double a, double b) { return std::abs(a - b) <= 1e-15 + 1e-12 * std::abs(b); }
}  // namespace

TEST_CASE("Constant schedule returns the base rate at every step", "[optim][schedule]") {
  LrSchedule s(0.01);
  CHECK(s.lr_at(0) == 0.01);
  CHECK(s.lr_at(123456) == 0.01);
  CHECK(s.factor_at(-5) == 1.0);
}

TEST_CASE("Linear warm-up then linear decay to a floor", "[optim][schedule]") {
  // W = 4 from 0: lr(s) = 0.01 s/4 for s < 4;  then D = 10: lr = 0.01 (1 - t/10), t = s - 4; 0 from s = 14
  LrSchedule s(0.01, {.decay = DecayKind::linear, .warmup_steps = 4, .decay_steps = 10});
  CHECK(s.lr_at(0) == 0.0);
  CHECK(near(s.lr_at(1), 0.0025));
  CHECK(near(s.lr_at(2), 0.005));
  CHECK(near(s.lr_at(4), 0.01));
  CHECK(near(s.lr_at(9), 0.005));
  CHECK(s.lr_at(14) == 0.0);
  CHECK(s.lr_at(20) == 0.0);
  // No warm-up, floor 0.2: lr = 0.01 (1 - 0.8 t/10): t = 5 -> 0.006, t >= 10 -> 0.002
  LrSchedule f(0.01, {.decay = DecayKind::linear, .decay_steps = 10, .min_factor = 0.2});
  CHECK(near(f.lr_at(0), 0.01));
  CHECK(near(f.lr_at(5), 0.006));
  CHECK(near(f.lr_at(10), 0.002));
  CHECK(near(f.lr_at(100), 0.002));
}

TEST_CASE("Warm-up from a start factor then cosine decay to a floor", "[optim][schedule]") {
  // W = 10, f0 = 0.1: lr(s) = 0.01 (0.1 + 0.9 s/10);  then D = 100, floor 0.1:
  //   lr = 0.01 (0.1 + 0.9 · ½ (1 + cos(π t/100))), t = s - 10
  LrSchedule s(0.01, {.decay = DecayKind::cosine, .warmup_steps = 10, .warmup_start_factor = 0.1, .decay_steps = 100,
                      .min_factor = 0.1});
  CHECK(near(s.lr_at(0), 0.001));
  CHECK(near(s.lr_at(5), 0.0055));
  CHECK(near(s.lr_at(10), 0.01));
  CHECK(near(s.lr_at(15), 0.00994459753267812));  // t = 5: 0.1 + 0.45 (1 + cos(0.05 π))
  CHECK(near(s.lr_at(60), 0.0055));               // t = 50: halfway
  CHECK(near(s.lr_at(110), 0.001));               // t = D: the floor
  CHECK(near(s.lr_at(200), 0.001));
}

TEST_CASE("Exponential and step decay", "[optim][schedule]") {
  // γ = 0.5 per 10 steps, smooth: lr = 0.01 · 0.5^(s/10)
  LrSchedule e(0.01, {.decay = DecayKind::exponential, .decay_steps = 10, .gamma = 0.5});
  CHECK(near(e.lr_at(0), 0.01));
  CHECK(near(e.lr_at(5), 0.01 * std::sqrt(0.5)));
  CHECK(near(e.lr_at(10), 0.005));
  CHECK(near(e.lr_at(20), 0.0025));
  LrSchedule ef(0.01, {.decay = DecayKind::exponential, .decay_steps = 10, .min_factor = 0.3, .gamma = 0.5});
  CHECK(near(ef.lr_at(20), 0.003));  // floored at 0.3 · 0.01
  // Staircase: ×0.1 every 3 steps, after a 2-step warm-up from 0.5
  LrSchedule st(0.01, {.decay = DecayKind::step, .warmup_steps = 2, .warmup_start_factor = 0.5, .decay_steps = 3,
                       .gamma = 0.1});
  CHECK(near(st.lr_at(0), 0.005));
  CHECK(near(st.lr_at(1), 0.0075));
  CHECK(near(st.lr_at(2), 0.01));
  CHECK(near(st.lr_at(4), 0.01));
  CHECK(near(st.lr_at(5), 0.001));
  CHECK(near(st.lr_at(7), 0.001));
  CHECK(near(st.lr_at(8), 1e-4));
}

TEST_CASE("A schedule drives an optimizer through set_lr", "[optim][schedule]") {
  LrSchedule s(0.1, {.decay = DecayKind::step, .decay_steps = 1, .gamma = 0.5});
  Sgd<double> opt({.lr = 0.1});
  std::vector<double> theta{1.0}, g{1.0};
  // steps use lr 0.1, 0.05, 0.025: θ = 1 - 0.175 = 0.825
  for (int i = 0; i < 3; ++i) {
    opt.set_lr(s.lr_at(opt.step_count()));
    opt.step(cpu_scalar{}, std::span<double>(theta), std::span<const double>(g));
  }
  CHECK(near(theta[0], 0.825));
  CHECK(opt.lr() == 0.025);
}

TEST_CASE("Schedules reject bad options and unknown names with ctrnet::Error", "[optim][schedule][errors]") {
  CHECK(parse_decay_kind("Cosine") == DecayKind::cosine);
  CHECK(parse_decay_kind("step") == DecayKind::step);
  CHECK_THROWS_WITH(parse_decay_kind("polynomial"), Catch::Contains("unknown learning-rate decay 'polynomial'"));
  CHECK_THROWS_AS(LrSchedule(0.0), Error);
  CHECK_THROWS_AS(LrSchedule(-1.0), Error);
  CHECK_THROWS_AS(LrSchedule(0.1, {.warmup_steps = -1}), Error);
  CHECK_THROWS_AS(LrSchedule(0.1, {.warmup_steps = 5, .warmup_start_factor = 1.5}), Error);
  CHECK_THROWS_AS(LrSchedule(0.1, {.decay = DecayKind::linear}), Error);  // decay_steps = 0
  CHECK_THROWS_AS(LrSchedule(0.1, {.decay = DecayKind::cosine, .decay_steps = 10, .min_factor = -0.1}), Error);
  CHECK_THROWS_AS(LrSchedule(0.1, {.decay = DecayKind::exponential, .decay_steps = 10, .gamma = 0.0}), Error);
  CHECK_THROWS_AS(LrSchedule(0.1, {.decay = DecayKind::step, .decay_steps = 10, .gamma = 1.5}), Error);
}
