#!/usr/bin/env bash
# End-to-end test of the ctrnet-train and ctrnet-predict command lines (CTest: cli_ctrnet_train).
#   ctrnet_train.sh <path of ctrnet-train> <schemas dir> [<path of ctrnet-predict>]
# 1. A small Criteo-format file written here: trains, writes --metrics-json lines with the
#    required keys, and prints the test AUC.
#    Checkpoints: an interrupted (--max-steps) and resumed (--resume) run saves the same bytes as
#    an uninterrupted one; a resume with another model, options or data is a clear error.
# 2. Malformed input: exit code 1 and an error naming the file, the line and the column.
# 3. With CTRNET_DATA_DIR: criteo-8k and avazu-9k (train/dev/test as given) with dcn_v2 must
#    reach test AUC >= 0.70 and >= 0.69 (issue 4); skipped, with a message, when it is unset.
set -euo pipefail
bin="$1"
schemas="$2"
predict="${3:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- 1. synthetic Criteo file: label depends on I1 and C1 ----------------------------------------
awk 'BEGIN {
  srand(7);
  for (i = 0; i < 3000; i++) {
    c = int(rand() * 20); x = int(rand() * 50);
    p = 0.1 + 0.6 * (c < 6) + 0.2 * (x > 25);
    y = (rand() < p) ? 1 : 0;
    line = y "\t" x;
    for (d = 2; d <= 13; d++) line = line "\t" ((rand() < 0.2) ? "" : int(rand() * 10));
    line = line sprintf("\t%08x", c * 2654435761 % 4294967296);
    for (k = 2; k <= 26; k++) line = line sprintf("\t%08x", int(rand() * 5));
    print line;
  }
}' > "$work/all.tsv"
head -n 2400 "$work/all.tsv" > "$work/train.tsv"
sed -n '2401,2700p' "$work/all.tsv" > "$work/valid.tsv"
sed -n '2701,3000p' "$work/all.tsv" > "$work/test.tsv"
"$bin" --model dcn_v2 --format criteo --train "$work/train.tsv" --valid "$work/valid.tsv" --test "$work/test.tsv" \
  --epochs 2 --batch 64 --lr 0.01 --embedding-lr 0.02 --hidden 32 16 --embedding-dim 4 --threads 2 --metrics-json "$work/m.jsonl" \
  --save "$work/model.safetensors" > "$work/out.txt" 2>&1 \
  || { cat "$work/out.txt"; fail "ctrnet-train failed on a valid Criteo file"; }
grep -q "^test  AUC" "$work/out.txt" || fail "no test AUC line"
[ -s "$work/model.safetensors" ] || fail "--save wrote no model file"
grep -aq '"architecture":"dcn_v2_stacked"' "$work/model.safetensors" || fail "the saved model's metadata lacks its architecture"
grep -aq '"preprocessing":' "$work/model.safetensors" || fail "the saved model's metadata lacks the preprocessing state"
[ "$(grep -c '"split":"valid"' "$work/m.jsonl")" = 2 ] || fail "expected 2 valid lines in --metrics-json"
[ "$(grep -c '"split":"test"' "$work/m.jsonl")" = 1 ] || fail "expected 1 test line in --metrics-json"
for key in epoch split auc logloss examples_per_second; do
  grep -q "\"$key\":" "$work/m.jsonl" || fail "--metrics-json lacks \"$key\""
done
auc="$(grep '"split":"test"' "$work/m.jsonl" | sed 's/.*"auc":\([0-9.]*\).*/\1/')"
awk -v a="$auc" 'BEGIN { exit !(a > 0.75) }' || fail "synthetic test AUC $auc <= 0.75"
echo "synthetic criteo: test AUC $auc"

# ctrnet-predict with the saved model: the same preprocessing and parameters, so the same AUC.
if [ -n "$predict" ]; then
  "$predict" --model "$work/model.safetensors" --input "$work/test.tsv" --output "$work/scores.txt" \
    2> "$work/predict.txt" || { cat "$work/predict.txt"; fail "ctrnet-predict failed"; }
  [ "$(wc -l < "$work/scores.txt")" = 300 ] || fail "ctrnet-predict wrote $(wc -l < "$work/scores.txt") scores for 300 rows"
  pauc="$(sed -n 's/.*AUC \([0-9.]*\).*/\1/p' "$work/predict.txt")"
  awk -v a="$auc" -v b="$pauc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4) }' \
    || fail "ctrnet-predict AUC $pauc differs from ctrnet-train's test AUC $auc"
  awk '{ if ($1 < 0 || $1 > 1) exit 1 }' "$work/scores.txt" || fail "a score outside [0, 1]"
  echo "ctrnet-predict: 300 scores, AUC $pauc (ctrnet-train: $auc)"
  if "$predict" --model "$work/valid.tsv" --input "$work/test.tsv" > /dev/null 2> "$work/notmodel.txt"; then
    fail "ctrnet-predict accepted a text file as a model"
  fi
  grep -q "ctrnet-predict: " "$work/notmodel.txt" || fail "no ctrnet::Error message for a bad model file"
  # One NaN weight (the first value of the data section) is an error naming the tensor, not constant scores.
  cp "$work/model.safetensors" "$work/nan.safetensors"
  hlen="$(od -An -t u8 -N8 "$work/nan.safetensors" | tr -d ' ')"
  first="$(grep -ao '"[^"]*":{"data_offsets":\[0,' "$work/nan.safetensors" | head -n 1 | cut -d'"' -f2)"
  printf '\000\000\300\177' | dd of="$work/nan.safetensors" bs=1 seek=$((8 + hlen)) conv=notrunc 2> /dev/null
  if "$predict" --model "$work/nan.safetensors" --input "$work/test.tsv" > /dev/null 2> "$work/nan.txt"; then
    fail "ctrnet-predict scored with a NaN weight"
  fi
  grep -q "tensor '$first' holds nan at index 0" "$work/nan.txt" \
    || { cat "$work/nan.txt"; fail "no error naming tensor '$first'"; }
fi

# --- 1b. checkpoints: interrupted (--max-steps) + --resume saves the very bytes of an uninterrupted run
# 2400 rows in batches of 64: 38 steps per epoch; the cut falls in epoch 2. Dropout and early
# stopping are on (the checkpoint carries the best epoch's copy); the thread counts differ.
base=(--model dcn_v2 --format criteo --valid "$work/valid.tsv" --epochs 3 --batch 64 --embedding-lr 0.02
      --hidden 32 16 --embedding-dim 4 --dropout 0.2 --patience 2)
common=("${base[@]}" --train "$work/train.tsv" --lr 0.01)
"$bin" "${common[@]}" --threads 2 --save "$work/full.safetensors" > "$work/full.txt" 2>&1 \
  || { cat "$work/full.txt"; fail "uninterrupted run failed"; }
"$bin" "${common[@]}" --threads 1 --checkpoint "$work/run.ckpt" --checkpoint-every 10 --max-steps 50 \
  --save "$work/cut.safetensors" > "$work/cut.txt" 2>&1 || { cat "$work/cut.txt"; fail "interrupted run failed"; }
grep -q "stopped after step 50" "$work/cut.txt" || { cat "$work/cut.txt"; fail "--max-steps 50 did not stop the run"; }
[ ! -e "$work/cut.safetensors" ] || fail "an interrupted run saved its unfinished model with --save"
grep -aq '"format":"ctrnet.checkpoint"' "$work/run.ckpt" || fail "--checkpoint wrote no checkpoint"
"$bin" "${common[@]}" --threads 2 --checkpoint "$work/run.ckpt" --resume "$work/run.ckpt" \
  --save "$work/resumed.safetensors" > "$work/resumed.txt" 2>&1 || { cat "$work/resumed.txt"; fail "--resume failed"; }
grep -q "resumed .*epoch 2, batch 12, step 50" "$work/resumed.txt" || { cat "$work/resumed.txt"; fail "resumed at the wrong position"; }
cmp "$work/full.safetensors" "$work/resumed.safetensors" \
  || fail "the interrupted and resumed run saved another model than the uninterrupted one"
[ "$(grep -c '^epoch 3/3' "$work/full.txt")" = 1 ] && [ "$(grep '^epoch 3/3' "$work/full.txt" | cut -d'(' -f1)" = \
  "$(grep '^epoch 3/3' "$work/resumed.txt" | cut -d'(' -f1)" ] || fail "the resumed run reports another last epoch"
echo "checkpoint: interrupted at step 50 and resumed: the saved model is byte-identical"
# A resume with another model, other options or other data is a clear error.
expect_error() {  # message args...
  local msg="$1"; shift
  if "$bin" "$@" > "$work/err.txt" 2>&1; then fail "accepted a mismatching --resume: $*"; fi
  grep -q "ctrnet-train: .*$msg" "$work/err.txt" || { cat "$work/err.txt"; fail "no clear error ($msg)"; }
}
expect_error "written by a run with --model \"dcn_v2\", this run has --model \"dcn\"" \
  "${common[@]/dcn_v2/dcn}" --resume "$work/run.ckpt"
expect_error "with --lr 0.01, this run has --lr 0.02" "${base[@]}" --train "$work/train.tsv" --lr 0.02 \
  --resume "$work/run.ckpt"
expect_error "preprocessing state" "${base[@]}" --train "$work/test.tsv" --lr 0.01 --resume "$work/run.ckpt"
expect_error "not a checkpoint" "${common[@]}" --resume "$work/full.safetensors"

# --- 2. malformed input -----------------------------------------------------------------------
cp "$work/train.tsv" "$work/bad.tsv"
printf '1\t12\tabc\n' >> "$work/bad.tsv"
if "$bin" --model lr --format criteo --train "$work/bad.tsv" --epochs 1 > "$work/bad.txt" 2>&1; then
  fail "a malformed line was accepted"
fi
grep -q "bad.tsv:2401" "$work/bad.txt" || { cat "$work/bad.txt"; fail "the error does not name file:line"; }
"$bin" --model lr --format criteo --train "$work/bad.tsv" --epochs 1 --bad-lines skip > "$work/skip.txt" 2>&1 \
  || { cat "$work/skip.txt"; fail "--bad-lines skip failed"; }
grep -q "skipped" "$work/skip.txt" || fail "--bad-lines skip did not report the skipped line"

# --- 3. the shared real data ------------------------------------------------------------------
if [ -z "${CTRNET_DATA_DIR:-}" ] || [ ! -d "${CTRNET_DATA_DIR}/criteo-8k" ]; then
  echo "SKIPPED: CTRNET_DATA_DIR unset or without criteo-8k / avazu-9k: real-data runs not done"
  exit 0
fi
check_auc() {  # name min args...
  local name="$1" min="$2"; shift 2
  "$bin" "$@" --threads 2 --metrics-json "$work/$name.jsonl" > "$work/$name.txt" 2>&1 \
    || { cat "$work/$name.txt"; fail "$name: ctrnet-train failed"; }
  local a
  a="$(grep '"split":"test"' "$work/$name.jsonl" | sed 's/.*"auc":\([0-9.]*\).*/\1/')"
  awk -v a="$a" -v m="$min" 'BEGIN { exit !(a >= m) }' || fail "$name: test AUC $a < $min"
  echo "$name: test AUC $a (>= $min)"
}
D="$CTRNET_DATA_DIR"
check_auc criteo-8k 0.70 --model dcn_v2 --format criteo \
  --train "$D/criteo-8k/train.csv" --valid "$D/criteo-8k/dev.csv" --test "$D/criteo-8k/test.csv" --epochs 3
check_auc avazu-9k 0.69 --model dcn_v2 --format csv --schema "$schemas/avazu.json" \
  --train "$D/avazu-9k/train.csv" --valid "$D/avazu-9k/dev.csv" --test "$D/avazu-9k/test.csv" --epochs 3
echo "PASS"
