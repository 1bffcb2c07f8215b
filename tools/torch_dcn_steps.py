#!/usr/bin/env python3
"""Trains a DCN-V2 (stacked) for a few steps in ctrnet and in PyTorch from the same initial weights
and the same batches, and checks that the losses agree to 1e-5 per step (and reports how far the
final weights are apart). The ctrnet side is the example program `dcn_steps` (examples/dcn_steps.cpp),
which writes its initial weights; this script loads them into a plain PyTorch module with the
name mapping of docs/interop.md, runs the same steps in float32 and compares.

    /opt/torchvenv/bin/python tools/torch_dcn_steps.py [--dcn-steps build/release/examples/dcn_steps]
        [--optimizer sgd|adam|both] [--steps 20] [--batch 32] [--rank 0] [--tol 1e-5]

Exit status 0 when every step agrees (or when PyTorch or numpy is not installed: the script then
prints "skipped: PyTorch not installed"), 1 when a step differs by more than --tol, 2 on a usage error.
sgd: plain SGD on every parameter (nn.Embedding with dense gradients). adam: torch.optim.Adam on
the dense parameters and torch.optim.SparseAdam on nn.Embedding(sparse=True) tables, which is
ctrnet's lazy Adam. Needs numpy; uses the `safetensors` package when installed (else the reader of
tools/make_fixture.py).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # PyTorch (or numpy) is optional: skip cleanly
    if __name__ == "__main__":
        print("skipped: PyTorch not installed (%s)" % e)
        sys.exit(0)
    raise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import load_file, save_file  # noqa: E402  (safetensors with or without the package)


def find_dcn_steps(root):
    found = [p for p in glob.glob(os.path.join(root, "build", "*", "examples", "dcn_steps")) if os.access(p, os.X_OK)]
    return max(found, key=os.path.getmtime) if found else None


def make_data(path, n, vocab, num_dense, seed):
    """Made-up rows: a logistic teacher with a dense term, per-id effects and one cross."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, num_dense)).astype(np.float32)
    ids = np.stack([rng.integers(0, v, size=n) for v in vocab], axis=1).astype(np.int64)
    effects = [rng.normal(scale=0.8, size=v) for v in vocab]
    logit = 0.7 * dense[:, 0] - 0.4 * dense[:, 1] + sum(e[ids[:, f]] for f, e in enumerate(effects))
    logit += 0.9 * ((ids[:, 0] % 2) == (ids[:, 1] % 2)) - 0.5
    labels = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    save_file({"dense": dense, "ids": ids, "labels": labels}, path, {"vocab_sizes": json.dumps(vocab)})
    return dense, ids, labels


class DCNv2Stacked(nn.Module):
    """DCN-V2 stacked, as in docs/interop.md: x0 = [dense | e_1 .. e_F]; x_{l+1} = x0 * (W_l x_l + b_l)
    + x_l (low rank: W_l = U_l V_l); h = ReLU MLP (ReLU after every layer); logit = Linear(h)."""

    def __init__(self, t, vocab, depth, rank, hidden_layers, sparse):
        super().__init__()
        T = lambda name: torch.from_numpy(np.array(t[name], dtype=np.float32))  # noqa: E731
        self.emb = nn.ModuleList()
        for f, v in enumerate(vocab):
            w = T("embedding.C%d" % (f + 1))
            e = nn.Embedding(v, w.shape[1], sparse=sparse)
            e.weight.data.copy_(w)
            self.emb.append(e)
        self.rank = rank
        self.cross_v, self.cross_u = nn.ModuleList(), nn.ModuleList()
        for l in range(depth):
            b = T("cross.%d.bias" % l)
            d = b.shape[0]
            if rank == 0:
                lin = nn.Linear(d, d)
                lin.weight.data.copy_(T("cross.%d.weight" % l))  # [out, in]: no transpose
                lin.bias.data.copy_(b)
                self.cross_u.append(lin)
            else:
                v = nn.Linear(d, rank, bias=False)
                v.weight.data.copy_(T("cross.%d.v" % l))
                u = nn.Linear(rank, d)
                u.weight.data.copy_(T("cross.%d.u" % l))
                u.bias.data.copy_(b)
                self.cross_v.append(v)
                self.cross_u.append(u)
        self.deep = nn.ModuleList()
        for i in range(hidden_layers):
            w = T("deep.%d.weight" % i)
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data.copy_(w)
            lin.bias.data.copy_(T("deep.%d.bias" % i))
            self.deep.append(lin)
        w = T("logit.weight")
        self.logit = nn.Linear(w.shape[1], 1)
        self.logit.weight.data.copy_(w)
        self.logit.bias.data.copy_(T("logit.bias"))

    def forward(self, dense, ids):
        x0 = torch.cat([dense] + [e(ids[:, f]) for f, e in enumerate(self.emb)], dim=1)
        x = x0
        for l, u in enumerate(self.cross_u):
            x = x0 * (u(self.cross_v[l](x)) if self.rank else u(x)) + x
        h = x
        for lin in self.deep:
            h = torch.relu(lin(h))
        return self.logit(h).squeeze(-1)

    def named_tensors(self):
        """The module's parameters under ctrnet's names."""
        out = {}
        for f, e in enumerate(self.emb):
            out["embedding.C%d" % (f + 1)] = e.weight
        for l, u in enumerate(self.cross_u):
            if self.rank == 0:
                out["cross.%d.weight" % l] = u.weight
            else:
                out["cross.%d.v" % l] = self.cross_v[l].weight
                out["cross.%d.u" % l] = u.weight
            out["cross.%d.bias" % l] = u.bias
        for i, lin in enumerate(self.deep):
            out["deep.%d.weight" % i] = lin.weight
            out["deep.%d.bias" % i] = lin.bias
        out["logit.weight"] = self.logit.weight
        out["logit.bias"] = self.logit.bias
        return out


def run_case(args, optimizer, work, data, vocab):
    dense, ids, labels = data
    init, final = os.path.join(work, "init_%s.safetensors" % optimizer), os.path.join(work, "final_%s.safetensors" % optimizer)
    cmd = [args.dcn_steps, "--data", os.path.join(work, "data.safetensors"), "--init", init, "--final", final,
           "--steps", str(args.steps), "--batch", str(args.batch), "--optimizer", optimizer, "--lr", str(args.lr[optimizer]),
           "--embedding-dim", str(args.embedding_dim), "--cross-depth", str(args.cross_depth), "--rank", str(args.rank),
           "--hidden"] + [str(h) for h in args.hidden]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    ctrnet_losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step ")]
    if len(ctrnet_losses) != args.steps:
        sys.exit("dcn_steps printed %d losses, expected %d:\n%s" % (len(ctrnet_losses), args.steps, out))

    t0, _ = load_file(init)
    model = DCNv2Stacked(t0, vocab, args.cross_depth, args.rank, len(args.hidden), sparse=(optimizer == "adam"))
    emb_params = [e.weight for e in model.emb]
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("emb.")]
    lr = args.lr[optimizer]
    if optimizer == "sgd":
        opts = [torch.optim.SGD(emb_params + dense_params, lr=lr)]
    else:
        opts = [torch.optim.Adam(dense_params, lr=lr, betas=(0.9, 0.999), eps=1e-8),
                torch.optim.SparseAdam(emb_params, lr=lr, betas=(0.9, 0.999), eps=1e-8)]
    loss_fn = nn.BCEWithLogitsLoss()
    n = labels.shape[0]
    D, I, Y = torch.from_numpy(dense), torch.from_numpy(ids), torch.from_numpy(labels)
    torch_losses = []
    for s in range(args.steps):
        rows = torch.from_numpy((s * args.batch + np.arange(args.batch)) % n)
        for o in opts:
            o.zero_grad()
        loss = loss_fn(model(D[rows], I[rows]), Y[rows])
        loss.backward()
        for o in opts:
            o.step()
        torch_losses.append(loss.item())

    worst = 0.0
    print("%s, lr %g, %d steps of %d rows:" % (optimizer, lr, args.steps, args.batch))
    print("  step  ctrnet loss     PyTorch loss    |diff|")
    for s, (a, b) in enumerate(zip(ctrnet_losses, torch_losses)):
        worst = max(worst, abs(a - b))
        print("  %4d  %.9f  %.9f  %.2e" % (s, a, b, abs(a - b)))
    t1, _ = load_file(final)
    mine = model.named_tensors()
    if set(mine) != set(t1):
        sys.exit("tensor names differ: ctrnet %s, PyTorch %s" % (sorted(t1), sorted(mine)))
    wdiff = max(float(np.max(np.abs(np.asarray(t1[k], dtype=np.float64) - mine[k].detach().double().numpy())))
                for k in mine)
    moved = max(float(np.max(np.abs(np.asarray(t1[k], dtype=np.float64) - np.asarray(t0[k], dtype=np.float64))))
                for k in mine)
    print("  max |loss diff| %.2e (tolerance %.0e); final weights: max |diff| %.2e (largest change from the "
          "initial weights %.2e)" % (worst, args.tol, wdiff, moved))
    return worst <= args.tol


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dcn-steps", help="the dcn_steps program (default: the newest build/*/examples/dcn_steps)")
    ap.add_argument("--optimizer", choices=["sgd", "adam", "both"], default="both")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rows", type=int, default=256, help="rows of the made-up data set")
    ap.add_argument("--sgd-lr", type=float, default=0.1)
    ap.add_argument("--adam-lr", type=float, default=0.01)
    ap.add_argument("--embedding-dim", type=int, default=4)
    ap.add_argument("--cross-depth", type=int, default=2)
    ap.add_argument("--rank", type=int, default=0, help="cross rank (0: full rank)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 8])
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--keep", help="write the data and weight files here instead of a temporary folder")
    args = ap.parse_args()
    args.dcn_steps = args.dcn_steps or find_dcn_steps(root)
    if not args.dcn_steps or not os.access(args.dcn_steps, os.X_OK):
        print("no dcn_steps program: build the target dcn_steps (examples/dcn_steps.cpp) or pass --dcn-steps",
              file=sys.stderr)
        return 2
    args.lr = {"sgd": args.sgd_lr, "adam": args.adam_lr}
    torch.manual_seed(0)
    torch.set_num_threads(1)
    vocab = [7, 5, 11]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        data = make_data(os.path.join(work, "data.safetensors"), args.rows, vocab, 3, seed=3)
        print("ctrnet: %s; PyTorch %s" % (args.dcn_steps, torch.__version__))
        for optimizer in (["sgd", "adam"] if args.optimizer == "both" else [args.optimizer]):
            ok = run_case(args, optimizer, work, data, vocab) and ok
    print("PASS" if ok else "FAIL: a step's losses differ by more than %g" % args.tol)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
