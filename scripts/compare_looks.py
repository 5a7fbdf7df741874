# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side RGB of the same synthetic rooms and views under two generator settings.

    python scripts/compare_looks.py --out docs/images/synthetic-looks.png \\
        --b '{supersample: 2, auto_exposure: [0.35, 0.6], shadows: [0.5, 0.9], blur: [0, 0.3],
              grime: [0.1, 0.35], specular: [0.1, 0.5]}'

Columns: frame i of the validation split under ``--a`` (default: the plain look), then under
``--b``; rooms and views depend only on the seed and index, so only the look differs. Frames are
rendered at --size and enlarged by --zoom (nearest neighbour) so single pixels stay visible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import yaml

from mmed_core.atomic import atomic_path
from mmed_core.data.synthetic import config_from_dict, render_frame, split_seed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", default="{}", help="generator options of the left column (YAML)")
    p.add_argument("--b", required=True, help="generator options of the right column (YAML)")
    p.add_argument("--frames", type=int, default=8, help="rows")
    p.add_argument("--cols", type=int, default=2, help="pairs per row")
    p.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    p.add_argument("--zoom", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()
    h, w = args.size
    seed = split_seed(args.seed, "val")
    cfgs = [
        config_from_dict(yaml.safe_load(opts) or {}, height=h, width=w, seed=seed)
        for opts in (args.a, args.b)
    ]
    pairs = [
        np.concatenate([render_frame(i, c).rgb for c in cfgs], 1)
        for i in range(args.frames * args.cols)
    ]
    gap = np.full((h, 4, 3), 255, np.uint8)
    rows = [
        np.concatenate(
            sum(([pairs[r * args.cols + c], gap] for c in range(args.cols)), [])[:-1], 1
        )
        for r in range(args.frames)
    ]
    grid = np.concatenate(rows, 0).repeat(args.zoom, 0).repeat(args.zoom, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_bytes(cv2.imencode(".png", grid[..., ::-1])[1].tobytes())
    print(f"wrote {out} ({args.frames * args.cols} frames, left: --a, right: --b)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
