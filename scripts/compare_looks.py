# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side RGB of the same synthetic rooms and views under two generator settings.

    python scripts/compare_looks.py --b config/finetune_indoor.yaml --frames 4 \\
        --out docs/images/synthetic-looks.png
    python scripts/compare_looks.py --b '{shadows: [0.8, 0.8]}' --out /tmp/shadows.png

Columns: frame i of the validation split under ``--a`` (default: the plain look), then under
``--b``, each either generator options (YAML) or a run config (its ``data.options.generator``).
Rooms and views depend only on the seed and index (and on room options such as
``room.printed``), so the pairs differ in their look. Frames are rendered at --size and
enlarged by --zoom (nearest neighbour) so single pixels stay visible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import yaml

from mmed_core.atomic import atomic_path
from mmed_core.data.synthetic import config_from_dict, render_frame, split_seed


def _options(text: str) -> dict:
    """Generator options from YAML text, or from a run config file's data.options.generator."""
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise SystemExit(f"compare_looks: run config {path} not found")
        return (yaml.safe_load(path.read_text())["data"]["options"] or {}).get("generator") or {}
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        raise SystemExit(f"compare_looks: expected generator options (YAML mapping), got {text!r}")
    return values


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", default="{}", help="left column: generator options (YAML) or run config")
    p.add_argument("--b", required=True, help="right column: generator options or run config")
    p.add_argument("--frames", type=int, default=8, help="rows")
    p.add_argument("--cols", type=int, default=2, help="pairs per row")
    p.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    p.add_argument("--zoom", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()
    h, w = args.size
    seed = split_seed(args.seed, "val")
    cfgs = [config_from_dict(_options(o), height=h, width=w, seed=seed) for o in (args.a, args.b)]
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
