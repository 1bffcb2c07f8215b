// save_model / load_model: for every model alias (float and double), save → load → predict is
// bit-identical, and saving the loaded model again reproduces the file.
#include <catch2/catch.hpp>

#include "io_test_util.hpp"

using namespace ctrnet;
using namespace ctrnet::io_test;

namespace {

template <class M>
void check_round_trip(M m, const std::string& tag) {
  INFO(tag);
  TempDir dir;
  randomize(m, 7);
  const std::string path = dir.file(tag + ".safetensors");
  ModelSaveOptions so;
  so.seed = 3;
  so.metadata["note"] = "hello";
  save_model(m, path, so);
  const M loaded = load_model<M>(path);
  const Schema s = small_schema();
  const Batch b = small_batch(s, 9, 5);
  const auto p0 = predict(m, b), p1 = predict(loaded, b);
  CHECK(bit_identical(p0, p1));
  CHECK(same_dense(m, loaded));
  const SafetensorsFile f(path);
  CHECK(f.metadata("architecture") == architecture_name<M>);
  CHECK(f.metadata("ctrnet_version") == kVersion);
  CHECK(f.metadata("seed") == "3");
  CHECK(f.metadata("note") == "hello");
  CHECK(f.tensors().size() == m.registry().params().size() + m.registry().tables().size());
  // Saving the loaded model gives the same options, schema and tensors again.
  save_model(loaded, dir.file("again.safetensors"), so);
  const SafetensorsFile g(dir.file("again.safetensors"));
  CHECK(g.metadata() == f.metadata());
  for (const auto& t : f.tensors()) {
    const auto a = f.bytes(t), c = g.bytes(g.at(t.name));
    CHECK((a.size() == c.size() && std::memcmp(a.data(), c.data(), a.size()) == 0));
  }
}


}  // namespace

TEST_CASE("save -> load -> predict is bit-identical for every model alias", "[io][model]") {
  const Schema s = small_schema();
  LogisticRegressionOptions lr;
  lr.crosses = {{"a", "b"}};
  lr.cross_buckets = 13;
  check_round_trip(make_logistic_regression(s, lr, 1), "logistic_regression");
  WideDeepOptions wd;
  wd.embedding_dim = 4;
  wd.hidden = {6, 3};
  wd.crosses = {{"a", "h"}};
  wd.cross_buckets = 17;
  wd.activation = Activation::gelu;
  check_round_trip(make_wide_deep(s, wd, 1), "wide_deep");
  check_round_trip(make_dcn(s, small_dcn(), 1), "dcn");
  check_round_trip(make_dcn_v2_stacked(s, small_dcn(), 1), "dcn_v2_stacked");
  check_round_trip(make_dcn_v2_stacked(s, small_dcn(2), 1), "dcn_v2_stacked_low_rank");
  check_round_trip(make_dcn_v2_parallel(s, small_dcn(2), 1), "dcn_v2_parallel");
  check_round_trip(make_dcn_mix(s, small_dcn(2), 1), "dcn_mix");
}

TEST_CASE("double models are saved as F64 and round-trip bit for bit", "[io][model]") {
  using DCNv2StackedD = BasicModel<double, DCNv2StackedBody, BinaryHead>;
  DCNv2StackedD m{make_dcn_v2_stacked_body(small_dcn(2)), BinaryHead{}};
  m.build(small_schema(), 4);
  check_round_trip(std::move(m), "dcn_v2_stacked_f64");
  TempDir dir;
  DCNv2StackedD d{make_dcn_v2_stacked_body(small_dcn()), BinaryHead{}};
  d.build(small_schema(), 4);
  save_model(d, dir.file("d.safetensors"));
  CHECK(SafetensorsFile(dir.file("d.safetensors")).at("cross.0.weight").dtype == Dtype::F64);
  CHECK_THROWS_WITH(load_model<DCNv2Stacked>(dir.file("d.safetensors")),
                    Catch::Contains("holds a F64 model, the requested type is F32"));
  auto f = make_dcn_v2_stacked(small_schema(), small_dcn(), 4);
  CHECK_THROWS_WITH(load_model_params(f, dir.file("d.safetensors")),
                    Catch::Contains("tensor 'cross.0.weight' is stored as F64, expected F32"));
}

TEST_CASE("extra.* tensors travel with the model and are skipped when loading", "[io][model]") {
  TempDir dir;
  auto m = make_dcn_v2_stacked(small_schema(), small_dcn(), 5);
  randomize(m, 11);
  const std::vector<std::int64_t> ids{1001, 1002, 4000000000LL};
  ModelSaveOptions so;
  so.extra_tensors.push_back({"extra.item_ids", Dtype::I64, {3}, std::as_bytes(std::span<const std::int64_t>(ids))});
  save_model(m, dir.file("x.safetensors"), so);
  const SafetensorsFile f(dir.file("x.safetensors"));
  std::vector<std::int64_t> back(3);
  f.read("extra.item_ids", std::span<std::int64_t>(back));
  CHECK(back == ids);
  const auto loaded = load_model<DCNv2Stacked>(dir.file("x.safetensors"));
  const Batch b = small_batch(small_schema(), 6, 2);
  CHECK(bit_identical(predict(m, b), predict(loaded, b)));
  so.extra_tensors[0].name = "item_ids";
  CHECK_THROWS_WITH(save_model(m, dir.file("y.safetensors"), so), Catch::Contains("must be named extra.<name>"));
}

TEST_CASE("multi-output models save their heads' options and round-trip bit for bit", "[io][model][multi_output]") {
  using TwoHeads = Model<DCNv2StackedBody, BinaryHead, GloveHead>;
  DCNOptions o = small_dcn(2);
  o.outputs = 2;  // one logit column per head
  GloveOptions g;
  g.x_max = 20.0;
  g.alpha = 0.5;
  TwoHeads m{make_dcn_v2_stacked_body(o), BinaryHead(HeadOptions{1.0, 0}), GloveHead(HeadOptions{0.25, 1}, g)};
  m.build(small_schema(), 4);
  check_round_trip(m, "dcn_v2_binary_glove");
  CHECK(architecture_name<TwoHeads> == "dcn_v2_stacked+binary+glove");
  TempDir dir;
  save_model(m, dir.file("m.safetensors"));
  const TwoHeads back = load_model<TwoHeads>(dir.file("m.safetensors"));
  CHECK(back.head<1>().opt.weight == 0.25);
  CHECK(back.head<1>().opt.target == 1);
  CHECK(back.head<1>().glove.x_max == 20.0);
  CHECK(back.head<1>().glove.alpha == 0.5);
  const auto options = nlohmann::json::parse(SafetensorsFile(dir.file("m.safetensors")).metadata("options"));
  CHECK(options.at("body").at("outputs") == 2);
  CHECK(options.at("heads").size() == 2);
  CHECK(options.at("heads")[1].at("kind") == "glove");

  SECTION("another head set or a single-output file is refused") {
    using Regression = Model<DCNv2StackedBody, BinaryHead, RegressionHead>;
    CHECK_THROWS_WITH(load_model<Regression>(dir.file("m.safetensors")),
                      Catch::Contains("holds a 'dcn_v2_stacked+binary+glove' model, expected 'dcn_v2_stacked+binary+regression'"));
    save_model(make_dcn_v2_stacked(small_schema(), small_dcn(), 1), dir.file("one.safetensors"));
    CHECK_THROWS_WITH(load_model<TwoHeads>(dir.file("one.safetensors")), Catch::Contains("expected 'dcn_v2_stacked+binary+glove'"));
  }
  SECTION("a body whose options cannot rebuild it is refused when saving, not when loading") {
    Linear::Options lo;
    lo.units = 2;
    TwoHeads odd{DCNv2StackedBody(detail::dcn_input(o), detail::dcn_v2_cross(o), detail::dcn_deep(o),
                                  Named<Linear>("output", Linear(lo))),  // another name than the rebuilt "logit"
                 BinaryHead{}, GloveHead(HeadOptions{1.0, 1})};
    odd.build(small_schema(), 4);
    CHECK_THROWS_WITH(save_model(odd, dir.file("odd.safetensors")), Catch::Contains("do not rebuild this model's parameters"));
  }
  SECTION("a single-output alias keeps its file format (no 'outputs', no heads)") {
    save_model(make_dcn_v2_stacked(small_schema(), small_dcn(), 1), dir.file("one.safetensors"));
    const auto one = nlohmann::json::parse(SafetensorsFile(dir.file("one.safetensors")).metadata("options"));
    CHECK_FALSE(one.contains("outputs"));
    CHECK_FALSE(one.contains("heads"));
  }
}
