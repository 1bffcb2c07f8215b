#!/usr/bin/env bash
# Before/after benchmark comparison: runs the same Google Benchmark binaries of two release build
# trees alternately (old, new; `rounds` times) and prints a Markdown table of the rounds and the
# ratio of the medians (after / before). Used for docs/benchmarks.md ("Before and after ...").
#   scripts/bench-compare.sh OLD_BUILD_DIR NEW_BUILD_DIR [rounds]      (build dirs: build/release)
# Build both first: `git worktree add --detach ../old <rev>`, then in each tree
# `cmake --preset release && cmake --build --preset release --target bench_dcn bench_cross bench_attention bench_retrieval`.
# Needs python3 for the table (a developer tool; nothing in `make test` runs it).
set -euo pipefail
old="$1"; new="$2"; rounds="${3:-2}"
out="$(mktemp -d)"
declare -A filter=(
  [bench_dcn]='train/batch:(512|4096)/threads:1/shards:(8|1)/|predict/batch:(1|512)/threads:1/'
  [bench_cross]='fwd_bwd/simd_t1/.*batch:(512|4096)'
  [bench_attention]='fwd_bwd/simd_t1/'
  [bench_retrieval]='train/'
)
for r in $(seq 1 "$rounds"); do
  for b in bench_dcn bench_cross bench_attention bench_retrieval; do
    for side in old new; do
      dir="$old"; [ "$side" = new ] && dir="$new"
      "$dir/benchmarks/$b" --benchmark_filter="${filter[$b]}" --benchmark_out="$out/$b.$side.$r.json" \
        --benchmark_out_format=json >/dev/null 2>"$out/$b.$side.$r.err"
    done
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = {}
for b in ['bench_dcn', 'bench_cross', 'bench_attention', 'bench_retrieval']:
    for r in range(1, rounds + 1):
        for side in ('old', 'new'):
            for x in json.load(open(f'{out}/{b}.{side}.{r}.json'))['benchmarks']:
                if 'GFLOPS' in x: v, unit = x['GFLOPS'], 'GFLOP/s'
                elif 'samples_per_s' in x: v, unit = x['samples_per_s'], 'samples/s'
                elif 'pairs_per_s' in x: v, unit = x['pairs_per_s'], 'pairs/s'
                else: continue
                rows.setdefault((b, x['name'].split('/min_time')[0].split('/real_time')[0], unit), {}).setdefault(side, []).append(v)
fmt = lambda v: f'{v / 1e3:.1f}k' if v >= 1e4 else f'{v:.1f}'
print('| benchmark | unit | before | after | after/before |\n|---|---|---|---|---|')
for (b, n, u), s in rows.items():
    if 'old' in s and 'new' in s:
        ratio = statistics.median(s['new']) / statistics.median(s['old'])
        print(f"| {b} {n} | {u} | {' / '.join(map(fmt, s['old']))} | {' / '.join(map(fmt, s['new']))} | {ratio:.3f} |")
PY
