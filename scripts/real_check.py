#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Score a checkpoint on a labelled folder of real frames and draw what it sees.

    python scripts/real_check.py ../shared/data/real-dev/nyu --checkpoint models/nyu12-synthetic \\
        --out runs/real-check

DIR is a ``labelled`` dataset folder (rgb/, label*/, optional depth*/ in mm; see
mmed_core/data/labelled_folder.py). Writes OUT/metrics.json (mIoU over the model's classes with
per-class IoU, Rel and the other depth metrics over the frames that have depth, per frame too)
and OUT/grid.png, one row per frame: RGB | predicted labels | ground-truth labels | predicted
depth | ground-truth depth (turbo over --depth-max metres, black = none). Scores are computed at
the model's input size, as ``mmed-eval`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from mmed_core.atomic import atomic_path, atomic_write_json
from mmed_core.data import build_dataset
from mmed_core.data.preview import colourise_depth, colourise_label
from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import ConfigError, MmedError
from mmed_core.evaluation.metrics import DepthMetrics, SegmentationMetrics
from mmed_core.network.modalities import postprocess, prepare_inputs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="labelled folder: rgb/, label*/, optional depth*/ (mm)")
    p.add_argument("--checkpoint", required=True, help="x.safetensors (with x.json beside it)")
    p.add_argument("--out", required=True, help="output folder for metrics.json and grid.png")
    p.add_argument(
        "--class-map",
        default="nyu40_to_nyu12",
        help="class map of the label PNGs (file or shipped name; 'none': ids are the classes)",
    )
    p.add_argument("--tile", type=int, default=144, help="height of one grid tile in pixels")
    p.add_argument("--depth-max", type=float, default=6.0, help="metres at the top of the colours")
    return p


def _tile(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * height / h), height), interpolation=cv2.INTER_NEAREST)


def _header(titles: list[str], width: int) -> np.ndarray:
    bar = np.full((22, width, 3), 255, np.uint8)
    step = width // len(titles)
    for k, title in enumerate(titles):
        scale = min(0.42, 0.42 * step / (9 * len(title)))  # fit the title into its column
        cv2.putText(bar, title, (k * step + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1)
    return bar


@torch.no_grad()
def check(
    folder: str, checkpoint: str, out: str, class_map: str | None, tile: int, depth_max: float
) -> dict:
    model, card = load_checkpoint(checkpoint, map_location="cpu")
    model.eval()
    cfg = model.config
    paths = [p for p in (("rgb", "label"), ("rgb", "depth")) if p in cfg.paths()]
    if not paths:
        raise ConfigError(f"{checkpoint}: the model has neither rgb->label nor rgb->depth")
    size = tuple(cfg.input_size)
    ds = build_dataset(
        "labelled", "test", root=folder, size=size, options={"class_map": class_map}
    )
    if tuple(ds.info.class_names) != tuple(cfg.class_names):
        raise ConfigError(
            f"{checkpoint}: classes {list(cfg.class_names)} differ from the folder's "
            f"{list(ds.info.class_names)} (class map {class_map})"
        )
    seg, dep = SegmentationMetrics(cfg.num_classes, cfg.class_names), DepthMetrics()
    frames, rows = [], []
    titles = ["real RGB"]
    display = (ds.info.depth_range[0], depth_max)
    for i in range(len(ds)):
        s = ds[i]
        x = prepare_inputs({"rgb": s["rgb"][None]}, cfg)
        y = model(x, paths=paths)
        entry: dict = {"frame": ds.source.stems[i] if hasattr(ds, "source") else i}
        gt_label = s["label"].numpy().astype(np.uint8)
        gt_depth = s["depth"].numpy()[0]
        row = [s["rgb"].numpy().transpose(1, 2, 0).round().clip(0, 255).astype(np.uint8)]
        if ("rgb", "label") in y:
            pred = y[("rgb", "label")].argmax(1)[0]
            seg.update(pred[None], s["label"][None])
            one = SegmentationMetrics(cfg.num_classes, cfg.class_names)
            one.update(pred[None], s["label"][None])
            entry["miou"] = one.compute()["miou"]
            row.append(colourise_label(pred.numpy().astype(np.uint8), ds.info.palette))
            titles.append("predicted labels")
        row.append(colourise_label(gt_label, ds.info.palette))
        titles.append("true labels")
        if ("rgb", "depth") in y:
            pred_d = postprocess("depth", y[("rgb", "depth")], cfg)[0, 0].numpy()
            if (gt_depth > 0).any():
                dep.update(pred_d, gt_depth)
                one_d = DepthMetrics()
                one_d.update(pred_d, gt_depth)
                entry["rel"] = one_d.compute()["rel"]
            entry["pred_depth_median_m"] = float(np.median(pred_d))
            row.append(colourise_depth(pred_d, display))
            titles.append("predicted depth")
        row.append(colourise_depth(gt_depth, display))
        titles.append(f"true depth 0-{depth_max:g} m")
        rows.append(np.concatenate([_tile(r, tile) for r in row], 1))
        frames.append(entry)
    segm, depm = seg.compute(), dep.compute()
    result = {
        "checkpoint": str(checkpoint),
        "folder": str(folder),
        "class_map": class_map,
        "frames": len(ds),
        "frames_with_depth": sum("rel" in f for f in frames),
        "input_size": list(size),
        "miou": segm["miou"],
        "miou_present": segm["miou_present"],
        "classes_present": segm["classes_present"],
        "iou": segm["iou"],
        "depth": depm,
        "per_frame": frames,
        "card_dataset": card.get("dataset"),
    }
    out_dir = Path(out)
    atomic_write_json(out_dir / "metrics.json", result)
    grid = np.concatenate([_header(titles[: len(row)], rows[0].shape[1]), *rows], 0)
    with atomic_path(out_dir / "grid.png") as tmp:
        tmp.write_bytes(cv2.imencode(".png", grid[..., ::-1])[1].tobytes())
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(1)
    class_map = None if args.class_map in ("none", "") else args.class_map
    try:
        res = check(args.folder, args.checkpoint, args.out, class_map, args.tile, args.depth_max)
    except MmedError as exc:
        print(f"real_check: error: {exc}", file=sys.stderr)
        return 2
    iou = ", ".join(f"{k} {v:.2f}" for k, v in res["iou"].items() if v is not None and v == v)
    print(
        f"{res['frames']} frames of {args.folder}: mIoU {res['miou']:.3f} ({iou}); over the "
        f"{len(res['classes_present'])} classes in the truth {res['miou_present']:.3f}"
    )
    if res["frames_with_depth"]:
        d = res["depth"]
        print(
            f"depth on {res['frames_with_depth']} frame(s): Rel {d['rel']:.3f}, "
            f"RMSE {d['rmse']:.3f} m, delta1 {d['delta1']:.3f}"
        )
    print(json.dumps(res["per_frame"]))
    print(f"wrote {args.out}/metrics.json and grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
