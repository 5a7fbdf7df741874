#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
# Score a training run on labelled real frames after every epoch, while it trains: each time
# RUN_DIR/last.json names a new epoch, copy last.safetensors to OUT/epN.safetensors and run
# scripts/real_check.py on it; one line per epoch goes to OUT/curve.txt. Stops once the run
# writes its summary.json (the trainer does at the end, also when stopped or diverged).
# Restarted on the same OUT beside a resumed run, it goes on after the epochs OUT holds. For
# LOOKING at how real-frame scores move with training (never train or select on the frames).
#   scripts/real_curve.sh runs/indoor-mmed DIR_OF_LABELLED_FRAMES runs/real-curve
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: real_curve.sh RUN_DIR FRAMES_DIR OUT_DIR}
FRAMES=${2:?usage: real_curve.sh RUN_DIR FRAMES_DIR OUT_DIR}
OUT=${3:?usage: real_curve.sh RUN_DIR FRAMES_DIR OUT_DIR}
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
touch "$OUT/.started"
seen=""
while true; do
    ep=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['epoch'])" \
        "$RUN/last.json" 2>/dev/null || true)
    # an epoch already scored in OUT (a curve restarted beside a resumed run) is not scored
    # again: after a stop, last.json names the last finished epoch while last.safetensors holds
    # the weights of the step the run stopped at
    if [ -z "$seen" ] && [ -n "$ep" ] && [ -f "$OUT/ep$ep.json" ]; then
        seen=$ep
    fi
    if [ -n "$ep" ] && [ "$ep" != "$seen" ]; then
        cp "$RUN/last.safetensors" "$OUT/ep$ep.safetensors"
        cp "$RUN/last.json" "$OUT/ep$ep.json"
        nice -n 10 "$PY" scripts/real_check.py "$FRAMES" --checkpoint "$OUT/ep$ep.safetensors" \
            --out "$OUT/rc$ep" --tile 96 | sed -n "1,2s/^/epoch $ep: /p" >> "$OUT/curve.txt"
        seen=$ep
    fi
    [ "$RUN/summary.json" -nt "$OUT/.started" ] && [ -n "$seen" ] && \
        [ ! "$RUN/last.json" -nt "$OUT/ep$seen.json" ] && break
    sleep 30
done
echo "wrote $OUT/curve.txt"
