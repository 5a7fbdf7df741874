#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What differs between synthetic rooms and a labelled folder of real frames, in numbers.

    python scripts/sim_stats.py ../shared/data/real-dev/nyu --n 200 --size 96 96

Prints, for both sets at the same size: pixel share of each class (and of ignored pixels),
how often each class appears and its mean share when present (object size), depth percentiles,
and colour statistics (mean/std of RGB, luminance percentiles, saturation, sharpness, and how far
apart the classes' mean colours are: a small spread means colour alone cannot tell them apart).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from mmed_core.cli.options import add_option_argument, parse_options
from mmed_core.data import build_dataset
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.preview import collect


def stats(rgb: np.ndarray, depth: np.ndarray, label: np.ndarray) -> dict:
    n = len(rgb)
    total = label.size
    out: dict = {"frames": n}
    out["ignored"] = float((label == IGNORE_INDEX).sum() / total)
    share, present, size = {}, {}, {}
    per_frame = label.reshape(n, -1)
    for k, name in enumerate(NYU12_CLASSES):
        share[name] = float((label == k).sum() / total)
        frac = (per_frame == k).mean(1)
        present[name] = float((frac > 0.002).mean())
        size[name] = float(frac[frac > 0.002].mean()) if (frac > 0.002).any() else 0.0
    out["share"], out["present"], out["size"] = share, present, size
    valid = depth[depth > 0]
    out["depth_pct"] = (
        np.percentile(valid, [5, 25, 50, 75, 95]).round(2).tolist() if valid.size else None
    )
    out["depth_valid"] = float((depth > 0).mean())
    flat = rgb.reshape(-1, 3).astype(np.float32)
    out["rgb_mean"] = flat.mean(0).round(1).tolist()
    out["rgb_std"] = flat.std(0).round(1).tolist()
    lum = flat @ np.array([0.299, 0.587, 0.114], np.float32)
    out["lum_pct"] = np.percentile(lum, [5, 50, 95]).round(1).tolist()
    hsv = np.concatenate([cv2.cvtColor(f, cv2.COLOR_RGB2HSV) for f in rgb]).reshape(-1, 3)
    out["saturation_mean"] = float(hsv[:, 1].mean())
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in rgb]
    out["sharpness"] = float(np.mean([cv2.Laplacian(g, cv2.CV_32F).std() for g in grey]))
    means = []
    for k in range(len(NYU12_CLASSES)):
        m = label.reshape(-1) == k
        if m.sum() > 20:
            means.append(flat[m].mean(0))
    means = np.array(means)
    out["class_colour_spread"] = float(
        np.linalg.norm(means - means.mean(0), axis=1).mean() if len(means) > 1 else 0.0
    )
    # Within-class colour spread across frames: high = appearance decoupled from class.
    within = []
    for k in range(len(NYU12_CLASSES)):
        per = [flat.reshape(n, -1, 3)[i][per_frame[i] == k] for i in range(n)]
        per = [p.mean(0) for p in per if len(p) > 20]
        if len(per) > 1:
            within.append(np.linalg.norm(np.array(per) - np.mean(per, 0), axis=1).mean())
    out["within_class_spread"] = float(np.mean(within)) if within else 0.0
    return out


def _print(name: str, s: dict) -> None:
    print(f"== {name}: {s['frames']} frames")
    print(f"  ignored pixels {100 * s['ignored']:.1f}%")
    print("  class          share%  present%  size-when-present%")
    for c in NYU12_CLASSES:
        print(
            f"  {c:<12s} {100 * s['share'][c]:7.2f} {100 * s['present'][c]:8.0f} "
            f"{100 * s['size'][c]:10.2f}"
        )
    print(
        f"  depth valid {100 * s['depth_valid']:.0f}%, percentiles 5/25/50/75/95: {s['depth_pct']}"
    )
    print(
        f"  rgb mean {s['rgb_mean']} std {s['rgb_std']} luminance 5/50/95 {s['lum_pct']} "
        f"saturation {s['saturation_mean']:.1f} sharpness {s['sharpness']:.1f}"
    )
    print(
        f"  class mean-colour spread {s['class_colour_spread']:.1f}, within-class spread "
        f"across frames {s['within_class_spread']:.1f}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="labelled folder of real frames (rgb/, label*/, depth*/)")
    p.add_argument("--class-map", default="nyu40_to_nyu12")
    p.add_argument("--n", type=int, default=200, help="synthetic frames to render")
    p.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    p.add_argument("--seed", type=int, default=0)
    add_option_argument(p, example="'generator={supersample: 2}'")
    args = p.parse_args()
    size = tuple(args.size)
    real = build_dataset(
        "labelled", "test", root=args.folder, size=size, options={"class_map": args.class_map}
    )
    synth = build_dataset(
        "synthetic",
        "test",
        size=size,
        options={"n_test": args.n, "seed": args.seed, "progress": False}
        | parse_options(args.option),
    )
    _print(f"real {args.folder}", stats(*collect(real)))
    _print("synthetic test split", stats(*collect(synth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
