// MovieLens readers: u.data / ratings.csv streams, u.user and u.item on hand-written files
// (values, genres, years, blank lines), errors with file, line, column, text and expectation,
// and the real ml-100k when CTRNET_DATA_DIR is set (skipped otherwise).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "reader_test_util.hpp"
#include "ctrnet/data/readers/movielens.hpp"

using namespace ctrnet;

namespace {
std::filesystem::path test_dir() { return std::filesystem::temp_directory_path() / "ctrnet_test_movielens"; }
std::string write_file(const std::string& name, const std::string& text) {
  const auto dir = test_dir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}
std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return ctrnet::test::strip_prefix(e.what(), test_dir().string() + "/");  // "u.data:2: ..."
  }
  return "no error";
}
}  // namespace

TEST_CASE("MovieLens u.data and ratings.csv are read as rating streams", "[data][movielens]") {
  const auto a = MovieLensRatingsReader(write_file("u.data", "17\t42\t3\t880000001\n\n23\t7\t4\t880000123\r\n5\t99\t1\t880000456"))
                     .read_all();
  REQUIRE(a.size() == 3);
  CHECK(a[0].user == 17);
  CHECK(a[0].item == 42);
  CHECK(a[0].rating == 3.f);
  CHECK(a[0].timestamp == 880000001);
  CHECK(a[2].user == 5);
  const auto b = MovieLensRatingsReader(write_file("ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260000001\n1,1029,3.0,1260000002\n"))
                     .read_all();
  REQUIRE(b.size() == 2);
  CHECK(b[0].rating == 2.5f);
  CHECK(b[1].item == 1029);
}

TEST_CASE("MovieLens u.user and u.item give users, genres and years", "[data][movielens]") {
  const auto users = read_movielens_users(write_file("u.user", "1|24|M|writer|12345\n2|53|F|other|54321\n"));
  REQUIRE(users.size() == 2);
  CHECK(users[1].gender == 'F');
  CHECK(users[1].occupation == "other");
  CHECK(movielens_age_bucket(users[0].age) == 1);
  CHECK(movielens_age_bucket(53) == 5);
  const auto items = read_movielens_items(write_file(
      "u.item",
      "1|A Made-Up Film (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
      "9|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"));
  REQUIRE(items.size() == 2);
  CHECK(items[0].year == 1995);
  CHECK(items[0].genres == std::vector<int>{3, 4, 5});  // Animation, Children's, Comedy
  CHECK(movielens_genres()[3] == "Animation");
  CHECK(items[1].year == 0);
  CHECK(items[1].genres == std::vector<int>{0});
}

TEST_CASE("MovieLens errors name the file, line, column, text and expectation", "[data][movielens][errors]") {
  CHECK(error_of([] { MovieLensRatingsReader(write_file("u.data", "1\t2\t3\t4\n1\t2\tx\t4\n")).read_all(); }) ==
        "u.data:2: column 'rating': expected a number in [0.5, 5], got \"x\"");
  CHECK(error_of([] { MovieLensRatingsReader(write_file("u.data", "1\t2\t3\n")).read_all(); }) ==
        "u.data:1: expected 4 tab-separated fields, found 3, got \"1\\t2\\t3\"");
  CHECK(error_of([] { MovieLensRatingsReader(write_file("u.data", "0\t2\t3\t4\n")).read_all(); }) ==
        "u.data:1: column 'user': expected a positive integer user id, got \"0\"");
  CHECK(error_of([] { MovieLensRatingsReader(write_file("ratings.csv", "user,movie\n")).read_all(); }) ==
        "ratings.csv:1: expected the header \"userId,movieId,rating,timestamp\", got \"user,movie\"");
  CHECK(error_of([] { read_movielens_users(write_file("u.user", "1|24|X|writer|12345\n")); }) ==
        "u.user:1: column 'gender': expected M or F, got \"X\"");
  CHECK(error_of([] {
          read_movielens_items(write_file("u.item", "1|T|01-Jan-1995||u|0|0|0|2|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"));
        }) == "u.item:1: column 'Animation': expected a genre flag 0 or 1, got \"2\"");
  CHECK_THAT(error_of([] { MovieLensRatingsReader("/nonexistent/u.data"); }), Catch::Contains("/nonexistent/u.data"));
}

TEST_CASE("ml-100k loads completely", "[data][movielens][dataset]") {
  const char* env = std::getenv("CTRNET_DATA_DIR");
  if (env == nullptr || !std::filesystem::exists(std::string(env) + "/ml-100k/u.data")) {
    WARN("CTRNET_DATA_DIR/ml-100k not found: skipped");
    return;
  }
  const MovieLens100k ml = load_movielens_100k(std::string(env) + "/ml-100k");
  CHECK(ml.ratings.size() == 100000);
  CHECK(ml.users.size() == 943);
  CHECK(ml.items.size() == 1682);
  CHECK(ml.ratings[0].user == 196);
  CHECK(ml.ratings[0].item == 242);
  CHECK(ml.items[0].title == "Toy Story (1995)");
}

TEST_CASE("MovieLens readers: every fuzz corpus input reads cleanly or throws ctrnet::Error", "[data][movielens][fuzz]") {
  const auto files = ctrnet::test::fuzz_corpus("movielens");
  REQUIRE(!files.empty());
  for (const auto& f : files) {
    INFO(f);
    int outcomes = 0;
    auto attempt = [&](auto&& read) {
      try {
        read();
      } catch (const ctrnet::Error&) {
      }
      ++outcomes;  // anything other than ctrnet::Error escapes and fails the test
    };
    attempt([&] { ctrnet::MovieLensRatingsReader(f).read_all(); });
    attempt([&] { ctrnet::read_movielens_users(f); });
    attempt([&] { ctrnet::read_movielens_items(f); });
    CHECK(outcomes == 3);
  }
}

TEST_CASE("MovieLens ratings: an empty file and a 10 MB single line", "[data][movielens][errors]") {
  ctrnet::test::TempDir dir("movielens");
  CHECK(ctrnet::MovieLensRatingsReader(dir.write("empty.data", "")).read_all().empty());
  const std::string big = "1\t" + std::string(10u << 20, '9') + "\t3\t880000001\n";
  try {
    ctrnet::MovieLensRatingsReader(dir.write("big.data", big)).read_all();
    FAIL("a 10 MB item id was accepted");
  } catch (const ctrnet::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("big.data:1") && Catch::Contains("item"));
    CHECK(msg.size() < 400);
  }
}
