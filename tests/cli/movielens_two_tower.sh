#!/usr/bin/env bash
# Checkpoint and resume of the movielens_two_tower example (CTest: cli_movielens_two_tower), on its
# synthetic MovieLens-shaped data (--synthetic), small sizes:
#   movielens_two_tower.sh <path of movielens_two_tower>
# For the in-batch (logQ) and mixed objectives: a run interrupted inside epoch 2 (--max-steps, with
# --checkpoint-every) and resumed (--resume, --threads 1 instead of 2) saves the very bytes of the
# uninterrupted run's model (--save); the interrupted run saves nothing. A resume with other
# options, from a model file, or --checkpoint with several objectives is a clear error. With
# validation and early stopping (--patience, --log) the same holds, the log has one JSON object per
# epoch with the validation's metrics, and the resumed run reports the same best epoch.
set -euo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_fail() {  # name, message (grep -E), arguments...
  local name="$1" msg="$2"
  shift 2
  if "$bin" "$@" > "$work/$name.txt" 2>&1; then cat "$work/$name.txt"; fail "$name: expected a failure"; fi
  grep -Eq -- "$msg" "$work/$name.txt" || { cat "$work/$name.txt"; fail "$name: no message '$msg'"; }
}

common=(--synthetic --towers mlp --epochs 2 --dim 16 --embedding-dim 8 --batch 512 --mixed-negatives 64)
for obj in in-batch mixed; do
  run=("${common[@]}" --objectives "$obj")
  "$bin" "${run[@]}" --threads 2 --save "$work/full" > "$work/full_$obj.txt" 2>&1 \
    || { cat "$work/full_$obj.txt"; fail "$obj: uninterrupted run failed"; }
  pairs=$(sed -n 's/^data: .* train \([0-9]*\) .*/\1/p' "$work/full_$obj.txt")
  [ -n "$pairs" ] || { cat "$work/full_$obj.txt"; fail "$obj: no data line"; }
  steps=$(((pairs + 511) / 512))
  stop=$((steps + steps / 2))  # inside epoch 2, between two --checkpoint-every checkpoints
  "$bin" "${run[@]}" --threads 2 --save "$work/cut" --checkpoint "$work/tt.ckpt" --checkpoint-every 7 \
    --max-steps "$stop" > "$work/cut_$obj.txt" 2>&1 || { cat "$work/cut_$obj.txt"; fail "$obj: interrupted run failed"; }
  grep -q "stopped after step $stop (--max-steps)" "$work/cut_$obj.txt" \
    || { cat "$work/cut_$obj.txt"; fail "$obj: no interruption line"; }
  [ ! -e "$work/cut/${obj}_mlp.safetensors" ] || fail "$obj: an interrupted run saved its unfinished model"
  [ -s "$work/tt.ckpt" ] || fail "$obj: no checkpoint written"
  "$bin" "${run[@]}" --threads 1 --save "$work/cut" --checkpoint "$work/tt.ckpt" --resume "$work/tt.ckpt" \
    > "$work/resume_$obj.txt" 2>&1 || { cat "$work/resume_$obj.txt"; fail "$obj: resumed run failed"; }
  grep -q "resumed $work/tt.ckpt: epoch 2, batch $((stop - steps)), step $stop" "$work/resume_$obj.txt" \
    || { cat "$work/resume_$obj.txt"; fail "$obj: the resume did not start where the run stopped"; }
  cmp -s "$work/full/${obj}_mlp.safetensors" "$work/cut/${obj}_mlp.safetensors" \
    || fail "$obj: the interrupted and resumed run saved another model than the uninterrupted one"
  # Same metrics line (all but the timing).
  [ "$(grep '^[a-z-]* *mlp ' "$work/full_$obj.txt" | sed 's/ (.*//')" = \
    "$(grep '^[a-z-]* *mlp ' "$work/resume_$obj.txt" | sed 's/ (.*//')" ] || fail "$obj: other metrics after the resume"
  echo "$obj: interrupted at step $stop and resumed: the model is byte-identical"
done

# Validation every epoch, early stopping and the JSON-lines log, interrupted inside epoch 3 and resumed.
val=(--synthetic --towers mlp --epochs 5 --dim 16 --embedding-dim 8 --batch 512 --objectives in-batch --patience 1 --lr 0.01)
"$bin" "${val[@]}" --threads 2 --save "$work/vfull" --log "$work/vfull.jsonl" -v > "$work/vfull.txt" 2>&1 \
  || { cat "$work/vfull.txt"; fail "validated run failed"; }
grep -q "best epoch [0-9] of [0-9]" "$work/vfull.txt" || { cat "$work/vfull.txt"; fail "no best-epoch line"; }
epochs=$(sed -n 's/.*best epoch [0-9]* of \([0-9]*\).*/\1/p' "$work/vfull.txt")
[ "$(wc -l < "$work/vfull.jsonl")" -eq "$epochs" ] || { cat "$work/vfull.jsonl"; fail "the log has not one line per epoch"; }
grep -q '"valid_recall@10"' "$work/vfull.jsonl" || { cat "$work/vfull.jsonl"; fail "the log lacks the validation"; }
stop=$((2 * steps + steps / 2))
"$bin" "${val[@]}" --threads 2 --save "$work/vcut" --log "$work/vcut.jsonl" --checkpoint "$work/v.ckpt" \
  --checkpoint-every 5 --max-steps "$stop" > "$work/vcut.txt" 2>&1 || { cat "$work/vcut.txt"; fail "validated interrupted run failed"; }
"$bin" "${val[@]}" --threads 1 --save "$work/vcut" --log "$work/vcut.jsonl" --resume "$work/v.ckpt" -v \
  > "$work/vresume.txt" 2>&1 || { cat "$work/vresume.txt"; fail "validated resumed run failed"; }
cmp -s "$work/vfull/in-batch_mlp.safetensors" "$work/vcut/in-batch_mlp.safetensors" \
  || fail "validated run: the interrupted and resumed run saved another model than the uninterrupted one"
[ "$(grep 'best epoch' "$work/vfull.txt")" = "$(grep 'best epoch' "$work/vresume.txt")" ] \
  || fail "validated run: another best epoch after the resume"
[ "$(wc -l < "$work/vcut.jsonl")" -eq "$epochs" ] || { cat "$work/vcut.jsonl"; fail "the continued log has not one line per epoch"; }
echo "validated in-batch run: $(grep 'best epoch' "$work/vfull.txt" | sed 's/^ *//'); resumed byte-identical"

expect_fail resume_other_dim "the checkpoint was written by a run with dim = 16, this run has 8" \
  --synthetic --towers mlp --objectives mixed --epochs 2 --dim 8 --embedding-dim 8 --batch 512 --mixed-negatives 64 \
  --resume "$work/tt.ckpt"
expect_fail resume_other_objective "objective = \"mixed\", this run has \"in-batch\"" \
  "${common[@]}" --objectives in-batch --resume "$work/tt.ckpt"
expect_fail resume_model_file "not a checkpoint" "${common[@]}" --objectives in-batch --resume "$work/full/in-batch_mlp.safetensors"
expect_fail checkpoint_two_objectives "give one objective" "${common[@]}" --objectives in-batch,mixed \
  --checkpoint "$work/x.ckpt"
expect_fail max_steps_without_checkpoint "requires --checkpoint|--checkpoint" "${common[@]}" --objectives mixed --max-steps 3
echo "movielens_two_tower CLI test passed"
