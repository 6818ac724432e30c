#!/usr/bin/env bash
# One prepared GPU check (bench/README.md, "DETR family"): the training-epoch and inference
# benchmarks of every trainable temporal model under bf16 autocast, and the transformers
# backend's caption throughput, in under 8 minutes, all figures in one file.
#
#   bash bench/gpu.sh                         # on a CUDA machine: writes bench/gpu_results.txt
#   bash bench/gpu.sh --device cpu            # smoke check of the same script on a CPU (minutes)
#   bash bench/gpu.sh --out /tmp/figures.txt
#
# Each step has its own time limit (they add up to 7.5 minutes), so one slow step cannot eat the
# others' time; a step that fails or times out is written as such and the script goes on.
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
OUT=bench/gpu_results.txt
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument $1 (allowed: --device cuda|cpu, --out FILE)" >&2; exit 2 ;;
  esac
done
PY=${PY:-.venv/bin/python}
[[ -x "$PY" ]] || PY=python

if [[ "$DEVICE" == cpu ]]; then  # smoke sizes: the point is that every step runs
  AMP=""; STEPS=1; REPEAT=2; ROUNDS=1; BATCH=4; CAPTION=(--size small --frames 4 --output-tokens 4 --batch-size 4)
  T_EPOCH=900; T_INFER=300; T_CAPTION=300
else
  AMP="--amp"; STEPS=20; REPEAT=30; ROUNDS=4; BATCH=64; CAPTION=(--preset qwen2-vl-2b --frames 128 --output-tokens 64)
  T_EPOCH=270; T_INFER=80; T_CAPTION=100
fi
# every trainable model: both scripts expand "all" (bench/detr_epoch.charades_shape_models) and name
# each spatio-temporal one they leave out (it needs STVG data: bench/bridge_stg.py, not here)
MODELS=all

run() {  # run LIMIT_S TITLE CMD...: one step, its output and exit status into the figures file
  local limit=$1 title=$2
  shift 2
  echo "== $title ($(date -u +%H:%M:%S), limit ${limit}s): $*"
  timeout "$limit" "$@" 2>&1 | grep -v -E "Warning|warn\(" | tail -n 60
  local rc=${PIPESTATUS[0]}
  [[ $rc -eq 0 ]] || echo "!! $title: exit status $rc$([[ $rc -eq 124 ]] && echo ' (time limit)')"
}

{
  echo "# bench/gpu.sh on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), device $DEVICE"
  echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo '?'); models: $MODELS; load $(cut -d' ' -f1 /proc/loadavg)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  # shellcheck disable=SC2086
  run "$T_EPOCH" "training epoch, Charades-STA scale" "$PY" bench/detr_epoch.py --models $MODELS --steps "$STEPS" \
      --device "$DEVICE" $AMP
  # shellcheck disable=SC2086
  run "$T_INFER" "inference latency and throughput" "$PY" bench/detr_inference.py --models $MODELS --device "$DEVICE" \
      $AMP --repeat "$REPEAT" --rounds "$ROUNDS" --batch "$BATCH"
  run "$T_CAPTION" "caption throughput, transformers backend" "$PY" bench/caption_throughput.py --device "$DEVICE" \
      --backends transformers "${CAPTION[@]}"
  echo "# done $(date -u +%H:%M:%S)"
} | tee "$OUT"
echo "figures written to $OUT"
