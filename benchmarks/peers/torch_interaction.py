#!/usr/bin/env python3
"""PyTorch (CPU) peer of bench_interaction: DLRM's dot interaction as the reference implements it
(facebookresearch/dlrm dlrm_s_pytorch.py, interact_features, arch_interaction_op == "dot"), with the
same shapes, passes, threads and flop counts.

  interaction/<pass>/torch_t<T>/d:D/batch:B      n = 27 vectors (F = 26 embeddings + the bottom output)
    T = [B, n, d] (a leaf), x = T[:, 0]
    Z = torch.bmm(T, T.transpose(1, 2)); Zflat = Z[:, li, lj]; R = torch.cat([x, Zflat], 1)
    with li, lj the strict lower triangle in row-major order (the reference's pair order).
    forward     under torch.no_grad() (PyTorch's cheapest forward: conservative for ctrnet)
    backward    R.backward(dR, retain_graph=True) on one recorded graph (gradients accumulate, as
                ctrnet's backward accumulates)
    fwd_bwd     a fresh graph each iteration, then backward
  GFLOPS uses exactly bench_interaction's count (the kept triangle: forward 2 P d, backward 4 P d per
  example, P = 351), although bmm computes the whole T Tᵀ. With --ctrnet-json (bench_interaction
  --benchmark_out=FILE --benchmark_out_format=json, run just before in the same session) the table
  adds ctrnet's GFLOPS for the same name (simd_t<T>) and the ratio ctrnet / torch.

Usage:
  python3 benchmarks/peers/torch_interaction.py [--threads 1 2] [--min-time 0.1] [--ctrnet-json FILE]
"""
import argparse
import json
import re
import time

import torch

DIMS = (16, 32, 64, 128)
BATCHES = (512, 4096)
PASSES = ("forward", "backward", "fwd_bwd")
N = 27


def cost(pass_, B, d):
    P = N * (N - 1) // 2
    f, b = 2 * P * d * B, 4 * P * d * B
    return f if pass_ == "forward" else b if pass_ == "backward" else f + b


LI = torch.tensor([i for i in range(N) for j in range(i)])
LJ = torch.tensor([j for i in range(N) for j in range(i)])


def interact(T):
    x = T[:, 0]
    Z = torch.bmm(T, torch.transpose(T, 1, 2))
    return torch.cat([x, Z[:, LI, LJ]], dim=1)


def timed(fn, min_time):
    fn()
    iters, t0 = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / iters


def bench(pass_, B, d, min_time):
    g = torch.Generator().manual_seed(7)
    T = (torch.rand(B, N, d, generator=g) * 2 - 1).requires_grad_(True)
    P = N * (N - 1) // 2
    dR = (torch.rand(B, d + P, generator=g) * 2 - 1) * 1e-3
    if pass_ == "forward":
        def run():
            with torch.no_grad():
                interact(T)
    elif pass_ == "backward":
        R = interact(T)

        def run():
            R.backward(dR, retain_graph=True)
    else:
        def run():
            interact(T).backward(dR)
    return cost(pass_, B, d) / timed(run, min_time) / 1e9


def check_order():
    """The pair order of the hand-computed example in tests/layers/test_dot_interaction.cpp."""
    T = torch.tensor([[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]])
    Z = torch.bmm(T, T.transpose(1, 2))
    li = [i for i in range(3) for j in range(i)]
    lj = [j for i in range(3) for j in range(i)]
    assert Z[:, li, lj].tolist() == [[1.0, 8.5, -2.5]], Z[:, li, lj]


def load_ctrnet(path):
    out = {}
    if not path:
        return out
    with open(path) as fh:
        data = json.load(fh)
    for bm in data.get("benchmarks", []):
        m = re.match(r"(interaction/[^/]+)/simd_t(\d)/(d:\d+/batch:\d+)", bm["name"])
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
    check_order()
    ctr = load_ctrnet(args.ctrnet_json)
    print(f"torch {torch.__version__} (CPU), MKL-DNN {torch.backends.mkldnn.is_available()}")
    print(f"{'benchmark':<48} {'torch GFLOPS':>13} {'ctrnet GFLOPS':>14} {'ctrnet/torch':>13}")
    for t in args.threads:
        torch.set_num_threads(t)
        for p in PASSES:
            for d in DIMS:
                for B in BATCHES:
                    key = f"interaction/{p}/d:{d}/batch:{B}"
                    name = f"interaction/{p}/torch_t{t}/d:{d}/batch:{B}"
                    if args.filter and not re.search(args.filter, name):
                        continue
                    gf = bench(p, B, d, args.min_time)
                    c = ctr.get((key, t))
                    cs = f"{c:14.1f}" if c is not None else f"{'-':>14}"
                    rs = f"{c / gf:13.2f}" if c is not None else f"{'-':>13}"
                    print(f"{name:<48} {gf:13.1f} {cs} {rs}", flush=True)


if __name__ == "__main__":
    main()
