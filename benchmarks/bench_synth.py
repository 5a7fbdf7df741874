# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Throughput of the synthetic scene generator (a benchmark, not a test).

    python benchmarks/bench_synth.py                 # 96x96, 1 process and all CPUs
    python benchmarks/bench_synth.py --frames 3000 --size 96 96 --workers 2
    python benchmarks/bench_synth.py --frames 20 --size 480 640 --workers 1

Prints frames/s. Frames depend only on (seed, index), so the worker count changes the speed,
never the frames.
"""

from __future__ import annotations

import argparse
import os
import time

from mmed_core.data.base import materialize
from mmed_core.data.synthetic import SyntheticSource, generate_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: 1 and all CPUs)"
    )
    args = parser.parse_args()
    h, w = args.size
    print(f"synthetic generator, {args.frames} frames of {h}x{w}, {os.cpu_count()} CPUs")
    for workers in [args.workers] if args.workers else sorted({1, os.cpu_count() or 1}):
        start = time.perf_counter()
        if workers == 1:
            count = sum(1 for _ in generate_frames(args.frames, height=h, width=w, seed=1))
        else:
            source = SyntheticSource("train", (h, w), args.frames, seed=1)
            rgb, _, _ = materialize(source, (h, w), workers=workers)
            count = len(rgb)
        elapsed = time.perf_counter() - start
        print(f"  workers={workers}: {count / elapsed:8.1f} frames/s ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
