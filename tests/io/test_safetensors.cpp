// safetensors writer and defensive reader: byte layout as the reference implementation writes it,
// round trips, atomic replacement, bfloat16 rounding, every malformed-header case giving a
// ctrnet::Error that names the problem, and the fuzzer's saved inputs replayed.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctrnet/io/safetensors.hpp"
#include "../temp_dir.hpp"

using namespace ctrnet;
namespace fs = std::filesystem;

namespace {

using test_util::TempDir;

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  std::memcpy(b.data(), c.data(), c.size());
  return b;
}

/// A file image: 8-byte length, `header` verbatim, then `data_size` bytes of data.
std::vector<std::byte> image(const std::string& header, std::size_t data_size, std::uint64_t length_override = 0) {
  std::vector<std::byte> b(8 + header.size() + data_size, std::byte{0x11});
  const std::uint64_t n = length_override ? length_override : header.size();
  for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::byte>(n >> (8 * i));
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

std::string parse_error(const std::vector<std::byte>& b) {
  try {
    (void)SafetensorsView::parse(b, "bad.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors writer lays out the file like the reference implementation", "[io][safetensors]") {
  TempDir dir;
  const std::vector<float> a{1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  const std::vector<double> b{0.5, -0.25};
  const std::vector<std::uint16_t> c{0x3f80, 0x4000, 0x4040};
  const std::vector<TensorToWrite> ts{
      {"layer.a", Dtype::F32, {2, 3}, std::as_bytes(std::span<const float>(a))},
      {"z.c", Dtype::BF16, {3}, std::as_bytes(std::span<const std::uint16_t>(c))},
      {"b", Dtype::F64, {2}, std::as_bytes(std::span<const double>(b))},
  };
  const std::string path = dir.file("m.safetensors");
  write_safetensors(path, ts, {{"k", "v"}});
  const auto bytes = read_bytes(path);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::to_integer<std::uint64_t>(bytes[static_cast<std::size_t>(i)]) << (8 * i);
  CHECK(n % 8 == 0);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.find_last_of('}'));  // padded with spaces only
  CHECK(bytes.size() == 8 + n + 24 + 16 + 6);
  // Largest item size first: b (F64) at 0, then layer.a (F32), then z.c (BF16).
  CHECK(header.find("\"b\":{\"data_offsets\":[0,16]") != std::string::npos);
  CHECK(header.find("\"layer.a\":{\"data_offsets\":[16,40]") != std::string::npos);
  CHECK(header.find("\"z.c\":{\"data_offsets\":[40,46]") != std::string::npos);
  CHECK(header.find("\"__metadata__\":{\"k\":\"v\"}") != std::string::npos);
  // No temporary file is left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  const SafetensorsFile f(path);
  CHECK(f.metadata("k") == "v");
  REQUIRE(f.tensors().size() == 3);
  CHECK(f.tensors()[0].name == "b");
  const TensorInfo& ta = f.at("layer.a");
  CHECK(ta.dtype == Dtype::F32);
  CHECK(ta.shape == std::vector<std::int64_t>{2, 3});
  std::vector<float> a2(6);
  f.read("layer.a", std::span<float>(a2));
  CHECK(a2 == a);
  std::vector<double> b2(2);
  f.read("b", std::span<double>(b2));
  CHECK(b2 == b);
  std::vector<float> c2(3);
  f.read("z.c", std::span<float>(c2), {Dtype::BF16});
  CHECK(c2 == std::vector<float>{1.f, 2.f, 3.f});
  CHECK_THROWS_WITH(f.read("layer.a", std::span<double>(b2)), Catch::Contains("'layer.a' is stored as F32, expected F64"));
  std::vector<float> wrong(5);
  CHECK_THROWS_WITH(f.read("layer.a", std::span<float>(wrong)), Catch::Contains("has 6 elements, expected 5"));
  CHECK_THROWS_WITH(f.at("nope"), Catch::Contains("no tensor named 'nope'"));
  CHECK_THROWS_WITH(f.metadata("nope"), Catch::Contains("no entry 'nope'"));
}

TEST_CASE("safetensors writer replaces a file atomically and rejects bad tensors", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  const std::vector<float> v1{1.f}, v2{2.f, 3.f};
  write_safetensors(path, std::vector<TensorToWrite>{{"w", Dtype::F32, {1}, std::as_bytes(std::span<const float>(v1))}});
  write_safetensors(path, std::vector<TensorToWrite>{{"w", Dtype::F32, {2}, std::as_bytes(std::span<const float>(v2))}});
  {
    const SafetensorsFile f(path);
    CHECK(f.at("w").shape == std::vector<std::int64_t>{2});
  }
  // A failing write leaves the previous file untouched and no temporary behind.
  CHECK_THROWS_WITH(write_safetensors(path, std::vector<TensorToWrite>{{"w", Dtype::F32, {3},
                                                                         std::as_bytes(std::span<const float>(v2))}}),
                    Catch::Contains("'w' has 8 bytes but its shape and dtype F32 need 12"));
  CHECK_THROWS_WITH(write_safetensors(path, std::vector<TensorToWrite>{
                                                {"w", Dtype::F32, {1}, std::as_bytes(std::span<const float>(v1))},
                                                {"w", Dtype::F32, {1}, std::as_bytes(std::span<const float>(v1))}}),
                    Catch::Contains("'w' is given twice"));
  CHECK_THROWS_WITH(write_safetensors(path, std::vector<TensorToWrite>{
                                                {"__metadata__", Dtype::F32, {1}, std::as_bytes(std::span<const float>(v1))}}),
                    Catch::Contains("reserved"));
  CHECK_THROWS_WITH(write_safetensors(dir.file("no/such/dir/x.safetensors"), std::vector<TensorToWrite>{}),
                    Catch::Contains("cannot create"));
  const SafetensorsFile f(path);
  std::vector<float> got(2);
  f.read("w", std::span<float>(got));
  CHECK(got == v2);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("an empty safetensors file round-trips", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  write_safetensors(path, std::vector<TensorToWrite>{});
  const SafetensorsFile f(path);
  CHECK(f.tensors().empty());
  CHECK(f.metadata().empty());
}

TEST_CASE("bfloat16 conversion rounds to nearest, ties to even", "[io][safetensors]") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(float_to_bf16(-2.0f) == 0xc000);
  // 1 + 2^-8 is exactly half-way between bf16 1.0 (even) and 1.0078125: rounds down to even.
  CHECK(float_to_bf16(1.00390625f) == 0x3f80);
  // 1.0078125 + 2^-8 is half-way between 0x3f81 (odd) and 0x3f82 (even): rounds up to even.
  CHECK(float_to_bf16(1.01171875f) == 0x3f82);
  // Just above half-way rounds up.
  CHECK(float_to_bf16(std::nextafter(1.00390625f, 2.f)) == 0x3f81);
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // overflows to +inf when rounding
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (float x : {0.f, 1.f, -3.5f, 1e-20f, 123456.f}) CHECK(std::abs(bf16_to_float(float_to_bf16(x)) - x) <= std::abs(x) / 256);
}

TEST_CASE("safetensors reader rejects every malformed header with a named error", "[io][safetensors]") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(parse_error(image(ok, 8)) == "no error");

  CHECK_THAT(parse_error(std::vector<std::byte>(5)), Catch::Contains("shorter than the 8-byte header length"));
  CHECK_THAT(parse_error(image(ok, 8, 1000)), Catch::Contains("header length 1000 goes beyond the end of the file"));
  CHECK_THAT(parse_error(image(ok, 8, ~std::uint64_t(0))), Catch::Contains("goes beyond the end of the file"));
  CHECK_THAT(parse_error(image("[1,2]", 0)), Catch::Contains("not a JSON object"));
  CHECK_THAT(parse_error(image("{\"a\":", 0)), Catch::Contains("not valid JSON"));
  CHECK_THAT(parse_error(image("", 0)), Catch::Contains("not a JSON object"));
  CHECK_THAT(parse_error(image(std::string(100, '[') + "{", 0)), Catch::Contains("not a JSON object"));
  std::string deep = "{\"a\":";
  deep.append(100, '[').append(100, ']').append("}");
  CHECK_THAT(parse_error(image(deep, 0)), Catch::Contains("nests JSON deeper"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': unknown dtype 'F17'"));
  CHECK_THAT(parse_error(image(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': missing or non-string dtype"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': shape entry -2 is not a non-negative integer"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("shape entry 2.5"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': missing shape"));
  // A shape whose byte count overflows 64 bits.
  CHECK_THAT(parse_error(image(
                 R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("needs 2^64 bytes or more"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8)),
             Catch::Contains("tensor 'a': data_offsets [0, 16] lie outside the data section of 8 bytes"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
             Catch::Contains("lie outside"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", 8)),
             Catch::Contains("are not non-negative integers"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)),
             Catch::Contains("data_offsets must be an array [begin, end]"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                               12)),
             Catch::Contains("tensor 'b': data_offsets [4, 12] overlap the previous tensor, which ends at 8"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                               16)),
             Catch::Contains("tensor 'b': data_offsets start at 12 but the previous tensor ends at 8 (a hole"));
  CHECK_THAT(parse_error(image(ok, 12)), Catch::Contains("cover 8 bytes of the data section but it holds 12"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                               16)),
             Catch::Contains("the header names 'a' twice"));
  CHECK_THAT(parse_error(image(R"({"__metadata__":{"k":1}})", 0)), Catch::Contains("__metadata__ entry 'k' is not a string"));
  CHECK_THAT(parse_error(image(R"({"__metadata__":[1]})", 0)), Catch::Contains("__metadata__ is not a JSON object"));
  CHECK_THAT(parse_error(image(R"({"a":3})", 0)), Catch::Contains("tensor 'a': its entry is not a JSON object"));
  // Every message names the source.
  CHECK_THAT(parse_error(image("{\"a\":", 0)), Catch::StartsWith("bad.safetensors: "));
  // Zero-sized tensors may share an offset; trailing spaces pad the header.
  CHECK(parse_error(image(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                          R"("f":{"dtype":"I64","shape":[0],"data_offsets":[0,0]}}   )",
                          0)) == "no error");
}

TEST_CASE("safetensors reader reports unreadable files", "[io][safetensors]") {
  TempDir dir;
  CHECK_THROWS_WITH(SafetensorsFile(dir.file("missing.safetensors")), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(SafetensorsFile(dir.path.string()), Catch::Contains("not a regular file"));
  const std::string tiny = dir.file("tiny.safetensors");
  std::ofstream(tiny) << "abc";
  CHECK_THROWS_WITH(SafetensorsFile(tiny), Catch::Contains("3 bytes, shorter than the 8-byte header length"));
  // A truncated copy of a valid file.
  const std::string full = dir.file("full.safetensors");
  const std::vector<float> v(16, 1.f);
  write_safetensors(full, std::vector<TensorToWrite>{{"w", Dtype::F32, {16}, std::as_bytes(std::span<const float>(v))}});
  auto bytes = read_bytes(full);
  bytes.resize(bytes.size() - 4);
  std::ofstream(dir.file("cut.safetensors"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                                     static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_WITH(SafetensorsFile(dir.file("cut.safetensors")), Catch::Contains("tensor 'w': data_offsets [0, 64] lie outside"));
}

TEST_CASE("the fuzzer's saved inputs are rejected or parsed without a crash", "[io][safetensors][fuzz]") {
  const fs::path corpus = fs::path("tests/io/fuzz_corpus");
  REQUIRE(fs::is_directory(corpus));  // tests run from the project root
  int files = 0;
  for (const auto& e : fs::directory_iterator(corpus)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const auto bytes = read_bytes(e.path().string());
    INFO(e.path().string());
    try {
      const auto v = SafetensorsView::parse(bytes, e.path().string());
      for (const auto& t : v.tensors()) CHECK(v.bytes(t).size() == t.end - t.begin);
    } catch (const Error&) {
      // expected for malformed inputs
    }
  }
  CHECK(files > 0);
}
