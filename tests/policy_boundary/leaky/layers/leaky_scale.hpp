// A planted leak for the self-test of scripts/check-host-loops.sh (CTest `host_loops_self_test`):
// a layer that scales its input on the host instead of calling kernels::scale. The check must
// report the loop below; the exempted loop must not be reported.
#pragma once

template <class P, class T, class View>
void leaky_scale_forward(const P&, View x, View y, T a) {
  for (long r = 0; r < x.rows; ++r)
    for (long k = 0; k < x.cols; ++k) y(r, k) = a * x(r, k);
}

inline long leaky_widths(const long* widths, long n) {
  long out = 0;
  // host: adds up layer widths (integers), not tensor data
  for (long i = 0; i < n; ++i) out += widths[i];
  return out;
}
