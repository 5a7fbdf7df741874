#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
# Fine-tune the shipped indoor model on variants of the synthetic data and score every epoch on
# labelled real frames (docs/SIM2REAL.md, "Round shapes and Kinect-like depth, measured").
#
#   scripts/finetune_arms.sh REAL_DIR [OUT] [ARM...]
#
# Every arm starts from the first shipped model (v1, train.init):
# results/sim2real/shipped-v1/nyu12-synthetic.safetensors, with
# config/train_indoor.yaml, train.seed=1, EPOCHS epochs of 100 steps of batch 16 and one torch
# thread; all arms run at once (one core each), each watched by scripts/real_curve.sh. Arms:
#   plain     the shipped model's own data (cache runs/cache-indoor): the comparator
#   rounded   round shapes (data.options.generator={room: {rounded: 0.5}}), own cache
#   kinect    data.depth_input=kinect: the depth encoder reads Kinect-like depth
#   aug       data.augment=standard: flip, zoom, colour jitter
#   mixed     data.depth_input=mixed: half the samples read Kinect-like depth
#   randconv  data.augment=randconv: standard + random convolutions of the RGB input
# Results: OUT/ft-ARM/ (the run), OUT/curve-ARM/ (curve.txt and per-epoch checkpoints, scored);
# then python scripts/curve_table.py plain=OUT/curve-plain rounded=OUT/curve-rounded ...
# The cache of plain is shared with kinect, aug, mixed and randconv, which start once plain
# has built it (or at once, when OUT/cache-indoor holds it from an earlier run).
set -euo pipefail
REAL=${1:?usage: $0 REAL_DIR [OUT] [ARM...]}
OUT=${2:-runs}
shift $(( $# > 1 ? 2 : 1 ))
ARMS=${*:-plain rounded kinect}
EPOCHS=${EPOCHS:-10}
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
export OMP_NUM_THREADS=1 PY
mkdir -p "$OUT"
declare -A EXTRA=(
  [plain]="data.cache_dir=$OUT/cache-indoor"
  [rounded]="data.cache_dir=$OUT/cache-rounded|data.options.generator={room: {rounded: 0.5}}"
  [kinect]="data.cache_dir=$OUT/cache-indoor|data.depth_input=kinect"
  [aug]="data.cache_dir=$OUT/cache-indoor|data.augment=standard"
  [mixed]="data.cache_dir=$OUT/cache-indoor|data.depth_input=mixed"
  [randconv]="data.cache_dir=$OUT/cache-indoor|data.augment=randconv"
)
train() {  # ARM: one fine-tune and its real-frame curve, in the background
  local arm=$1 extra=()
  IFS='|' read -r -a extra <<< "${EXTRA[$arm]}"
  nice -n 10 "$PY" -m mmed_core.cli.train --config config/train_indoor.yaml \
    train.init=results/sim2real/shipped-v1/nyu12-synthetic.safetensors train.seed=1 "train.epochs=$EPOCHS" \
    "train.patience=$EPOCHS" train.criterion=sum "${extra[@]}" \
    "train.out_dir=$OUT/ft-$arm" > "$OUT/ft-$arm.log" 2>&1 &
  bash scripts/real_curve.sh "$OUT/ft-$arm" "$REAL" "$OUT/curve-$arm" > "$OUT/curve-$arm.log" 2>&1 &
  echo "$arm: $OUT/ft-$arm.log, curve $OUT/curve-$arm/curve.txt"
}
first=()
later=()
for arm in $ARMS; do
  [ -n "${EXTRA[$arm]+x}" ] || {
    echo "$0: unknown arm '$arm' (${!EXTRA[*]})" >&2; exit 2; }
  case $arm in kinect|aug|mixed|randconv) later+=("$arm") ;; *) first+=("$arm") ;; esac
done
cached=$([ -f "$OUT/cache-indoor/synthetic-train/manifest.json" ] && echo yes || echo no)
if [ ${#later[@]} -gt 0 ] && [ "$cached" = no ] && [[ " ${first[*]} " != *" plain "* ]]; then
  echo "$0: ${later[*]} read plain's cache $OUT/cache-indoor (built by its first epoch):" \
    "add the arm plain" >&2
  exit 2
fi
for arm in "${first[@]}"; do train "$arm"; done
if [ ${#later[@]} -gt 0 ]; then
  # they read plain's cache: wait until it is built (plain's first epoch is written)
  if [ "$cached" = no ]; then
    until [ -f "$OUT/ft-plain/last.json" ]; do sleep 20; done
  fi
  for arm in "${later[@]}"; do train "$arm"; done
fi
wait
echo "done: python scripts/curve_table.py $(for a in $ARMS; do printf '%s=%s ' "$a" "$OUT/curve-$a"; done)--mean-from 6"
