// Finiteness scans for parameters and optimizer state (loaded files, trained models): the index of
// the first NaN or ±inf, optionally also of the first negative value. A branch-free pass over
// blocks of 1024 elements on the values' bit patterns (the compiler vectorises it, unaligned bytes
// included; -ffast-math cannot remove it), then a scalar search inside the block with a bad value.
//   x: [n] float, double, or the raw little-endian bytes of n BF16/F32/F64 values
//   -> the first bad index, or n when there is none
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>

namespace ctrnet {

namespace detail {

/// Bits of an IEEE value of `Bytes` bytes (2: bfloat16, 4: float, 8: double).
template <std::size_t Bytes>
using FloatBits =
    std::conditional_t<Bytes == 2, std::uint16_t, std::conditional_t<Bytes == 4, std::uint32_t, std::uint64_t>>;

template <std::size_t Bytes>
std::size_t first_bad_bits(const std::byte* p, std::size_t n, bool non_negative) {
  static_assert(Bytes == 2 || Bytes == 4 || Bytes == 8);
  using U = FloatBits<Bytes>;
  constexpr U exponent = Bytes == 2 ? U(0x7f80u) : Bytes == 4 ? U(0x7f800000u) : U(0x7ff0000000000000ull);
  constexpr U sign = U(U(1) << (Bytes * 8 - 1));
  const U neg = non_negative ? U(1) : U(0);
  auto bad = [&](std::size_t i) {
    U u;
    std::memcpy(&u, p + i * Bytes, Bytes);
    // all exponent bits set: NaN or ±inf; the sign bit with a non-zero magnitude: negative (-0 is fine)
    return U(U((u & exponent) == exponent) | U(neg & U(u > sign)));
  };
  constexpr std::size_t kBlock = 1024;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t e = std::min(n, b + kBlock);
    U any = 0;
    for (std::size_t i = b; i < e; ++i) any |= bad(i);
    if (any != 0)
      for (std::size_t i = b; i < e; ++i)
        if (bad(i)) return i;
  }
  return n;
}

}  // namespace detail

/// \brief Index of the first element of `x` that is NaN or ±inf or, with `non_negative`, below
/// zero (-0.0 counts as zero); x.size() when every element is fine.
template <class T>
std::size_t first_non_finite(std::span<const T> x, bool non_negative = false) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "first_non_finite: float or double");
  return detail::first_bad_bits<sizeof(T)>(reinterpret_cast<const std::byte*>(x.data()), x.size(), non_negative);
}

/// \brief The same on the raw bytes of values of `value_bytes` bytes each (2: bfloat16, 4: float,
/// 8: double), e.g. a memory-mapped tensor that is not aligned to its element size.
inline std::size_t first_non_finite_bytes(std::span<const std::byte> bytes, std::size_t value_bytes,
                                          bool non_negative = false) {
  const std::size_t n = value_bytes == 0 ? 0 : bytes.size() / value_bytes;
  switch (value_bytes) {
    case 2: return detail::first_bad_bits<2>(bytes.data(), n, non_negative);
    case 4: return detail::first_bad_bits<4>(bytes.data(), n, non_negative);
    case 8: return detail::first_bad_bits<8>(bytes.data(), n, non_negative);
    default: return n;
  }
}

/// A value for an error message: "nan" whatever the NaN's sign bit, "inf", "-inf", or the number.
inline std::string value_text(double v) {
  if (std::isnan(v)) return "nan";
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace ctrnet
