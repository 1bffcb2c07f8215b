#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each for a bounded
# time. Usage: scripts/run-fuzzers.sh [seconds per target, default 20] [parsers...]
# Working corpora live in build/fuzz/corpus/<parser> (seeded from tests/data/fuzz_corpus/<parser>);
# a crashing input is written to build/fuzz/artifacts/<parser>/ and the script exits 1. Copy it to
# tests/data/fuzz_corpus/<parser>/ (safetensors: tests/io/fuzz_corpus/) so the tests replay it after
# the fix.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
parsers=("$@")
[ "${#parsers[@]}" -eq 0 ] && parsers=(criteo delimited libsvm safetensors sessions movielens)

cxx="${CLANGXX:-$(command -v clang++ || true)}"
if [ -z "$cxx" ]; then
  echo "run-fuzzers: clang++ not found (libFuzzer needs clang); install clang or set CLANGXX" >&2
  exit 2
fi

out=build/fuzz
mkdir -p "$out"
status=0
for p in "${parsers[@]}"; do
  bin="$out/fuzz_$p"
  if [ ! -x "$bin" ] || [ -n "$(find include/ctrnet fuzz -newer "$bin" -name '*.[hc]pp' -print -quit)" ]; then
    echo "run-fuzzers: building fuzz_$p with $cxx"
    "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Iinclude "fuzz/fuzz_$p.cpp" -o "$bin" -ltbb -lpthread
  fi
  corpus="$out/corpus/$p"
  artifacts="$out/artifacts/$p/"
  mkdir -p "$corpus" "$artifacts"
  seeds=tests/data/fuzz_corpus/"$p"
  [ "$p" = safetensors ] && seeds=tests/io/fuzz_corpus
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "run-fuzzers: fuzz_$p for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "$corpus" 2>"$out/fuzz_$p.log"; then
    echo "run-fuzzers: fuzz_$p FAILED; see $out/fuzz_$p.log and $artifacts" >&2
    tail -n 30 "$out/fuzz_$p.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/fuzz_$p.log" | tail -n 2
  fi
done
exit $status
