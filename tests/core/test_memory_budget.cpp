// Tests for ctrnet/core/memory_budget.hpp: /proc/meminfo parsing, byte formatting, the overflow
// check of shapes, and the budget check's message (the need item by item, what is available,
// the option to lower).
#include "ctrnet/core/memory_budget.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <string>

using namespace ctrnet;

TEST_CASE("meminfo_value reads a kB line of /proc/meminfo", "[core][memory]") {
  const std::string text = "MemTotal:       131072000 kB\nMemFree:         1000 kB\nMemAvailable:   65536000 kB\n";
  CHECK(detail::meminfo_value(text, "MemAvailable") == std::uint64_t{65536000} * 1024);
  CHECK(detail::meminfo_value(text, "MemFree") == std::uint64_t{1000} * 1024);
  CHECK_FALSE(detail::meminfo_value(text, "SwapTotal").has_value());
  CHECK_FALSE(detail::meminfo_value("MemAvailable: lots\n", "MemAvailable").has_value());
  // On Linux the machine's own number is found and is positive.
  if (std::filesystem::exists("/proc/meminfo")) {
    const auto a = available_memory();
    REQUIRE(a.has_value());
    CHECK(a->bytes > 0);
    CHECK_FALSE(a->source.empty());
  }
}

TEST_CASE("format_bytes uses powers of 1000", "[core][memory]") {
  CHECK(format_bytes(512) == "512 bytes");
  CHECK(format_bytes(1500) == "1.5 kB");
  CHECK(format_bytes(2.5e9) == "2.5 GB");
  CHECK(format_bytes(3.2e16) == "3.2e+04 TB");
}

TEST_CASE("checked_product rejects shapes whose size overflows 64 bits, naming them", "[core][memory]") {
  CHECK(checked_product(1000001, 16, "table") == 16000016);
  CHECK(checked_product(0, std::numeric_limits<index_t>::max(), "table") == 0);
  CHECK_THROWS_WITH(checked_product(100000000000000, 2000000000, "--hash-buckets x --embedding-dim"),
                    "--hash-buckets x --embedding-dim: 100000000000000 x 2000000000 elements overflow a 64-bit size; "
                    "lower it");
  CHECK_THROWS_AS(checked_product(-1, 4, "x"), Error);
}

TEST_CASE("MemoryBudget::check names the need, the available memory and the largest item's option",
          "[core][memory]") {
  MemoryBudget b;
  b.add_floats("embedding tables", 26.0 * 1e9 * 16, 3, "--hash-buckets (now 1000000000) or --embedding-dim");
  b.add("dense parameters", 4e6, "--hidden");
  CHECK(b.total() == Approx(26.0 * 1e9 * 16 * 4 * 3 + 4e6));
  CHECK_NOTHROW(b.check(std::numeric_limits<std::uint64_t>::max(), "test"));
  CHECK_THROWS_WITH(b.check(8000000000ull, "MemAvailable in /proc/meminfo", "ctrnet-train"),
                    "not enough memory: ctrnet-train needs about 5.0 TB (embedding tables: 5.0 TB; dense parameters: "
                    "4.0 MB) but only 8.0 GB is available (MemAvailable in /proc/meminfo); lower "
                    "--hash-buckets (now 1000000000) or --embedding-dim");
  // Sizes far beyond 2^64 bytes add up without overflow.
  MemoryBudget huge;
  huge.add_floats("cross layers", 1e21, 11, "--embedding-dim");
  CHECK_THROWS_WITH(huge.check(1ull << 40, "test"), Catch::Contains("lower --embedding-dim"));
  CHECK_THROWS_AS(huge.add("negative", -1.0), Error);
}
