// CTRNET_SIMD_WARNINGS_BEGIN / _END: put around the code of a cpu_simd kernel header (after its
// includes) to silence one false positive of GCC 12 there, and nothing else.
//
// GCC 12 warns "'__Y' may be used uninitialized [-Wmaybe-uninitialized]" (at -O1: "'__Y' is used
// uninitialized [-Wuninitialized]") inside avx512fintrin.h wherever an AVX-512 intrinsic that takes
// an _mm512_undefined_*() merge source (sqrt, cvtt, roundscale, shifts...) is inlined, as xsimd's
// batch<float, avx512*> math is into our kernels: 40 warnings, 1,000 lines, for quickstart alone on
// an AVX-512 machine. It is GCC bug 105593 (fixed in GCC 13); the value is never read (the mask is
// all ones). GCC checks the diagnostic pragmas at every location of the inlining chain, so ignoring
// the warnings over our kernels' code silences them there only; the intrinsic headers and other
// code are untouched. Where xsimd's functions stay out of line (the unit tests build at -O1), the
// chain never reaches our code: the top-level CMakeLists.txt silences the two warnings for our own
// tests and examples on GCC 12 with AVX-512.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && defined(__AVX512F__)
#define CTRNET_SIMD_WARNINGS_BEGIN                             \
  _Pragma("GCC diagnostic push")                               \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define CTRNET_SIMD_WARNINGS_END _Pragma("GCC diagnostic pop")
#else
#define CTRNET_SIMD_WARNINGS_BEGIN
#define CTRNET_SIMD_WARNINGS_END
#endif
