#!/usr/bin/env python3
"""PyTorch (CPU) peer of bench_cross: the same cross layers, shapes, passes, threads and flop counts.

  cross/<layer>/<pass>/torch_t<T>/d:D/batch:B
    v1          x0 * (x_l @ w) + b + x_l                         w: [d, 1]
    v2_full     x0 * (x_l @ Wᵀ + b) + x_l                        W: [d, d]
    v2_r64      x0 * ((x_l @ Vᵀ) @ Uᵀ + b) + x_l                 V: [64, d], U: [d, 64] (rank min(64, d))
    mix_k4_r64  Σ_i g_i · x0 * (U_i relu(C_i relu(V_i x_l)) + b) + x_l, g = softmax(G x_l), 4 experts
    forward     under torch.no_grad() (PyTorch's cheapest forward: conservative for ctrnet)
    backward    y.backward(dy, retain_graph=True) on one recorded graph (gradients accumulate, as
                ctrnet's backward accumulates)
    fwd_bwd     a fresh graph each iteration, then backward
  GFLOPS uses exactly bench_cross's flop formula (cost_of in benchmarks/bench_cross.cpp), so the two
  columns are comparable; with --ctrnet-json (bench_cross --benchmark_out=FILE
  --benchmark_out_format=json, run just before in the same session) the table adds ctrnet's
  GFLOPS for the same name (simd_t<T>) and the ratio ctrnet / torch.

Usage:
  python3 benchmarks/peers/torch_cross.py [--threads 1 2] [--min-time 0.1] [--ctrnet-json FILE]
"""
import argparse
import json
import re
import time

import torch

DIMS = (64, 429, 1024)
BATCHES = (1, 64, 512, 4096)
KINDS = ("v1", "v2_full", "v2_r64", "mix_k4_r64")
PASSES = ("forward", "backward", "fwd_bwd")
RANK, EXPERTS = 64, 4


def cost(kind, pass_, B, d):
    """Flops of bench_cross's cost_of (arithmetic only)."""
    bd = B * d
    f, b = 3 * bd, 6 * bd
    if kind == "v1":
        f += 2 * bd
        b += 4 * bd
    elif kind == "v2_full":
        f += 2 * bd * d
        b += 4 * bd * d
    elif kind == "v2_r64":
        r = min(RANK, d)
        f += 4 * bd * r
        b += 8 * bd * r
    else:
        K, r = EXPERTS, RANK
        gem = 2 * B * d * K * r + 2 * B * K * r * r + 2 * B * K * r * d + 2 * B * d * K
        f += gem + 2 * K * bd
        b += 2 * gem + 3 * K * bd
    return f if pass_ == "forward" else b if pass_ == "backward" else f + b


def make_layer(kind, d, g):
    def p(*shape):
        fan = shape[-1] + shape[0]
        lim = (6.0 / fan) ** 0.5
        return (torch.rand(*shape, generator=g) * 2 - 1).mul_(lim).requires_grad_(True)
    bias = torch.zeros(d, requires_grad=True)
    if kind == "v1":
        w = p(d, 1)
        return lambda x0, xl: x0 * (xl @ w) + bias + xl
    if kind == "v2_full":
        W = p(d, d)
        return lambda x0, xl: x0 * torch.nn.functional.linear(xl, W, bias) + xl
    if kind == "v2_r64":
        r = min(RANK, d)
        V, U = p(r, d), p(d, r)
        return lambda x0, xl: x0 * torch.nn.functional.linear(torch.nn.functional.linear(xl, V), U, bias) + xl
    K, r = EXPERTS, RANK
    G, V, C, U = p(K, d), p(K, r, d), p(K, r, r), p(K, d, r)

    def mix(x0, xl):
        gates = torch.softmax(xl @ G.t(), dim=1)                       # [B, K]
        z = torch.relu(torch.einsum("bd,krd->bkr", xl, V))             # [B, K, r]
        h = torch.relu(torch.einsum("bkr,kqr->bkq", z, C))             # [B, K, r]
        e = torch.einsum("bkr,kdr->bkd", h, U)                         # [B, K, d]
        t = (gates.unsqueeze(2) * e).sum(1)                            # [B, d]
        return x0 * (t + bias) + xl
    return mix


def timed(fn, min_time):
    fn()
    iters, t0 = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / iters


def bench(kind, pass_, B, d, min_time):
    g = torch.Generator().manual_seed(7)
    layer = make_layer(kind, d, g)
    x0 = (torch.rand(B, d, generator=g) * 2 - 1).requires_grad_(True)
    xl = (torch.rand(B, d, generator=g) * 2 - 1).requires_grad_(True)
    dy = (torch.rand(B, d, generator=g) * 2 - 1) * 1e-3
    if pass_ == "forward":
        def run():
            with torch.no_grad():
                layer(x0, xl)
    elif pass_ == "backward":
        y = layer(x0, xl)

        def run():
            y.backward(dy, retain_graph=True)
    else:
        def run():
            layer(x0, xl).backward(dy)
    return cost(kind, pass_, B, d) / timed(run, min_time) / 1e9


def load_ctrnet(path):
    out = {}
    if not path:
        return out
    with open(path) as fh:
        data = json.load(fh)
    for bm in data.get("benchmarks", []):
        m = re.match(r"(cross/[^/]+/[^/]+)/simd_t(\d)/(d:\d+/batch:\d+)", bm["name"])
        if m and "GFLOPS" in bm:
            out[(m.group(1) + "/" + m.group(3), int(m.group(2)))] = bm["GFLOPS"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--ctrnet-json", default="")
    ap.add_argument("--filter", default="", help="regex on the benchmark name")
    args = ap.parse_args()
    ctr = load_ctrnet(args.ctrnet_json)
    print(f"torch {torch.__version__} (CPU), MKL-DNN {torch.backends.mkldnn.is_available()}")
    print(f"{'benchmark':<52} {'torch GFLOPS':>13} {'ctrnet GFLOPS':>14} {'ctrnet/torch':>13}")
    for t in args.threads:
        torch.set_num_threads(t)
        for kind in KINDS:
            for p in PASSES:
                for d in DIMS:
                    for B in BATCHES:
                        key = f"cross/{kind}/{p}/d:{d}/batch:{B}"
                        name = f"cross/{kind}/{p}/torch_t{t}/d:{d}/batch:{B}"
                        if args.filter and not re.search(args.filter, name):
                            continue
                        gf = bench(kind, p, B, d, args.min_time)
                        c = ctr.get((key, t))
                        cs = f"{c:14.1f}" if c is not None else f"{'-':>14}"
                        rs = f"{c / gf:13.2f}" if c is not None else f"{'-':>13}"
                        print(f"{name:<52} {gf:13.1f} {cs} {rs}", flush=True)


if __name__ == "__main__":
    main()
