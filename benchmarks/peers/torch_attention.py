#!/usr/bin/env python3
"""PyTorch (CPU) peer of bench_attention: multi-head self-attention, the same shapes, passes,
threads and flop counts.

  mha/<pass>/torch_<variant>_t<T>/L:L/w:W/batch:B     heads H = max(1, W / 32)
    variant  module: torch.nn.MultiheadAttention(W, H, batch_first=True), need_weights=False
             sdpa:   the same math written with F.linear + F.scaled_dot_product_attention
                     (one QKV projection, a view to [B, H, L, d_h], the output projection)
    forward  under torch.no_grad() (PyTorch's cheapest forward, e.g. the MHA fast path)
    backward y.backward(dy, retain_graph=True) on one recorded graph
    fwd_bwd  a fresh graph each iteration, then backward (gradients of the input and parameters)
  GFLOPS uses bench_attention's formula (forward 8·N·w² + 4·B·L²·w, N = B·L; backward twice, fwd_bwd
  three times), so the columns are comparable. With --ctrnet-json (bench_attention
  --benchmark_out=FILE --benchmark_out_format=json, run just before) the table adds ctrnet's
  GFLOPS for the same name (simd_t<T>) and the ratio ctrnet / (faster torch variant).

Usage:
  python3 benchmarks/peers/torch_attention.py [--threads 1 2] [--min-time 0.2] [--ctrnet-json FILE]
"""
import argparse
import json
import re
import time

import torch
import torch.nn.functional as F

TOKENS = (8, 32, 64)
WIDTHS = (32, 128, 256)
PASSES = ("forward", "backward", "fwd_bwd")
BATCH = 512


def flops(pass_, B, L, w):
    f = 8 * B * L * w * w + 4 * B * L * L * w
    return f if pass_ == "forward" else 2 * f if pass_ == "backward" else 3 * f


def make(variant, L, w, g):
    H = max(1, w // 32)
    if variant == "module":
        m = torch.nn.MultiheadAttention(w, H, batch_first=True)
        return lambda x: m(x, x, x, need_weights=False)[0]
    lim = (6.0 / (w + 3 * w)) ** 0.5
    W_in = ((torch.rand(3 * w, w, generator=g) * 2 - 1) * lim).requires_grad_(True)
    b_in = torch.zeros(3 * w, requires_grad=True)
    W_out = ((torch.rand(w, w, generator=g) * 2 - 1) * (3.0 / w) ** 0.5).requires_grad_(True)
    b_out = torch.zeros(w, requires_grad=True)

    def f(x):
        B = x.shape[0]
        qkv = F.linear(x, W_in, b_in).view(B, L, 3, H, w // H).permute(2, 0, 3, 1, 4)  # [3, B, H, L, dh]
        c = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])                     # [B, H, L, dh]
        return F.linear(c.transpose(1, 2).reshape(B, L, w), W_out, b_out)
    return f


def timed(fn, min_time):
    fn()
    iters, t0 = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / iters


def bench(variant, pass_, B, L, w, min_time):
    g = torch.Generator().manual_seed(7)
    f = make(variant, L, w, g)
    x = (torch.rand(B, L, w, generator=g) * 2 - 1).requires_grad_(True)
    dy = (torch.rand(B, L, w, generator=g) * 2 - 1) * 1e-3
    if pass_ == "forward":
        def run():
            with torch.no_grad():
                f(x)
    elif pass_ == "backward":
        y = f(x)

        def run():
            y.backward(dy, retain_graph=True)
    else:
        def run():
            f(x).backward(dy)
    return flops(pass_, B, L, w) / timed(run, min_time) / 1e9


def load_ctrnet(path):
    out = {}
    if not path:
        return out
    with open(path) as fh:
        data = json.load(fh)
    for bm in data.get("benchmarks", []):
        m = re.match(r"mha/([^/]+)/simd_t(\d)/(L:\d+/w:\d+/batch:\d+)", bm["name"])
        # With --benchmark_repetitions, take the median (not the mean, stddev or cv rows).
        if bm.get("run_type") == "aggregate" and bm.get("aggregate_name") != "median":
            continue
        if m and "GFLOPS" in bm:
            out[(m.group(1), int(m.group(2)), m.group(3))] = bm["GFLOPS"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--ctrnet-json", default="")
    ap.add_argument("--filter", default="", help="regex on the benchmark name (mha/<pass>/t<T>/L:../w:..)")
    args = ap.parse_args()
    ctr = load_ctrnet(args.ctrnet_json)
    print(f"torch {torch.__version__} (CPU), MKL-DNN {torch.backends.mkldnn.is_available()}")
    print(f"{'benchmark':<40} {'module':>8} {'sdpa':>8} {'ctrnet':>8} {'ctrnet/best torch':>18}   (GFLOP/s)")
    for t in args.threads:
        torch.set_num_threads(t)
        for p in PASSES:
            for L in TOKENS:
                for w in WIDTHS:
                    shape = f"L:{L}/w:{w}/batch:{BATCH}"
                    name = f"mha/{p}/t{t}/{shape}"
                    if args.filter and not re.search(args.filter, name):
                        continue
                    gm = bench("module", p, BATCH, L, w, args.min_time)
                    gs = bench("sdpa", p, BATCH, L, w, args.min_time)
                    c = ctr.get((p, t, shape))
                    cs = f"{c:8.1f}" if c is not None else f"{'-':>8}"
                    rs = f"{c / max(gm, gs):18.2f}" if c is not None else f"{'-':>18}"
                    print(f"{name:<40} {gm:8.1f} {gs:8.1f} {cs} {rs}", flush=True)


if __name__ == "__main__":
    main()
