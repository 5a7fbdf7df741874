# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Throughput of the synthetic scene generator (a benchmark, not a test).

    python benchmarks/bench_synth.py                 # 96x96, 1 process and all CPUs
    python benchmarks/bench_synth.py --frames 3000 --size 96 96 --workers 2
    python benchmarks/bench_synth.py --frames 20 --size 480 640 --workers 1
    python benchmarks/bench_synth.py --frames 200 --workers 1 --realism   # plain vs extras
    python benchmarks/bench_synth.py --frames 200 --workers 1 --rounded 1  # plain vs round shapes

Prints frames/s. Frames depend only on (seed, index), so the worker count changes the speed,
never the frames.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import yaml

from mmed_core.data.base import materialize
from mmed_core.data.synthetic import SyntheticSource, render_frame

# The realism extras are those of the fine-tuning config (docs/SIM2REAL.md).
_FINETUNE = Path(__file__).resolve().parents[1] / "config" / "finetune_indoor.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: 1 and all CPUs)"
    )
    parser.add_argument(
        "--realism",
        action="store_true",
        help="also time the realism extras of config/finetune_indoor.yaml (ratio to plain)",
    )
    parser.add_argument(
        "--rounded",
        type=float,
        default=None,
        metavar="P",
        help="also time rooms with round shapes (room.rounded = P; ratio to plain)",
    )
    args = parser.parse_args()
    h, w = args.size
    print(f"synthetic generator, {args.frames} frames of {h}x{w}, {os.cpu_count()} CPUs")
    looks: dict[str, dict] = {"plain": {}}
    if args.realism:
        looks["extras"] = yaml.safe_load(_FINETUNE.read_text())["data"]["options"]["generator"]
    if args.rounded is not None:
        looks["rounded"] = {"room": {"rounded": args.rounded}}
        if "extras" in looks:
            extras = looks["extras"]
            room = {**extras.get("room", {}), "rounded": args.rounded}
            looks["extras+rounded"] = {**extras, "room": room}
    for options in looks.values():  # warm up (imports, first calls), so the first look timed
        # is not the slowest
        warm = SyntheticSource("train", (h, w), 3, seed=2, generator=options)
        for i in range(3):
            render_frame(i, warm.config)
    for workers in [args.workers] if args.workers else sorted({1, os.cpu_count() or 1}):
        rate = {}
        for look, options in looks.items():
            start = time.perf_counter()
            source = SyntheticSource("train", (h, w), args.frames, seed=1, generator=options)
            if workers == 1:
                count = sum(1 for i in range(args.frames) if render_frame(i, source.config))
            else:
                count = len(materialize(source, (h, w), workers=workers)[0])
            elapsed = time.perf_counter() - start
            rate[look] = count / elapsed
            print(f"  {look} workers={workers}: {rate[look]:8.1f} frames/s ({elapsed:.1f} s)")
        for look in [k for k in rate if k != "plain"]:
            print(f"  {look} / plain: {rate[look] / rate['plain']:.2f}x the speed")


if __name__ == "__main__":
    main()
