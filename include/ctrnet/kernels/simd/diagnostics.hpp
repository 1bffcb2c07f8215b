// CTRNET_SIMD_WARNINGS_BEGIN / _END: put around the code of a cpu_simd kernel header (after its
// includes) to silence one false positive of GCC 12 there, and nothing else.
//
// GCC 12 (before 12.3) warns "'__Y' may be used uninitialized [-Wmaybe-uninitialized]" inside
// avx512fintrin.h wherever an AVX-512 intrinsic that takes an _mm512_undefined_*() merge source
// (sqrt, max, cvtt, roundscale, shifts...) is inlined, as xsimd's batch<float, avx512*> math is into
// our kernels: about 40 warnings and 1,000 lines for quickstart on an AVX-512 machine. It is GCC bug
// 105593 (fixed in GCC 13 and 12.3); the value is never read (the mask is all ones). GCC checks the
// diagnostic pragmas at every location of the inlining chain, so ignoring the warning over our
// kernels' code silences it for them only; the intrinsic headers and other code are untouched.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && defined(__AVX512F__)
#define CTRNET_SIMD_WARNINGS_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define CTRNET_SIMD_WARNINGS_END _Pragma("GCC diagnostic pop")
#else
#define CTRNET_SIMD_WARNINGS_BEGIN
#define CTRNET_SIMD_WARNINGS_END
#endif
