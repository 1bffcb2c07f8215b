#!/usr/bin/env bash
# End-to-end test of the ctrnet-train and ctrnet-predict command lines (CTest: cli_ctrnet_train).
#   ctrnet_train.sh <path of ctrnet-train> <schemas dir> [<path of ctrnet-predict>]
# 1. A small Criteo-format file written here: trains, writes --metrics-json lines with the
#    required keys, and prints the test AUC.
#    Checkpoints: an interrupted (--max-steps) and resumed (--resume) run saves the same bytes as
#    an uninterrupted one; a resume with another model, options or data is a clear error.
#    Outputs: ctrnet-predict --output /dev/full (and a full standard output) and ctrnet-train
#    --save / --metrics-json /dev/full exit 1 naming /dev/full; an output equal to an input is
#    refused (the input unchanged); a missing output folder fails before reading; a killed run's
#    checkpoint temporary is removed; --metrics-json appends on --resume; no temporary is left.
# 2. Malformed input: exit code 1 and an error naming the file, the line and the column.
#    Input validation (2b): empty, blank-only and header-only splits, a one-class --valid, labels
#    other than 0/1 (libsvm -1/+1 only with --labels pm1), too large --hash-buckets and
#    --embedding-dim: exit code 1 before any training, with a message naming the file or option;
#    ctrnet-predict on an empty input or a bad label fails before writing scores.
# 3. With CTRNET_DATA_DIR: criteo-8k and avazu-9k (train/dev/test as given) with dcn_v2 must
#    reach test AUC >= 0.70 and >= 0.69 (issue 4), and --model lr with its defaults >= 0.70 on
#    criteo-8k (issue 16); skipped, with a message, when it is unset.
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
# With --valid, early stopping is on by default (--patience 2): it names the epoch whose model is kept.
grep -q "^best epoch: [12] of 2 (valid AUC [0-9.]*).*its model is kept" "$work/out.txt" \
  || { cat "$work/out.txt"; fail "no 'best epoch' line: early stopping is not on by default with --valid"; }
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
  # Outputs: a write error (a full device) is exit code 1 with a message naming it, never a silent
  # truncated file; an --output that is the --input is refused and the input left unchanged.
  if [ -e /dev/full ]; then
    if "$predict" --model "$work/model.safetensors" --input "$work/test.tsv" --output /dev/full 2> "$work/full.txt"; then
      fail "ctrnet-predict --output /dev/full exited 0"
    fi
    grep -q "ctrnet-predict: /dev/full: .*No space left on device" "$work/full.txt" \
      || { cat "$work/full.txt"; fail "no error naming /dev/full"; }
    if "$predict" --model "$work/model.safetensors" --input "$work/test.tsv" > /dev/full 2> "$work/full.txt"; then
      fail "ctrnet-predict to a full standard output exited 0"
    fi
    grep -q "ctrnet-predict: standard output: .*No space left on device" "$work/full.txt" \
      || { cat "$work/full.txt"; fail "no error for a full standard output"; }
  fi
  cp "$work/test.tsv" "$work/test.orig"
  if "$predict" --model "$work/model.safetensors" --input "$work/test.tsv" --output "$work/test.tsv" 2> "$work/same.txt"; then
    fail "ctrnet-predict accepted --output equal to --input"
  fi
  grep -q "ctrnet-predict: --output .*test.tsv is the same file as --input" "$work/same.txt" \
    || { cat "$work/same.txt"; fail "no clear error for --output = --input"; }
  cmp -s "$work/test.tsv" "$work/test.orig" || fail "ctrnet-predict changed its --input"
  if "$predict" --model "$work/model.safetensors" --input "$work/test.tsv" --output "$work/no/such/dir/s.txt" \
    2> "$work/nodir.txt"; then fail "ctrnet-predict accepted an --output in a missing folder"; fi
  grep -q "no/such/dir/s.txt: cannot open for writing" "$work/nodir.txt" || { cat "$work/nodir.txt"; fail "unclear error for a missing folder"; }
  echo "ctrnet-predict: write errors and --output = --input are errors"
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

# --- 1a. outputs: refused when they are inputs, unwritable ones fail before training, checked writes
cp "$work/train.tsv" "$work/train.orig"
small=(--model lr --format criteo --epochs 1 --batch 256 --threads 1)
if "$bin" "${small[@]}" --train "$work/train.tsv" --save "$work/train.tsv" > "$work/err.txt" 2>&1; then
  fail "ctrnet-train accepted --save equal to --train"
fi
grep -q "ctrnet-train: --save .*train.tsv is the same file as --train" "$work/err.txt" \
  || { cat "$work/err.txt"; fail "no clear error for --save = --train"; }
cmp -s "$work/train.tsv" "$work/train.orig" || fail "ctrnet-train overwrote its --train file"
if "$bin" "${small[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --metrics-json "$work/valid.tsv" \
  > "$work/err.txt" 2>&1; then fail "ctrnet-train accepted --metrics-json equal to --valid"; fi
grep -q "is the same file as --valid" "$work/err.txt" || { cat "$work/err.txt"; fail "no clear error for --metrics-json = --valid"; }
for out in --save --checkpoint --metrics-json; do
  if "$bin" "${small[@]}" --train "$work/train.tsv" "$out" "$work/no/such/dir/x" > "$work/err.txt" 2>&1; then
    fail "ctrnet-train accepted $out in a missing folder"
  fi
  grep -q "ctrnet-train: .*no/such/dir/x: cannot open for writing" "$work/err.txt" \
    || { cat "$work/err.txt"; fail "unclear error for $out in a missing folder"; }
  ! grep -q "^epoch\|^read " "$work/err.txt" || fail "$out in a missing folder failed only after reading or training"
done
if [ -e /dev/full ]; then
  for out in --save --metrics-json; do
    if "$bin" "${small[@]}" --train "$work/train.tsv" "$out" /dev/full > "$work/err.txt" 2>&1; then
      fail "ctrnet-train $out /dev/full exited 0"
    fi
    grep -q "ctrnet-train: /dev/full: .*No space left on device" "$work/err.txt" \
      || { cat "$work/err.txt"; fail "no error naming /dev/full ($out)"; }
  done
fi
! ls "$work" | grep -q '\.tmp-' || fail "a failed run left a temporary file: $(ls "$work" | grep '\.tmp-')"
echo "outputs: --save = --train refused, missing folders fail before training, /dev/full is an error"

# --- 1b. checkpoints: interrupted (--max-steps) + --resume saves the very bytes of an uninterrupted run
# 2400 rows in batches of 64: 38 steps per epoch; the cut falls in epoch 2. Dropout and early
# stopping are on (the checkpoint carries the best epoch's copy); the thread counts differ.
base=(--model dcn_v2 --format criteo --valid "$work/valid.tsv" --epochs 3 --batch 64 --embedding-lr 0.02
      --hidden 32 16 --embedding-dim 4 --dropout 0.2 --patience 2)
common=("${base[@]}" --train "$work/train.tsv" --lr 0.01)
"$bin" "${common[@]}" --threads 2 --save "$work/full.safetensors" > "$work/full.txt" 2>&1 \
  || { cat "$work/full.txt"; fail "uninterrupted run failed"; }
"$bin" "${common[@]}" --threads 1 --checkpoint "$work/run.ckpt" --checkpoint-every 10 --max-steps 50 \
  --save "$work/cut.safetensors" --metrics-json "$work/run.jsonl" > "$work/cut.txt" 2>&1 \
  || { cat "$work/cut.txt"; fail "interrupted run failed"; }
grep -q "stopped after step 50" "$work/cut.txt" || { cat "$work/cut.txt"; fail "--max-steps 50 did not stop the run"; }
[ ! -e "$work/cut.safetensors" ] || fail "an interrupted run saved its unfinished model with --save"
grep -aq '"format":"ctrnet.checkpoint"' "$work/run.ckpt" || fail "--checkpoint wrote no checkpoint"
# A run killed with SIGKILL while writing its checkpoint leaves run.ckpt.tmp-<pid>: the next writer removes it.
dead="$(sh -c 'echo $$')"
echo "partial" > "$work/run.ckpt.tmp-$dead"
"$bin" "${common[@]}" --threads 2 --checkpoint "$work/run.ckpt" --resume "$work/run.ckpt" \
  --save "$work/resumed.safetensors" --metrics-json "$work/run.jsonl" > "$work/resumed.txt" 2>&1 \
  || { cat "$work/resumed.txt"; fail "--resume failed"; }
[ ! -e "$work/run.ckpt.tmp-$dead" ] || fail "the stale checkpoint temporary of a dead process was not removed"
[ "$(grep -c '"split":"valid"' "$work/run.jsonl")" = 3 ] \
  || { cat "$work/run.jsonl"; fail "--metrics-json with --resume: expected 3 epoch lines (1 before the cut, 2 after)"; }
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

# --- 2b. input validation before any work (issue 16): exit code 1 (never a signal), a message
# naming the file / option, and nothing trained or saved.
expect_fail() {  # name pattern cmd...: the command fails with exit code 1 and prints the pattern
  local name="$1" pat="$2"; shift 2
  local rc=0
  "$@" > "$work/$name.txt" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$work/$name.txt"; fail "$name: exit code $rc, expected 1"; }
  grep -q -- "$pat" "$work/$name.txt" || { cat "$work/$name.txt"; fail "$name: no message matching '$pat'"; }
}
small=(--model lr --format criteo --epochs 1 --threads 1)
: > "$work/empty.tsv"
printf '\n\n\n' > "$work/blank.tsv"
expect_fail empty_train "--train file '$work/empty.tsv' holds no examples: the file is empty" \
  "$bin" "${small[@]}" --train "$work/empty.tsv" --save "$work/e.safetensors"
expect_fail blank_train "holds no examples: 3 lines read, 3 blank" "$bin" "${small[@]}" --train "$work/blank.tsv"
expect_fail empty_valid "--valid file '$work/empty.tsv' holds no examples" \
  "$bin" "${small[@]}" --train "$work/train.tsv" --valid "$work/empty.tsv"
expect_fail empty_test "--test file '$work/blank.tsv' holds no examples" \
  "$bin" "${small[@]}" --train "$work/train.tsv" --test "$work/blank.tsv" --save "$work/e.safetensors"
grep -q "^epoch" "$work/empty_test.txt" && fail "an empty --test was found only after training"
[ ! -e "$work/e.safetensors" ] || fail "a run with an empty split saved a model"
awk -F'\t' '$1 == 0' "$work/valid.tsv" > "$work/negatives.tsv"
expect_fail one_class_valid "--valid file '$work/negatives.tsv' has only label 0" \
  "$bin" "${small[@]}" --train "$work/train.tsv" --valid "$work/negatives.tsv"
# csv: a header-only file, and labels that are not 0 / 1 (named by file:line and column).
cat > "$work/s.json" <<'JSON'
{"delimiter": ",", "header": true, "columns": [{"name": "click", "role": "label"}, {"name": "site"}, {"name": "x", "role": "dense"}]}
JSON
printf 'click,site,x\n' > "$work/header.csv"
awk 'BEGIN { srand(3); print "click,site,x"; for (i = 0; i < 400; i++) { s = int(rand() * 8); print ((rand() < 0.2 + 0.1 * s) ? 1 : 0) ",s" s "," rand() } }' \
  > "$work/ok.csv"
csv=(--model lr --format csv --schema "$work/s.json" --epochs 1 --threads 1)
expect_fail header_only "--train file '$work/header.csv' holds no examples: 1 line read, 1 blank, comment or header line" \
  "$bin" "${csv[@]}" --train "$work/header.csv"
for y in 2 -1 0.5; do
  { head -n 3 "$work/ok.csv"; echo "$y,s1,0.5"; } > "$work/label.csv"
  expect_fail "label_$y" "label.csv:4: column 'click': expected a binary label 0 or 1.*got \"$y\"" \
    "$bin" "${csv[@]}" --train "$work/label.csv"
done
# libsvm: -1/+1 labels are an error with a hint, unless --labels pm1 maps -1 to 0.
awk 'BEGIN { srand(5); for (i = 0; i < 300; i++) { f = int(rand() * 6); print ((rand() < 0.15 * f) ? "+1" : "-1") " " f ":1 " (6 + int(rand() * 4)) ":1" } }' \
  > "$work/pm1.svm"
svm=(--model lr --format libsvm --epochs 1 --threads 1)
expect_fail libsvm_pm1 "pm1.svm:[0-9]*: column 'label': expected a binary label 0 or 1 (for -1/+1 labels.*--labels pm1" \
  "$bin" "${svm[@]}" --train "$work/pm1.svm"
"$bin" "${svm[@]}" --labels pm1 --train "$work/pm1.svm" --test "$work/pm1.svm" --save "$work/pm1.safetensors" \
  > "$work/pm1.txt" 2>&1 || { cat "$work/pm1.txt"; fail "--labels pm1 did not train on -1/+1 labels"; }
grep -q "^test  AUC" "$work/pm1.txt" || fail "--labels pm1: no test AUC"
if "$bin" "${csv[@]}" --labels pm1 --train "$work/ok.csv" > "$work/labels_csv.txt" 2>&1; then fail "accepted --labels pm1 for csv"; fi
grep -q -- "--labels pm1 applies to --format libsvm only" "$work/labels_csv.txt" || { cat "$work/labels_csv.txt"; fail "unclear --labels error"; }
# Too large options: a clear error naming the option before anything is allocated (no bad_alloc abort).
expect_fail huge_buckets "not enough memory.*lower --hash-buckets (now 100000000000000)" \
  "$bin" "${small[@]}" --train "$work/train.tsv" --hash-buckets 100000000000000
expect_fail big_buckets "not enough memory.*lower --hash-buckets (now 1000000000)" \
  "$bin" --model dcn_v2 --format criteo --epochs 1 --threads 1 --train "$work/train.tsv" --hash-buckets 1000000000
expect_fail huge_dim "lower --embedding-dim" \
  "$bin" --model dcn_v2 --format criteo --epochs 1 --threads 1 --train "$work/train.tsv" --embedding-dim 2000000000
expect_fail big_dim "not enough memory.*lower --embedding-dim (now 200000)" \
  "$bin" --model dcn_v2 --format criteo --epochs 1 --threads 1 --train "$work/train.tsv" --embedding-dim 200000
expect_fail huge_hidden "--hidden width 2000000000 is out of range" \
  "$bin" --model dcn_v2 --format criteo --epochs 1 --threads 1 --train "$work/train.tsv" --hidden 2000000000 2000000000 2000000000
echo "input validation: empty / blank / header-only / one-class splits, non-binary labels and too large options fail clearly"

if [ -n "$predict" ]; then
  expect_fail predict_empty "--input file '$work/empty.tsv' holds no examples" \
    "$predict" --model "$work/model.safetensors" --input "$work/empty.tsv" --output "$work/p.txt"
  "$bin" "${csv[@]}" --train "$work/ok.csv" --save "$work/csv.safetensors" > "$work/csv.txt" 2>&1 \
    || { cat "$work/csv.txt"; fail "csv training failed"; }
  { head -n 101 "$work/ok.csv"; echo "2,s1,0.5"; } > "$work/label2.csv"
  expect_fail predict_label "label2.csv:102: column 'click': expected a binary label 0 or 1, got \"2\"" \
    "$predict" --model "$work/csv.safetensors" --input "$work/label2.csv" --schema "$work/s.json" --output "$work/p.txt"
  [ ! -s "$work/p.txt" ] || fail "ctrnet-predict wrote scores for an input with a bad label"
  expect_fail predict_pm1 "pm1.svm:[0-9]*: column 'label'.*--labels pm1" \
    "$predict" --model "$work/pm1.safetensors" --input "$work/pm1.svm"
  "$predict" --model "$work/pm1.safetensors" --input "$work/pm1.svm" --labels pm1 --output "$work/p.txt" \
    2> "$work/ppm1.txt" || { cat "$work/ppm1.txt"; fail "ctrnet-predict --labels pm1 failed"; }
  [ "$(wc -l < "$work/p.txt")" = 300 ] || fail "ctrnet-predict --labels pm1 wrote $(wc -l < "$work/p.txt") scores"
  grep -q "AUC" "$work/ppm1.txt" || fail "ctrnet-predict --labels pm1: no AUC for -1/+1 labels"
fi

# movielens_two_tower (built next to ctrnet-train when the examples are built): a --data folder
# without u.data is an error, not a silent run on synthetic data.
ml="$(dirname "$bin")/movielens_two_tower"
if [ -x "$ml" ]; then
  mkdir -p "$work/no_ml"
  expect_fail movielens_data "no file '$work/no_ml/u.data'" "$ml" --data "$work/no_ml" --epochs 1
else
  echo "SKIPPED: $ml not built: its --data check not run"
fi

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
check_auc criteo-8k-lr 0.70 --model lr --format criteo \
  --train "$D/criteo-8k/train.csv" --valid "$D/criteo-8k/dev.csv" --test "$D/criteo-8k/test.csv"
echo "PASS"
