#!/usr/bin/env python3
"""PyTorch (CPU, eager) peer of bench_dcn: the same DCN-V2 stacked model, data shape and optimizers.

  Model: 13 dense + 26 categorical fields, 26 nn.Embedding(100000, 16, sparse=True) tables
  (x0 width 429), 3 full-rank cross layers x_{l+1} = x0 * (W_l x_l + b_l) + x_l, MLP 512-256 (relu),
  a logit, BCEWithLogitsLoss. torch.optim.Adam (lr 1e-3) on the dense parameters and
  torch.optim.SparseAdam (lr 1e-3) on the tables, as bench_dcn uses Adam and lazy Adam.
  Data: a ring of 65 536 examples, ids Zipf(1.1) over 100 000 per field (inverse CDF), dense values
  uniform in [0, 3), labels Bernoulli(0.22); each step takes the next batch of the ring.

  dcn_v2/train/batch:B/threads:T      zero_grad, forward, loss, backward, both optimizer steps
  dcn_v2/predict/batch:B/threads:T    model.eval() under torch.inference_mode(): sigmoid(logit)

With --ctrnet (path of the bench_dcn binary) it first runs bench_dcn in the same process tree and
prints ctrnet's numbers beside torch's with the ratio (samples/s ctrnet / torch; for batch-1
latency torch / ctrnet), so both are measured in one run. ctrnet's training rows use
shards = threads (the trainer's determinism unit; see docs/benchmarks.md for shards = 8).

Usage:
  python3 benchmarks/peers/torch_dcn.py --ctrnet build/release/benchmarks/bench_dcn [--threads 1 2]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch

DENSE, FIELDS, VOCAB, DIM, DEPTH, HIDDEN = 13, 26, 100000, 16, 3, (512, 256)
RING = 65536


class DCNv2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tables = torch.nn.ModuleList(torch.nn.Embedding(VOCAB, DIM, sparse=True) for _ in range(FIELDS))
        d = DENSE + FIELDS * DIM
        self.cross = torch.nn.ModuleList(torch.nn.Linear(d, d) for _ in range(DEPTH))
        layers, w = [], d
        for h in HIDDEN:
            layers += [torch.nn.Linear(w, h), torch.nn.ReLU()]
            w = h
        self.deep = torch.nn.Sequential(*layers)
        self.logit = torch.nn.Linear(w, 1)

    def forward(self, dense, ids):
        x0 = torch.cat([dense] + [t(ids[:, f]) for f, t in enumerate(self.tables)], dim=1)
        x = x0
        for lin in self.cross:
            x = x0 * lin(x) + x
        return self.logit(self.deep(x)).squeeze(1)


def make_data(seed=1):
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
    cdf = np.cumsum(ranks ** -1.1)
    cdf /= cdf[-1]
    u = rng.random((RING, FIELDS))
    ids = np.minimum(np.searchsorted(cdf, u, side="right"), VOCAB - 1)
    perm = np.stack([rng.permutation(VOCAB) for _ in range(FIELDS)])  # hot ids scattered over the table
    ids = perm[np.arange(FIELDS)[None, :], ids]
    dense = rng.random((RING, DENSE)) * 3.0
    labels = (rng.random(RING) < 0.22).astype(np.float32)
    return (torch.from_numpy(dense.astype(np.float32)), torch.from_numpy(ids.astype(np.int64)),
            torch.from_numpy(labels))


def timed(fn, min_time):
    for _ in range(3):
        fn()
    iters, total, t0 = 0, 0.0, time.perf_counter()
    while total < min_time:
        fn()
        iters += 1
        total = time.perf_counter() - t0
    return total / iters


def bench_train(data, batch, min_time):
    torch.manual_seed(1)
    model = DCNv2()
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("tables.")]
    opt = torch.optim.Adam(dense_params, lr=1e-3)
    sopt = torch.optim.SparseAdam(list(model.tables.parameters()), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    dense, ids, labels = data
    pos = [0]

    def step():
        if pos[0] + batch > RING:
            pos[0] = 0
        s = slice(pos[0], pos[0] + batch)
        pos[0] += batch
        opt.zero_grad(set_to_none=True)
        sopt.zero_grad(set_to_none=True)
        loss = loss_fn(model(dense[s], ids[s]), labels[s])
        loss.backward()
        opt.step()
        sopt.step()
    sec = timed(step, min_time)
    return batch / sec


def bench_predict(data, batch, min_time):
    torch.manual_seed(1)
    model = DCNv2().eval()
    dense, ids, _ = data
    pos = [0]

    def run():
        if pos[0] + batch > RING:
            pos[0] = 0
        s = slice(pos[0], pos[0] + batch)
        pos[0] += batch
        with torch.inference_mode():
            torch.sigmoid(model(dense[s], ids[s]))
    sec = timed(run, min_time)
    return batch / sec, sec * 1e6


def run_ctrnet(binary, threads):
    """bench_dcn's results: name -> counters, for the shapes this script compares."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    flt = "|".join([f"train/batch:(512|4096)/threads:{t}/shards:{t}/" for t in threads] +
                   [f"predict/batch:(1|512|4096)/threads:{t}/" for t in threads])
    subprocess.run([binary, f"--benchmark_filter=dcn_v2/({flt})", f"--benchmark_out={out}",
                    "--benchmark_out_format=json"], check=True, stdout=subprocess.DEVNULL)
    with open(out) as fh:
        data = json.load(fh)
    os.unlink(out)
    res = {}
    for bm in data["benchmarks"]:
        name = bm["name"].split("/min_time")[0]
        key = name.replace("/shards:1", "").replace("/shards:2", "")
        res[key] = bm
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--ctrnet", default="", help="path of the bench_dcn binary")
    args = ap.parse_args()
    ctr = run_ctrnet(args.ctrnet, args.threads) if args.ctrnet else {}
    print(f"torch {torch.__version__} (eager, CPU), MKL-DNN {torch.backends.mkldnn.is_available()}")
    data = make_data()
    print(f"{'benchmark':<40} {'torch':>14} {'ctrnet':>14} {'ratio':>8}")
    for t in args.threads:
        torch.set_num_threads(t)
        for batch in (512, 4096):
            key = f"dcn_v2/train/batch:{batch}/threads:{t}"
            sps = bench_train(data, batch, args.min_time)
            c = ctr.get(key, {}).get("samples_per_s")
            print(f"{key:<40} {sps:11.0f} /s {c or 0:11.0f} /s {(c / sps if c else float('nan')):8.2f}", flush=True)
        for batch in (1, 512, 4096):
            if batch == 1 and t != 1:
                continue
            key = f"dcn_v2/predict/batch:{batch}/threads:{t}"
            sps, us = bench_predict(data, batch, args.min_time)
            bm = ctr.get(key, {})
            if batch == 1:
                c = bm.get("us_per_call")
                print(f"{key:<40} {us:11.1f} us {c or 0:11.1f} us {(us / c if c else float('nan')):8.2f}", flush=True)
            else:
                c = bm.get("samples_per_s")
                print(f"{key:<40} {sps:11.0f} /s {c or 0:11.0f} /s {(c / sps if c else float('nan')):8.2f}", flush=True)


if __name__ == "__main__":
    main()
