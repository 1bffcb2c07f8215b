#!/usr/bin/env python3
"""Writes small ctrnet model files and their expected predictions, computed here in numpy (float64)
from the float32 weights, without ctrnet. The C++ test tests/io/test_pytorch_fixture.cpp loads them
and checks ctrnet's predictions to 1e-6, so the name and layout mapping of docs/interop.md is tested
from both sides.

    python3 tools/make_fixture.py tests/io/fixtures            # write the fixtures
    python3 tools/make_fixture.py --check FILE.safetensors     # load a ctrnet-written file, print it

Needs numpy; uses the `safetensors` package when it is installed and otherwise writes the format by
hand (8-byte little-endian header length, JSON header padded with spaces to 8 bytes, raw data).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

MASK = (1 << 64) - 1
CTRNET_VERSION = "0.1.0"


# --- the safetensors format -----------------------------------------------------------------------

DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def save_file(tensors, path, metadata):
    """safetensors.numpy.save_file when available, else the same format written by hand."""
    try:
        from safetensors.numpy import save_file as st_save
    except ImportError:
        st_save = None
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    if st_save is not None:
        st_save(tensors, path, metadata=metadata)
        return
    header = {"__metadata__": metadata}
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    offset = 0
    for k in order:
        v = tensors[k]
        header[k] = {"dtype": DTYPES[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for k in order:
            f.write(tensors[k].astype(tensors[k].dtype.newbyteorder("<")).tobytes())


def load_file(path):
    """(tensors, metadata) of a safetensors file, with the `safetensors` package or by hand."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    try:
        from safetensors.numpy import load_file as st_load
        return st_load(path), metadata
    except ImportError:
        pass
    except TypeError:  # BF16: numpy has no bfloat16; widen to float32 below
        pass
    names = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "BF16": "<u2"}
    out = {}
    for k, t in header.items():
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=names[t["dtype"]]).reshape(t["shape"])
        if t["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[k] = a
    return out, metadata


# --- ctrnet's id hashing and layers, in numpy ---------------------------------------------------

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def mix_seed(seed, *xs):
    """ctrnet::mix_seed (core/rng.hpp)."""
    s, h = splitmix64(seed & MASK)
    for x in xs:
        s = h ^ ((x + 0x632BE59BD9B4E019) & MASK)
        s, h = splitmix64(s)
    return h


def field(name, kind="categorical", vocab_size=0, hash_buckets=0, hash_seed=0, embedding_dim=0):
    return {"name": name, "kind": kind, "vocab_size": vocab_size, "hash_buckets": hash_buckets,
            "hash_seed": hash_seed, "embedding_dim": embedding_dim, "table": "", "pooling": "sum", "tower": ""}


def rows_of(f, ids):
    """Table rows of raw ids (FeatureInput / IdMapper)."""
    if f["hash_buckets"] > 0:
        return np.array([mix_seed(f["hash_seed"], int(i) & MASK) % f["hash_buckets"] for i in ids])
    assert np.all((ids >= 0) & (ids < f["vocab_size"]))
    return ids


def feature_input(schema, p, dense, ids):
    """x0 = [x_dense | e_1 | ... | e_F]."""
    cols = [dense.astype(np.float64)]
    cats = [f for f in schema if f["kind"] != "dense"]
    for j, f in enumerate(cats):
        cols.append(p["embedding." + f["name"]].astype(np.float64)[rows_of(f, ids[:, j])])
    return np.concatenate(cols, axis=1)


def linear(p, name, x, relu):
    y = x @ p[name + ".weight"].astype(np.float64).T + p[name + ".bias"].astype(np.float64)
    return np.maximum(y, 0.0) if relu else y


def mlp(p, x, depth):
    for i in range(depth):
        x = linear(p, "deep.%d" % i, x, True)
    return x


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- the fixtures -----------------------------------------------------------------------------------

def schema_fixture():
    return [field("x0", "dense"), field("x1", "dense"), field("a", vocab_size=5, embedding_dim=3),
            field("h", hash_buckets=7, hash_seed=42, embedding_dim=3)]


def inputs(rng, n):
    dense = rng.normal(size=(n, 2)).astype(np.float32)
    ids = np.stack([rng.integers(0, 5, size=n), rng.integers(-(1 << 62), 1 << 62, size=n)], axis=1).astype(np.int64)
    return dense, ids


def dcn_v2_stacked(rng):
    """DCN-V2 stacked, low rank: x_{l+1} = x0 ⊙ (U_l (V_l x_l) + b_l) + x_l, then MLP, then logit."""
    schema = schema_fixture()
    d, r, hidden, depth = 2 + 3 + 3, 2, [4, 3], 2
    options = {"embedding_dim": 3, "cross_depth": depth, "rank": r, "experts": 4, "expert_activation": "relu",
               "hidden": hidden, "activation": "relu", "dropout": 0.0}
    f32 = lambda *s: (rng.normal(size=s) * 0.5).astype(np.float32)
    p = {"embedding.a": f32(5, 3), "embedding.h": f32(7, 3)}
    for l in range(depth):
        p["cross.%d.u" % l], p["cross.%d.v" % l], p["cross.%d.bias" % l] = f32(d, r), f32(r, d), f32(d)
    prev = d
    for i, w in enumerate(hidden):
        # Positive biases keep most ReLUs active, so every input reaches the output.
        p["deep.%d.weight" % i], p["deep.%d.bias" % i] = f32(w, prev), np.abs(f32(w)) + np.float32(0.5)
        prev = w
    p["logit.weight"], p["logit.bias"] = f32(1, prev), f32(1)

    def predict(dense, ids):
        x0 = feature_input(schema, p, dense, ids)
        x = x0
        for l in range(depth):
            u, v, b = (p["cross.%d.%s" % (l, k)].astype(np.float64) for k in ("u", "v", "bias"))
            x = x0 * ((x @ v.T) @ u.T + b) + x
        return sigmoid(linear(p, "logit", mlp(p, x, len(hidden)), False))[:, 0]

    return "dcn_v2_stacked", options, schema, p, predict


def wide_deep(rng):
    """Wide & Deep: σ(wide(x) + logit(MLP(x0))), wide(x) = b + w·x_dense + Σ_f v_f[id_f]."""
    schema = schema_fixture()
    d, hidden = 2 + 3 + 3, [4]
    options = {"embedding_dim": 3, "hidden": hidden, "activation": "relu", "dropout": 0.0, "crosses": [],
               "cross_buckets": 16, "wide_dense": True}
    f32 = lambda *s: (rng.normal(size=s) * 0.5).astype(np.float32)
    p = {"wide.dense_weight": f32(1, 2), "wide.bias": f32(1), "wide.a": f32(5, 1), "wide.h": f32(7, 1),
         "embedding.a": f32(5, 3), "embedding.h": f32(7, 3),
         "deep.0.weight": f32(4, d), "deep.0.bias": f32(4), "logit.weight": f32(1, 4), "logit.bias": f32(1)}

    def predict(dense, ids):
        cats = [f for f in schema if f["kind"] != "dense"]
        wide = p["wide.bias"].astype(np.float64)[0] + dense.astype(np.float64) @ p["wide.dense_weight"][0].astype(np.float64)
        for j, f in enumerate(cats):
            wide = wide + p["wide." + f["name"]].astype(np.float64)[rows_of(f, ids[:, j]), 0]
        deep = linear(p, "logit", mlp(p, feature_input(schema, p, dense, ids), len(hidden)), False)[:, 0]
        return sigmoid(wide + deep)

    return "wide_deep", options, schema, p, predict


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20240601)
    for make in (dcn_v2_stacked, wide_deep):
        arch, options, schema, params, predict = make(rng)
        metadata = {"format": "ctrnet.model", "ctrnet_version": CTRNET_VERSION, "architecture": arch,
                    "options": json.dumps(options), "schema": json.dumps(schema), "dtype": "F32",
                    "producer": "tools/make_fixture.py"}
        save_file(params, os.path.join(out_dir, arch + ".safetensors"), metadata)
        dense, ids = inputs(rng, 8)
        expected = {"dense": dense, "ids": ids, "prob": predict(dense, ids).astype(np.float64)}
        save_file(expected, os.path.join(out_dir, arch + ".expected.safetensors"), {"producer": "tools/make_fixture.py"})
        print("wrote %s: %d tensors, predictions %s" % (arch, len(params), np.round(expected["prob"], 4)))


def check(path):
    tensors, metadata = load_file(path)
    print("architecture:", metadata.get("architecture"), " dtype:", metadata.get("dtype"))
    for k in sorted(tensors):
        print("  %-24s %-8s %s" % (k, tensors[k].dtype, tuple(tensors[k].shape)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", nargs="?", default="tests/io/fixtures")
    ap.add_argument("--check", metavar="FILE", help="load a ctrnet-written file and list its tensors")
    args = ap.parse_args()
    if args.check:
        check(args.check)
    else:
        write_fixtures(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
