#!/usr/bin/env bash
# End-to-end test of the ctrnet-vt command line (CTest: cli_ctrnet_vt).
#   ctrnet_vt.sh <path of ctrnet-vt>
# 1. A small made-up session log (walks on a random item graph, written here by awk): trains,
#    writes the model (safetensors with item_ids) and the lists as CSV and as JSON lines; checks
#    the CSV header, K rows per item, ranks 1..K, no item listed as its own related item, and the
#    test line (HR@K above the popularity level of this made-up data); the same with --loss softmax
#    --decay linear --half-life (the defaults' loss and pair dropout, options in the model's
#    metadata); --towers cross and
#    --towers transformer (tower settings in the metadata).
# 2. Bad input: a malformed line (exit 1, message names the file and line), a missing file, a
#    log with no session of two different items, and bad option values; empty and header-only
#    --train / --test logs, a --test log without a next-item query, too large --dim / --k.
# 3. Outputs: a --lists in a missing folder or a malformed --test fails before training and writes
#    no model; --model = --train and --lists = --model are refused; --lists /dev/full is an error
#    and the model is not written; no temporary file is left.
# 4. Checkpoints: a run interrupted (--max-steps, --checkpoint-every) and resumed (--resume, other
#    --threads) writes the very bytes (model and lists) of an uninterrupted run; a resume with other
#    options or another log, or from a model file, is a clear error.
# 5. Validation: --valid scores every epoch, --patience stops early and keeps the best epoch, --log
#    has one JSON object per epoch; interrupted and resumed, the run writes the same bytes and
#    reports the same best epoch; a resume without --valid is refused.
set -euo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- 1. made-up sessions: 40 items, each with 3 likely successors ------------------------------
gen() {
  awk -v seed="$1" -v n="$2" -v first="$3" 'BEGIN {
    srand(99);
    for (i = 0; i < 40; i++) for (k = 0; k < 3; k++) nxt[i, k] = int(rand() * 40);
    srand(seed);
    print "SessionId\tItemId\tTime";
    t = 1000;
    for (s = 0; s < n; s++) {
      cur = int(rand() * 40); len = 2 + int(rand() * 5);
      for (j = 0; j < len; j++) {
        printf "%d\t%d\t%.3f\n", first + s, 9000 + cur, t; t += 1.5;
        cur = (rand() < 0.85) ? nxt[cur, int(rand() * 3)] : int(rand() * 40);
      }
    }
  }'
}
gen 1 1500 1 > "$work/train.tsv"
gen 2 300 100000 > "$work/test.tsv"

"$bin" --train "$work/train.tsv" --test "$work/test.tsv" --epochs 2 --dim 8 --hidden 16 --k 5 --threads 2 \
  --loss bce --decay constant --pair-dropout 0 --model "$work/vt.safetensors" --lists "$work/lists.csv" > "$work/out.txt" 2>&1 \
  || { cat "$work/out.txt"; fail "ctrnet-vt failed on a valid session log"; }
grep -q "^train: 1500 sessions, 40 items" "$work/out.txt" || { cat "$work/out.txt"; fail "no train summary"; }
[ -s "$work/vt.safetensors" ] || fail "no model file"
grep -aq '"extra.item_ids"' "$work/vt.safetensors" || fail "model file lacks extra.item_ids"
grep -aq '"architecture":"item_to_item"' "$work/vt.safetensors" || fail "model file lacks the architecture item_to_item"
grep -aq '"embedding.item"' "$work/vt.safetensors" || fail "model file lacks the item embedding table"
[ "$(head -n 1 "$work/lists.csv")" = "item,rank,related,score" ] || fail "bad CSV header"
rows=$(($(wc -l < "$work/lists.csv") - 1))
[ "$rows" -eq 200 ] || fail "expected 40 items x 5 rows, got $rows"
awk -F, 'NR > 1 && $1 == $3 { bad = 1 } NR > 1 && ($2 < 1 || $2 > 5) { bad = 1 } END { exit bad }' "$work/lists.csv" \
  || fail "an item is its own related item, or a rank is outside 1..5"
hr=$(sed -n 's/^test: .* HR@5=\([0-9.]*\) .*/\1/p' "$work/out.txt")
[ -n "$hr" ] || { cat "$work/out.txt"; fail "no test line"; }
awk -v h="$hr" 'BEGIN { exit !(h > 0.4) }' || fail "HR@5 = $hr, expected > 0.4 on the made-up walks"

"$bin" --train "$work/train.tsv" --epochs 1 --dim 4 --hidden 0 --k 3 --threads 1 --lists "$work/lists.jsonl" \
  > "$work/out2.txt" 2>&1 || { cat "$work/out2.txt"; fail "ctrnet-vt failed writing JSON lines"; }
[ "$(wc -l < "$work/lists.jsonl")" -eq 40 ] || fail "expected one JSON line per item"
head -n 1 "$work/lists.jsonl" | grep -Eq '^\{"item":[0-9]+,"related":\[[0-9]+,[0-9]+,[0-9]+\],"scores":\[' \
  || fail "bad JSON line: $(head -n 1 "$work/lists.jsonl")"

# The listwise loss (the default, as are the linear decay and pair dropout 0.7) with a recency weight (times 1.5 apart: the log
# spans ~8,000 time units, half-life 3,000) also learns the walks.
"$bin" --train "$work/train.tsv" --test "$work/test.tsv" --epochs 2 --dim 8 --hidden 0 --k 5 --threads 2 \
  --loss softmax --decay linear --half-life 3000 --model "$work/vt2.safetensors" > "$work/out3.txt" 2>&1 \
  || { cat "$work/out3.txt"; fail "ctrnet-vt --loss softmax failed"; }
grep -aq 'loss[\\"]*:[\\"]*softmax' "$work/vt2.safetensors" || fail "model metadata lacks the loss"
grep -aq 'pair_dropout[\\"]*:0.7' "$work/vt2.safetensors" || fail "model metadata lacks the default pair_dropout 0.7"
hr=$(sed -n 's/^test: .* HR@5=\([0-9.]*\) .*/\1/p' "$work/out3.txt")
[ -n "$hr" ] || { cat "$work/out3.txt"; fail "no test line (softmax)"; }
awk -v h="$hr" 'BEGIN { exit !(h > 0.4) }' || fail "HR@5 = $hr with --loss softmax, expected > 0.4"
if "$bin" --train "$work/train.tsv" --loss hinge > "$work/err.txt" 2>&1; then fail "accepted --loss hinge"; fi

# The cross and Transformer towers (--towers) learn the walks too; the tower settings are in the
# model's metadata.
"$bin" --train "$work/train.tsv" --test "$work/test.tsv" --epochs 2 --dim 8 --hidden 8 --k 5 --threads 2 \
  --towers cross --cross-depth 2 --rank 4 --model "$work/vt_cross.safetensors" > "$work/out4.txt" 2>&1 \
  || { cat "$work/out4.txt"; fail "ctrnet-vt --towers cross failed"; }
grep -aq '"context.cross.1.u"' "$work/vt_cross.safetensors" || fail "cross model file lacks context.cross.1.u"
grep -aq 'towers[\\"]*:[\\"]*cross' "$work/vt_cross.safetensors" || fail "model metadata lacks the tower kind"
"$bin" --train "$work/train.tsv" --test "$work/test.tsv" --epochs 2 --dim 8 --k 5 --threads 2 \
  --towers transformer --blocks 1 --heads 2 --ff-hidden 16 --loss softmax > "$work/out5.txt" 2>&1 \
  || { cat "$work/out5.txt"; fail "ctrnet-vt --towers transformer failed"; }
for f in out4 out5; do
  hr=$(sed -n 's/^test: .* HR@5=\([0-9.]*\) .*/\1/p' "$work/$f.txt")
  [ -n "$hr" ] || { cat "$work/$f.txt"; fail "no test line ($f)"; }
  awk -v h="$hr" 'BEGIN { exit !(h > 0.4) }' || fail "HR@5 = $hr ($f), expected > 0.4"
done
if "$bin" --train "$work/train.tsv" --towers transformer --dim 8 --heads 3 > "$work/err.txt" 2>&1; then
  fail "accepted --heads 3 with --dim 8"
fi
grep -q "multiple of transformer.heads" "$work/err.txt" || { cat "$work/err.txt"; fail "unclear error for --heads"; }
if "$bin" --train "$work/train.tsv" --towers rnn > "$work/err.txt" 2>&1; then fail "accepted --towers rnn"; fi

# --- 2. bad input -----------------------------------------------------------------------------------
printf 'SessionId\tItemId\tTime\n1\t5\t10.0\n1\tabc\t11.0\n' > "$work/bad.tsv"
if "$bin" --train "$work/bad.tsv" > "$work/err.txt" 2>&1; then fail "accepted a malformed item id"; fi
grep -q "bad.tsv:3" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not name file and line"; }

if "$bin" --train "$work/missing.tsv" > "$work/err.txt" 2>&1; then fail "accepted a missing file"; fi
grep -q "missing.tsv" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not name the missing file"; }

printf 'SessionId\tItemId\tTime\n1\t5\t10.0\n2\t6\t11.0\n3\t7\t12.0\n' > "$work/single.tsv"
if "$bin" --train "$work/single.tsv" > "$work/err.txt" 2>&1; then fail "accepted a log without item pairs"; fi
grep -q "no session with two different items" "$work/err.txt" || { cat "$work/err.txt"; fail "unclear error for a log without pairs"; }

if "$bin" --train "$work/train.tsv" --neighbor-negatives 1.5 > "$work/err.txt" 2>&1; then
  fail "accepted --neighbor-negatives 1.5"
fi
if "$bin" --train "$work/train.tsv" --pair-dropout 1 > "$work/err.txt" 2>&1; then fail "accepted --pair-dropout 1"; fi
grep -q "pair-dropout" "$work/err.txt" || { cat "$work/err.txt"; fail "unclear error for --pair-dropout 1"; }

# --- 3. outputs: opened (and --test read) before training, committed together at the end -----------
if "$bin" --train "$work/train.tsv" --epochs 1 --dim 4 --threads 1 --model "$work/early.safetensors" \
  --lists "$work/no/such/dir/l.csv" > "$work/err.txt" 2>&1; then fail "accepted --lists in a missing folder"; fi
grep -q "ctrnet-vt: error: .*no/such/dir/l.csv: cannot open for writing" "$work/err.txt" \
  || { cat "$work/err.txt"; fail "unclear error for --lists in a missing folder"; }
! grep -q "^train:\|^epoch" "$work/err.txt" || fail "--lists in a missing folder failed only after training"
[ ! -e "$work/early.safetensors" ] || fail "a failed run wrote its --model"
if "$bin" --train "$work/train.tsv" --test "$work/bad.tsv" --epochs 1 --dim 4 --threads 1 \
  --model "$work/early.safetensors" > "$work/err.txt" 2>&1; then fail "accepted a malformed --test"; fi
grep -q "bad.tsv:3" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not name the --test file and line"; }
! grep -q "^epoch" "$work/err.txt" || fail "a malformed --test was found only after training"
[ ! -e "$work/early.safetensors" ] || fail "a run with a malformed --test wrote its --model"
cp "$work/train.tsv" "$work/train.orig"
if "$bin" --train "$work/train.tsv" --epochs 1 --model "$work/train.tsv" > "$work/err.txt" 2>&1; then
  fail "accepted --model equal to --train"
fi
grep -q "ctrnet-vt: error: --model .*train.tsv is the same file as --train" "$work/err.txt" \
  || { cat "$work/err.txt"; fail "no clear error for --model = --train"; }
cmp -s "$work/train.tsv" "$work/train.orig" || fail "ctrnet-vt overwrote its --train file"
if "$bin" --train "$work/train.tsv" --epochs 1 --model "$work/same.out" --lists "$work/same.out" > "$work/err.txt" 2>&1; then
  fail "accepted --lists equal to --model"
fi
grep -q "is the same file as --model" "$work/err.txt" || { cat "$work/err.txt"; fail "no clear error for --lists = --model"; }
if [ -e /dev/full ]; then
  # A write error: exit code 1 naming the file, and the model (committed with the lists) not written.
  if "$bin" --train "$work/train.tsv" --epochs 1 --dim 4 --threads 1 --model "$work/full.safetensors" \
    --lists /dev/full > "$work/err.txt" 2>&1; then fail "--lists /dev/full exited 0"; fi
  grep -q "ctrnet-vt: error: /dev/full: .*No space left on device" "$work/err.txt" \
    || { cat "$work/err.txt"; fail "no error naming /dev/full"; }
  [ ! -e "$work/full.safetensors" ] || fail "the model was written although the lists failed"
fi
! ls "$work" | grep -q '\.tmp-' || fail "a failed run left a temporary file: $(ls "$work" | grep '\.tmp-')"
# Empty logs and too large options: exit code 1 (never a signal) and a message naming the file or option.
expect_fail() {  # name pattern args...
  local name="$1" pat="$2"; shift 2
  local rc=0
  "$bin" "$@" > "$work/$name.txt" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$work/$name.txt"; fail "$name: exit code $rc, expected 1"; }
  grep -q -- "$pat" "$work/$name.txt" || { cat "$work/$name.txt"; fail "$name: no message matching '$pat'"; }
}
: > "$work/empty.tsv"
printf 'SessionId\tItemId\tTime\n' > "$work/header.tsv"
expect_fail empty_train "--train file '$work/empty.tsv' holds no events: the file is empty" --train "$work/empty.tsv"
expect_fail header_train "--train file '$work/header.tsv' holds no events: 1 line read, 1 blank or header line" \
  --train "$work/header.tsv"
expect_fail empty_test "--test file '$work/empty.tsv' holds no events" \
  --train "$work/train.tsv" --test "$work/empty.tsv" --epochs 1 --dim 4 --k 3 --threads 1
expect_fail single_test "--test file '$work/single.tsv' has 3 events in 3 sessions but none with 2 or more events" \
  --train "$work/train.tsv" --test "$work/single.tsv" --epochs 1 --dim 4 --k 3 --threads 1
expect_fail huge_dim "--dim 2000000000 is out of range" --train "$work/train.tsv" --dim 2000000000
expect_fail huge_k "--k 4611686018427387904 x the catalogue's items: .* overflow" --train "$work/train.tsv" \
  --k 4611686018427387904
expect_fail big_dim "not enough memory: ctrnet-vt needs .*lower --dim (now 16000000)" --train "$work/train.tsv" \
  --dim 16000000 --hidden 16000000

# --- 4. checkpoints: interrupted (--max-steps) + --resume writes the very bytes of an uninterrupted run
ck=(--train "$work/train.tsv" --epochs 2 --dim 8 --hidden 8 --k 5 --batch 64 --negatives 4)
"$bin" "${ck[@]}" --threads 2 --model "$work/full.safetensors" --lists "$work/full.csv" > "$work/ck_full.txt" 2>&1 \
  || { cat "$work/ck_full.txt"; fail "uninterrupted run failed"; }
steps=$(awk '/training pairs/ { print int(($(NF - 2) + 63) / 64) }' "$work/ck_full.txt")
[ -n "$steps" ] && [ "$steps" -gt 10 ] || { cat "$work/ck_full.txt"; fail "could not read the steps per epoch"; }
stop=$((steps + steps / 2))  # inside epoch 2, between two --checkpoint-every checkpoints
"$bin" "${ck[@]}" --threads 2 --model "$work/cut.safetensors" --lists "$work/cut.csv" --checkpoint "$work/vt.ckpt" \
  --checkpoint-every 7 --max-steps "$stop" > "$work/ck_cut.txt" 2>&1 || { cat "$work/ck_cut.txt"; fail "interrupted run failed"; }
grep -q "stopped after step $stop (--max-steps)" "$work/ck_cut.txt" || { cat "$work/ck_cut.txt"; fail "no interruption line"; }
[ ! -e "$work/cut.safetensors" ] && [ ! -e "$work/cut.csv" ] || fail "an interrupted run wrote its unfinished model or lists"
[ -s "$work/vt.ckpt" ] || fail "no checkpoint written"
"$bin" "${ck[@]}" --threads 1 --model "$work/cut.safetensors" --lists "$work/cut.csv" --checkpoint "$work/vt.ckpt" \
  --resume "$work/vt.ckpt" > "$work/ck_resume.txt" 2>&1 || { cat "$work/ck_resume.txt"; fail "resumed run failed"; }
grep -q "resumed $work/vt.ckpt: epoch 2, batch $((stop - steps)), step $stop" "$work/ck_resume.txt" \
  || { cat "$work/ck_resume.txt"; fail "the resume did not start where the run stopped"; }
cmp -s "$work/full.safetensors" "$work/cut.safetensors" \
  || fail "the interrupted and resumed run saved another model than the uninterrupted one"
cmp -s "$work/full.csv" "$work/cut.csv" || fail "the interrupted and resumed run wrote other lists"
expect_fail resume_other_dim "the checkpoint was written by a run with embedding_dim = 8, this run has 4" \
  --train "$work/train.tsv" --epochs 2 --dim 4 --hidden 8 --k 5 --batch 64 --negatives 4 --resume "$work/vt.ckpt"
expect_fail resume_other_log "the checkpoint was trained on .*a different log" \
  --train "$work/test.tsv" --epochs 2 --dim 8 --hidden 8 --k 5 --batch 64 --negatives 4 --resume "$work/vt.ckpt"
expect_fail resume_not_checkpoint "not a checkpoint" "${ck[@]}" --resume "$work/full.safetensors"
echo "checkpoint: interrupted at step $stop and resumed: the model and lists are byte-identical"

# --- 5. validation, early stopping and the JSON-lines log, interrupted and resumed -------------
gen 3 300 200000 > "$work/valid.tsv"
va=(--train "$work/train.tsv" --valid "$work/valid.tsv" --patience 1 --epochs 8 --dim 8 --hidden 8 --k 5 --batch 64
    --negatives 4 --lr 0.01)
"$bin" "${va[@]}" --threads 2 --model "$work/vfull.safetensors" --log "$work/vfull.jsonl" > "$work/va_full.txt" 2>&1 \
  || { cat "$work/va_full.txt"; fail "validated run failed"; }
grep -q "^best epoch [0-9] of [0-9]" "$work/va_full.txt" || { cat "$work/va_full.txt"; fail "no best-epoch line"; }
epochs=$(sed -n 's/^best epoch [0-9]* of \([0-9]*\).*/\1/p' "$work/va_full.txt")
[ "$(grep -c '^valid: epoch' "$work/va_full.txt")" -eq "$epochs" ] || { cat "$work/va_full.txt"; fail "not one valid line per epoch"; }
[ "$(wc -l < "$work/vfull.jsonl")" -eq "$epochs" ] || { cat "$work/vfull.jsonl"; fail "the log has not one line per epoch"; }
grep -q '"valid_mrr@5"' "$work/vfull.jsonl" || { cat "$work/vfull.jsonl"; fail "the log lacks the validation"; }
stop=$((steps * 2 + steps / 2))
"$bin" "${va[@]}" --threads 2 --model "$work/vcut.safetensors" --log "$work/vcut.jsonl" --checkpoint "$work/v.ckpt" \
  --checkpoint-every 5 --max-steps "$stop" > "$work/va_cut.txt" 2>&1 || { cat "$work/va_cut.txt"; fail "validated interrupted run failed"; }
"$bin" "${va[@]}" --threads 1 --model "$work/vcut.safetensors" --log "$work/vcut.jsonl" --resume "$work/v.ckpt" \
  > "$work/va_resume.txt" 2>&1 || { cat "$work/va_resume.txt"; fail "validated resumed run failed"; }
cmp -s "$work/vfull.safetensors" "$work/vcut.safetensors" \
  || fail "validated run: the interrupted and resumed run saved another model than the uninterrupted one"
[ "$(grep '^best epoch' "$work/va_full.txt")" = "$(grep '^best epoch' "$work/va_resume.txt")" ] \
  || fail "validated run: another best epoch after the resume"
[ "$(wc -l < "$work/vcut.jsonl")" -eq "$epochs" ] || { cat "$work/vcut.jsonl"; fail "the continued log has not one line per epoch"; }
expect_fail resume_without_valid "validation" --train "$work/train.tsv" --epochs 8 --dim 8 --hidden 8 --k 5 --batch 64 \
  --negatives 4 --lr 0.01 --resume "$work/v.ckpt"
echo "validation: $(grep '^best epoch' "$work/va_full.txt"); interrupted and resumed: byte-identical"

echo "ctrnet-vt CLI test passed"
