# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What a training augmentation does to the network's RGB input: synthetic frames, each
followed by several draws of ``data.augment``.

    python scripts/augment_preview.py --augment randconv --frames 4 --draws 4 \\
        --out docs/images/randconv.png

Row i: frame i of the validation split (the plain look at --size), then --draws draws of the
augmentation's RGB input (``rgb_input``: what the encoders read; flips and zooms included),
enlarged by --zoom (nearest neighbour). Draw j of frame i uses the generator seeded with
(--seed, j, i), as training's epoch j would.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from mmed_core.atomic import atomic_path
from mmed_core.data.augment import AUGMENTS, augment_sample, sample_rng
from mmed_core.data.synthetic import config_from_dict, render_frame, split_seed

_STREAM = 0x9E1  # draws of this preview (not those of any training run)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    levels = [k for k, v in AUGMENTS.items() if v is not None]
    p.add_argument("--augment", default="randconv", choices=levels)
    p.add_argument("--frames", type=int, default=4, help="rows")
    p.add_argument("--draws", type=int, default=4, help="augmented copies per frame")
    p.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    p.add_argument("--zoom", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()
    if args.frames < 1 or args.draws < 1 or args.zoom < 1:
        p.error("--frames, --draws and --zoom must be at least 1")
    h, w = args.size
    level = AUGMENTS[args.augment]
    assert level is not None
    cfg = config_from_dict({}, height=h, width=w, seed=split_seed(args.seed, "val"))
    gap = np.full((h, 4, 3), 255, np.uint8)
    rows = []
    for i in range(args.frames):
        rgb = torch.from_numpy(render_frame(i, cfg).rgb).permute(2, 0, 1).float()
        tiles = [rgb.permute(1, 2, 0).numpy().astype(np.uint8)]
        for j in range(args.draws):
            out = augment_sample({"rgb": rgb}, level, sample_rng(args.seed, j, i, _STREAM))
            x = out.get("rgb_input", out["rgb"])
            tiles += [gap, x.permute(1, 2, 0).round().clamp(0, 255).byte().numpy()]
        rows.append(np.concatenate(tiles, 1))
    hgap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    grid = np.concatenate([r for row in rows for r in (row, hgap)][:-1], 0)
    grid = grid.repeat(args.zoom, 0).repeat(args.zoom, 1)
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(cv2.imencode(".png", grid[..., ::-1])[1].tobytes())
    print(f"wrote {args.out}: {args.frames} frames x {args.draws} draws of {args.augment}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
