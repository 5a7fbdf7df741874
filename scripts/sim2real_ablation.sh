#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
# What each change of the synthetic generator does to the scores on real frames (docs/SIM2REAL.md).
#
#   scripts/sim2real_ablation.sh REAL_DIR [OUT] [ARM...]
#
# REAL_DIR: a labelled folder of real frames (e.g. ../shared/data/real-dev/nyu). Every arm trains
# the same small budget (enc-decs: RGB -> depth + labels, 96x96, Adam, STEPS steps of batch 16 on
# N_TRAIN frames, one thread) on one variant of the generator, then scores it on the synthetic
# test split of the full generator and on REAL_DIR with scripts/real_check.py. Arms:
#   v1            the generator before issue 13 (commit 05d596c, via git archive)
#   full          the current generator, every knob at its default
#   coupled       full, but each class keeps its own material and colours (room.decoupled=false)
#   no-camera     full, without the photometric camera model (exposure, gamma, blur, JPEG...)
#   square-fov    full, with square pixels (the old 63 x 63 degree view at 96x96)
#   no-clutter    full, without objects of no class (clutter, shelves, people, surface items)
# Results: OUT/ARM/{run,synthetic,real}/ and one line per arm in OUT/summary.txt.
set -euo pipefail
REAL=${1:?usage: $0 REAL_DIR [OUT] [ARM...]}
OUT=${2:-runs/sim2real}
shift $(( $# > 1 ? 2 : 1 ))
ARMS=${*:-v1 full coupled no-camera square-fov no-clutter}
STEPS=${STEPS:-300}
N_TRAIN=${N_TRAIN:-1500}
PY=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OMP_NUM_THREADS=1
mkdir -p "$OUT"

camera_off='{exposure: [0.85, 1.2], white_balance: 0.08, gamma: [1, 1], vignetting: [0, 0], blur: [0, 0], noise_std: 2.0, jpeg_prob: 0}'
declare -A GEN=(
  [full]='{}'
  [coupled]='{room: {decoupled: false}}'
  [no-camera]="$camera_off"
  [square-fov]='{kinect_fov: false}'
  [no-clutter]='{room: {clutter: [0, 0], bookshelves: [0, 0], people: 0, surface_items: 0}}'
)

for arm in $ARMS; do
  dir="$OUT/$arm"
  code="$ROOT"
  gen_opt=()
  if [[ $arm == v1 ]]; then
    code="$dir/code"
    rm -rf "$code" && mkdir -p "$code"
    git -C "$ROOT" archive 05d596c mmed_core | tar -x -C "$code"
  else
    gen_opt=("data.options.generator=${GEN[$arm]}")
  fi
  epochs=$(( STEPS / 50 ))
  PYTHONPATH="$code" $PY -m mmed_core.cli.train --config "$ROOT/config/train_indoor.yaml" \
    model.method=enc-decs data.cache_dir=null \
    "data.options={n_train: $N_TRAIN, n_val: 50, n_test: 100, n_extra: 0, seed: 0, progress: false}" \
    "${gen_opt[@]}" train.epochs=$epochs train.max_steps_per_epoch=50 train.patience=100 \
    "train.loss_weights={depth: 0.03, label: 1.0}" train.tensorboard=false \
    train.out_dir="$dir/run"
  # Synthetic scores: the test split of the current, full generator for every arm.
  PYTHONPATH="$ROOT" $PY -m mmed_core.cli.eval --checkpoint "$dir/run/best.safetensors" \
    --dataset synthetic --option n_test=100 --option progress=false --out "$dir/synthetic" \
    --figure-samples 0 > /dev/null
  PYTHONPATH="$ROOT" $PY "$ROOT/scripts/real_check.py" "$REAL" \
    --checkpoint "$dir/run/best.safetensors" --out "$dir/real" > "$dir/real.txt"
  PYTHONPATH="$ROOT" $PY - "$arm" "$dir" >> "$OUT/summary.txt" <<'PY'
import json, sys
arm, d = sys.argv[1], sys.argv[2]
s = json.load(open(f"{d}/synthetic/metrics.json"))["table1"]
r = json.load(open(f"{d}/real/metrics.json"))
print(f"{arm:<12s} synthetic mIoU {s['miou']:.3f} Rel {s['rel']:.3f} | real mIoU {r['miou']:.3f} "
      f"Rel {r['depth']['rel']:.3f} ({r['frames']} frames, {r['frames_with_depth']} with depth)")
PY
  tail -n 1 "$OUT/summary.txt"
done
