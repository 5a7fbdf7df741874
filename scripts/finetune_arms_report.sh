#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
# Everything the decision rules of docs/SIM2REAL.md ("Round shapes and Kinect-like depth,
# measured") read, from the runs of scripts/finetune_arms.sh, as markdown on stdout:
#
#   scripts/finetune_arms_report.sh REAL_DIR [OUT] [ARM...]     (default OUT runs, ARMs: all found)
#
# 1. the per-epoch curves side by side (scripts/curve_table.py, mean from epoch 6);
# 2. each arm's last checkpoint against plain's on the real frames, rgb->label (mmed-eval paired);
# 3. kinect and mixed against plain on the synthetic test split (200 frames): depth->label and
#    rgb->label with Kinect-like depth input (seed 0), then with clean depth; randconv against
#    plain there on rgb->label and rgb->depth.
set -euo pipefail
REAL=${1:?usage: $0 REAL_DIR [OUT] [ARM...]}
OUT=${2:-runs}
shift $(( $# > 1 ? 2 : 1 ))
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
EVAL=("$PY" -m mmed_core.cli.eval)
last() {  # ARM -> its curve's checkpoint of the highest epoch
  ls "$OUT/curve-$1"/ep*.safetensors 2>/dev/null | sed 's/.*ep\([0-9]*\)\.safetensors/\1 &/' \
    | sort -n | tail -1 | cut -d' ' -f2
}
ARMS=${*:-$(for d in "$OUT"/curve-*; do [ -d "$d" ] && basename "$d" | sed 's/^curve-//'; done)}
[ -d "$OUT/curve-plain" ] || { echo "$0: no $OUT/curve-plain: run scripts/finetune_arms.sh first" >&2; exit 2; }
echo "## Real-frame curves"
echo
"$PY" scripts/curve_table.py $(for a in $ARMS; do printf '%s=%s ' "$a" "$OUT/curve-$a"; done) --mean-from 6
base=$(last plain)
for arm in $ARMS; do
  [ "$arm" = plain ] && continue
  cand=$(last "$arm")
  echo
  echo "## $arm - plain on the real frames, rgb->label ($(basename "$base") vs $(basename "$cand"))"
  echo
  "${EVAL[@]}" paired "$base" "$cand" --dataset labelled --root "$REAL" \
    --option class_map=nyu40_to_nyu12 --path 'rgb->label'
  if [ "$arm" = kinect ] || [ "$arm" = mixed ]; then
    for input in kinect clean; do
      echo
      echo "## $arm - plain on 200 synthetic test frames, $input depth input"
      echo
      "${EVAL[@]}" paired "$base" "$cand" --split test --option n_test=200 \
        --depth-input "$input" --seed 0 --path 'depth->label' --path 'rgb->label'
    done
  fi
  if [ "$arm" = randconv ]; then
    echo
    echo "## $arm - plain on 200 synthetic test frames"
    echo
    "${EVAL[@]}" paired "$base" "$cand" --split test --option n_test=200 \
      --path 'rgb->label' --path 'rgb->depth'
  fi
done
