// Shared by the guarded-policy tests (tests/policy_boundary/test_guarded*.cpp): host copies of a
// model's parameters, bitwise comparison, the save → load round trip on cpu_guarded, and a forked
// child whose death by SIGSEGV (and stderr) a test can check.
#pragma once
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../temp_dir.hpp"
#include "ctrnet/io/model_io.hpp"
#include "ctrnet/testing/cpu_guarded.hpp"

namespace ctrnet::guarded_test {

using testing::cpu_guarded;
using testing::GuardedContext;

/// Host copies of every parameter of a model: the flat dense buffer, then each table.
template <class M>
std::vector<std::vector<float>> host_params(const M& m) {
  std::vector<std::vector<float>> out;
  const auto& p = m.params();
  out.emplace_back(static_cast<std::size_t>(p.dense.size()));
  p.dense.download(out.back().data());
  for (const auto& t : p.tables) {
    out.emplace_back(static_cast<std::size_t>(t.size()));
    t.download(out.back().data());
  }
  return out;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class T>
  requires std::is_arithmetic_v<T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Saves `model` (parameters in guarded memory), loads it back into guarded memory and into the
/// host: the parameters are the same bits, and both copies predict `v` identically.
template <class M>
void check_save_load(const M& model, const cpu_guarded& gp, const BatchView& v) {
  const test_util::TempDir dir;
  const std::string path = (dir.path / "model.safetensors").string();
  save_model(model, path);
  auto back = [&] {
    const PolicyScope scope(gp);
    return load_model<M>(path);
  }();
  const M host_back = load_model<M>(path);
  CHECK(host_params(back) == host_params(model));
  CHECK(host_params(host_back) == host_params(model));
  if constexpr (requires(typename M::Cache& c) { model.predict(cpu_scalar{}, v, MatrixView<float>{}, c); }) {
    Matrix<float> a(v.size, model.output_width()), b(v.size, model.output_width());
    typename M::Cache ca, cb;
    back.predict(gp, v, a.view(), ca);  // a kernel may write host memory: the output is the caller's
    host_back.predict(cpu_scalar{}, v, b.view(), cb);
    CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0);
  }
}

struct ChildResult {
  int status = 0;
  std::string stderr_text;
};

// Runs `body` in a forked child with the guard's fault reporter installed (Catch2 installs its own
// SIGSEGV handler around each test case) and its stderr captured; returns its wait status and stderr.
template <class Body>
ChildResult run_in_child(Body body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    testing::GuardedMemory::install_fault_reporter();
    body();
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.stderr_text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  REQUIRE(::waitpid(pid, &r.status, 0) == pid);
  return r;
}

}  // namespace ctrnet::guarded_test
