// Interoperability: model files written outside ctrnet by tools/make_fixture.py (numpy, with the
// name and layout mapping of docs/interop.md) load with load_model and predict what the script's
// numpy forward pass computed, to 1e-6. The fixtures are committed in tests/io/fixtures/
// (CTRNET_FIXTURE_DIR overrides the directory, e.g. to test freshly generated ones).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctrnet/io/model_io.hpp"
#include "ctrnet/policy/cpu_scalar.hpp"

using namespace ctrnet;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) {
  const char* dir = std::getenv("CTRNET_FIXTURE_DIR");
  return (fs::path(dir != nullptr ? dir : "tests/io/fixtures") / name).string();
}

template <class M>
void check_fixture(const std::string& arch) {
  INFO(arch);
  const M m = load_model<M>(fixture(arch + ".safetensors"));
  const SafetensorsFile e(fixture(arch + ".expected.safetensors"));
  const auto n = e.at("prob").shape.at(0);
  REQUIRE(e.at("dense").shape == std::vector<std::int64_t>{n, 2});
  REQUIRE(e.at("ids").shape == std::vector<std::int64_t>{n, 2});
  std::vector<float> dense(static_cast<std::size_t>(2 * n));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(2 * n));
  std::vector<double> prob(static_cast<std::size_t>(n));
  e.read("dense", std::span<float>(dense));
  e.read("ids", std::span<std::int64_t>(ids));
  e.read("prob", std::span<double>(prob));
  Batch b(m.schema());
  for (std::int64_t r = 0; r < n; ++r) {
    const std::vector<float> d{dense[static_cast<std::size_t>(2 * r)], dense[static_cast<std::size_t>(2 * r + 1)]};
    const std::vector<FeatureId> id{ids[static_cast<std::size_t>(2 * r)], ids[static_cast<std::size_t>(2 * r + 1)]};
    b.add_one_hot(d, id, 0.f, 1.f);
  }
  Matrix<float> out(b.size(), 1);
  typename M::Cache c;
  m.predict(cpu_scalar{}, b.view(), out.view(), c);
  for (std::int64_t r = 0; r < n; ++r) {
    INFO("example " << r);
    CHECK(std::abs(double(out(r, 0)) - prob[static_cast<std::size_t>(r)]) <= 1e-6);
  }
  // Not a constant predictor: the fixture exercises the inputs.
  CHECK(std::abs(prob[0] - prob[1]) > 1e-3);

  // Saved again by ctrnet, every tensor keeps its bytes (names, dtypes, shapes, layout).
  const fs::path tmp = fs::temp_directory_path() / ("ctrnet_fixture_" + std::to_string(::getpid()) + arch);
  save_model(m, tmp.string());
  {
    const SafetensorsFile a(fixture(arch + ".safetensors")), s(tmp.string());
    CHECK(a.tensors().size() == s.tensors().size());
    for (const auto& t : a.tensors()) {
      const TensorInfo& u = s.at(t.name);
      CHECK(u.shape == t.shape);
      CHECK(u.dtype == t.dtype);
      const auto x = a.bytes(t), y = s.bytes(u);
      CHECK((x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin())));
    }
  }
  fs::remove(tmp);
}

}  // namespace

TEST_CASE("a DCN-V2 written by numpy predicts in ctrnet what numpy computed", "[io][interop]") {
  check_fixture<DCNv2Stacked>("dcn_v2_stacked");
}

TEST_CASE("a Wide & Deep written by numpy predicts in ctrnet what numpy computed", "[io][interop]") {
  check_fixture<WideDeep>("wide_deep");
}
