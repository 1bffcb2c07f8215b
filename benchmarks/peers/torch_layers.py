#!/usr/bin/env python3
"""PyTorch (CPU) peer of bench_layers' Linear and MLP-step benchmarks, same shapes and counting.

  linear/<pass>/torch_t<T>/batch:B/d:D   y = relu(x Wᵀ + b), x: [B, d], W: [d, d] (torch.nn.functional.linear)
      forward          under torch.no_grad() (PyTorch's cheapest forward: conservative for ctrnet)
      backward         y.backward(dy, retain_graph=True) on one recorded graph: dW, db, dx accumulate,
                       as ctrnet's Linear::backward accumulates
      forward_backward a fresh graph each iteration, then backward
  GFLOPS counts only the GEMM flops, 2·B·d·d per GEMM (forward 1, backward 2, both 3), exactly as
  bench_layers does; T = torch.set_num_threads(T), T in {1, 2}.
  mlp_step/torch_t<T>/in:429/h:512-256-1/batch:B   zero_grad, forward, backward (x.grad too), Adam.

Each case runs one warm-up call, then a loop of at least --min-time seconds; the rate is the mean over
that loop (wall clock), as in bench_layers. With --ctrnet-json (bench_layers' --benchmark_out JSON),
the table adds ctrnet's GFLOPS for the same name and the ratio ctrnet / torch.

Usage:
  python3 benchmarks/peers/torch_layers.py [--min-time 0.2] [--threads 1 2] [--ctrnet-json /tmp/bench_layers.json]
"""
import argparse
import json
import re
import time

import torch

BATCHES = (1, 64, 512, 4096)
WIDTHS = (256, 512, 1024)
PASSES = ("forward", "backward", "forward_backward")
GEMMS = {"forward": 1, "backward": 2, "forward_backward": 3}
MLP_INPUT = 429
MLP_STACKS = ((512, 256, 1), (1024, 512, 256, 1))
MLP_BATCHES = (64, 512, 4096)


def timed(fn, min_time):
    """Mean seconds per call of fn over a loop of at least min_time seconds (after one warm-up)."""
    fn()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / iters
        iters = max(iters * 2, int(iters * min_time / max(dt, 1e-9) * 1.2))


def bench_linear(pass_, batch, d, min_time):
    g = torch.Generator().manual_seed(42)
    x = (torch.rand(batch, d, generator=g) * 2 - 1).requires_grad_(True)
    w = torch.empty(d, d).uniform_(-(6.0 / (2 * d)) ** 0.5, (6.0 / (2 * d)) ** 0.5, generator=g).requires_grad_(True)
    b = torch.zeros(d, requires_grad=True)
    dy = torch.rand(batch, d, generator=g) * 2 - 1
    f = torch.nn.functional

    if pass_ == "forward":
        def run():
            with torch.no_grad():
                f.relu(f.linear(x, w, b))
    elif pass_ == "backward":
        y = f.relu(f.linear(x, w, b))

        def run():
            y.backward(dy, retain_graph=True)
    else:
        def run():
            f.relu(f.linear(x, w, b)).backward(dy)
    sec = timed(run, min_time)
    return 2.0 * batch * d * d * GEMMS[pass_] / sec / 1e9


def bench_mlp(widths, batch, min_time):
    layers, d = [], MLP_INPUT
    for i, wd in enumerate(widths):
        layers.append(torch.nn.Linear(d, wd))
        if i + 1 < len(widths):
            layers.append(torch.nn.ReLU())
        d = wd
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(batch, MLP_INPUT) * 2 - 1).requires_grad_(True)
    dy = (torch.rand(batch, widths[-1]) * 2 - 1) * 0.01

    def step():
        opt.zero_grad(set_to_none=False)
        x.grad = None
        model(x).backward(dy)
        opt.step()
    sec = timed(step, min_time)
    flops, d = 0.0, MLP_INPUT
    for wd in widths:
        flops += 3 * 2.0 * batch * d * wd
        d = wd
    return flops / sec / 1e9, batch / sec


def load_ctrnet(path):
    """name without the impl part -> {threads: GFLOPS} from a bench_layers JSON file."""
    out = {}
    if not path:
        return out
    with open(path) as fh:
        data = json.load(fh)
    for bm in data.get("benchmarks", []):
        m = re.match(r"(.*)/ctrnet_t(\d)/(.*?)(/min_time.*)?$", bm["name"])
        if m and "GFLOPS" in bm:
            out.setdefault(m.group(1) + "/" + m.group(3), {})[int(m.group(2))] = bm["GFLOPS"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ctrnet-json", default="")
    ap.add_argument("--no-mlp", action="store_true")
    args = ap.parse_args()
    ctrnet = load_ctrnet(args.ctrnet_json)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available, "
          f"MKL-DNN {torch.backends.mkldnn.is_available()}")
    print(f"{'benchmark':<58} {'torch GFLOPS':>13} {'ctrnet GFLOPS':>14} {'ctrnet/torch':>13}")

    def row(key, t, gflops, extra=""):
        # the bench_layers name with the impl part "torch_t<T>" where ctrnet has "ctrnet_t<T>"
        head, tail = key.split("/batch", 1) if key.startswith("linear/") else ("mlp_step", key[len("mlp_step"):])
        name = f"{head}/torch_t{t}" + ("/batch" + tail if key.startswith("linear/") else tail)
        c = ctrnet.get(key, {}).get(t)
        cs = f"{c:14.1f}" if c is not None else f"{'-':>14}"
        rs = f"{c / gflops:13.2f}" if c is not None else f"{'-':>13}"
        print(f"{name:<58} {gflops:13.1f} {cs} {rs} {extra}", flush=True)

    for t in args.threads:
        torch.set_num_threads(t)
        for batch in BATCHES:
            for d in WIDTHS:
                for p in PASSES:
                    row(f"linear/{p}/batch:{batch}/d:{d}", t, bench_linear(p, batch, d, args.min_time))
        if not args.no_mlp:
            for widths in MLP_STACKS:
                for batch in MLP_BATCHES:
                    gf, sps = bench_mlp(widths, batch, args.min_time)
                    key = f"mlp_step/in:{MLP_INPUT}/h:{'-'.join(map(str, widths))}/batch:{batch}"
                    row(key, t, gf, f"samples/s={sps:.0f}")


if __name__ == "__main__":
    main()
