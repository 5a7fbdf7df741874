#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What adapting BatchNorm statistics to the camera (mmed-adapt) does on labelled real frames.

    python scripts/adapt_check.py ../shared/data/real-dev/nyu \\
        --checkpoint models/nyu12-synthetic.safetensors --out runs/adapt-check

Leave-one-out, so that no frame is scored by a model adapted to its own pixels: for every
frame, the model's --adapt-path paths (default rgb->label, as mmed-adapt) are adapted
(InferenceEngine.adapt, as mmed-adapt does: the RGB files fitted with --resize) to the OTHER
frames' RGB, without their labels, and the model scores that one frame; the
as-trained model scores every frame too. The two are compared with the paired bootstrap over
frames of ``mmed-eval paired`` (mmed_core.evaluation.paired): A = as trained, B = adapted.
With ``--training-data N`` each model is instead adapted once, to N frames of its own training
data (``mmed-adapt --training-data N``: no real frame involved), and scores every real frame.
Several --checkpoint values give one table each (does the effect hold across models?). Writes
OUT/adapt_check.md (a summary row per checkpoint, then its paired table), OUT/adapt_check.json
(with per-class IoU) and OUT/grid.png (first checkpoint: RGB | truth | as trained | adapted,
labels of rgb->label; it shows the frames: keep it local when their licence says so).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Subset

from mmed_core.atomic import atomic_path, atomic_write_json, atomic_write_text
from mmed_core.cli.adapt import default_paths, training_frames
from mmed_core.cli.predict import select_paths
from mmed_core.data import build_dataset
from mmed_core.data.folders import read_rgb
from mmed_core.data.preview import colourise_label
from mmed_core.deploy.inference import InferenceEngine
from mmed_core.errors import ConfigError, MmedError
from mmed_core.evaluation.evaluator import markdown_table
from mmed_core.evaluation.metrics import iou_from_confusion
from mmed_core.evaluation.paired import (
    FrameCounts,
    frame_counts,
    paired_bootstrap,
    paired_markdown,
)
from mmed_core.network.modalities import prepare_inputs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="labelled folder: rgb/, label*/, optional depth*/ (mm)")
    p.add_argument(
        "--checkpoint", action="append", required=True, help="x.safetensors (repeatable)"
    )
    p.add_argument("--out", required=True, help="folder for adapt_check.md/.json and grid.png")
    p.add_argument("--class-map", default="nyu40_to_nyu12", help="class map of the label PNGs")
    p.add_argument("--resize", default="stretch", choices=("stretch", "letterbox", "crop"))
    p.add_argument(
        "--adapt-path",
        action="append",
        metavar="SRC->DST",
        help="path to adapt, repeatable (default: the label paths, as mmed-adapt: rgb->label, "
        "and depth->label with --training-data; every rgb path the model has is scored)",
    )
    p.add_argument(
        "--training-data",
        type=int,
        metavar="N",
        help="instead of leave-one-out: adapt each model once to N frames of its own training "
        "data (as mmed-adapt --training-data; default paths rgb->label and depth->label)",
    )
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--tile", type=int, default=120, help="grid row height in pixels")
    return p


def _concat(parts: list[FrameCounts]) -> FrameCounts:
    label = {
        k: tuple(np.concatenate([p.label[k][j] for p in parts]) for j in (0, 1))
        for k in parts[0].label
    }
    depth = {k: np.concatenate([p.depth[k] for p in parts]) for k in parts[0].depth}
    return FrameCounts(sum(p.frames for p in parts), label, depth)  # type: ignore[arg-type]


@torch.no_grad()
def _labels(engine: InferenceEngine, sample: dict[str, torch.Tensor]) -> np.ndarray:
    x = prepare_inputs({"rgb": sample["rgb"][None]}, engine.config)
    return engine.model(x, paths=[("rgb", "label")])[("rgb", "label")].argmax(1)[0].numpy()


def check_one(
    checkpoint: str,
    folder: str,
    class_map: str | None,
    resize: str,
    boot: int,
    adapt_paths: list[str] | None,
    training_data: int | None = None,
) -> tuple[dict[str, Any], list[list[np.ndarray]]]:
    base = InferenceEngine.from_checkpoint(checkpoint, device="cpu")
    cfg = base.config
    paths = [p for p in (("rgb", "label"), ("rgb", "depth")) if p in base.paths]
    if not paths:
        raise ConfigError(f"{checkpoint}: the model has neither rgb->label nor rgb->depth")
    if adapt_paths:
        adapted_paths = select_paths(base, adapt_paths, training_data is not None)
    else:  # as mmed-adapt: the label paths (from depth too with the training data's depth)
        adapted_paths = default_paths(base, training_data is not None, training_data is not None)
    ds = build_dataset(
        "labelled",
        "test",
        root=folder,
        size=(int(cfg.input_size[0]), int(cfg.input_size[1])),
        options={"class_map": class_map},
    )
    if tuple(ds.info.class_names) != tuple(cfg.class_names):
        raise ConfigError(
            f"{checkpoint}: classes {list(cfg.class_names)} differ from the folder's"
        )
    n = len(ds)
    if n < 2 and training_data is None:
        raise ConfigError(f"{folder}: leave-one-out needs at least 2 frames, it has {n}")
    rgb_files = list(ds.source.rgb)  # type: ignore[union-attr]
    images = [read_rgb(f) for f in rgb_files]
    model = base.model
    as_trained = frame_counts(model, ds, paths)  # type: ignore[arg-type]
    parts, rows = [], []
    once = None
    if training_data is not None:  # one adaptation, to frames that are not these
        once = InferenceEngine(copy.deepcopy(model), base.card)  # type: ignore[arg-type]
        _, _, frames = training_frames(once, training_data, adapted_paths)
        once.adapt(frames(), adapted_paths, resize=resize)
    for i in range(n):
        if once is None:
            engine = InferenceEngine(copy.deepcopy(model), base.card)  # type: ignore[arg-type]
            others = [{"rgb": images[j]} for j in range(n) if j != i]
            engine.adapt(others, adapted_paths, resize=resize)
        else:
            engine = once
        one = Subset(ds, [i])
        parts.append(frame_counts(engine.model, one, paths))  # type: ignore[arg-type]
        s = ds[i]
        rows.append(
            [
                s["rgb"].numpy().transpose(1, 2, 0).round().clip(0, 255).astype(np.uint8),
                colourise_label(s["label"].numpy().astype(np.uint8), ds.info.palette),
                colourise_label(_labels(base, s).astype(np.uint8), ds.info.palette),
                colourise_label(_labels(engine, s).astype(np.uint8), ds.info.palette),
            ]
        )
    adapted = _concat(parts)
    result = {
        "a": f"{checkpoint} (as trained)",
        "b": f"{checkpoint} adapted ({', '.join(f'{s}->{d}' for s, d in adapted_paths)}) to "
        + (
            f"the other {n - 1} frames (leave-one-out, no labels)"
            if training_data is None
            else f"{training_data} frames of its training data's val split (mmed-adapt "
            "--training-data)"
        ),
        "training_data": training_data,
        "dataset": f"labelled {folder}",
        "split": "test",
        "frames": n,
        "depth_input": "clean",
        "depth_input_seed": None,
        "boot": boot,
        "boot_seed": 0,
        "level": 0.95,
        "rows": paired_bootstrap(as_trained, adapted, boot=boot),
        "resize": resize,
        "adapted_paths": [f"{s}->{d}" for s, d in adapted_paths],
        "iou": {  # per class, pooled over the frames, per label path
            key: {
                name: {
                    cls: _round(v)
                    for cls, v in zip(
                        cfg.class_names,
                        iou_from_confusion(
                            counts.label[key][0].sum(0), counts.label[key][1].sum(0)
                        ),
                    )
                }
                for name, counts in (("as_trained", as_trained), ("adapted", adapted))
            }
            for key in as_trained.label
        },
    }
    return result, rows


def _round(v: float) -> float | None:
    return None if np.isnan(v) else round(float(v), 4)


def _grid(rows: list[list[np.ndarray]], tile: int) -> np.ndarray:
    titles = ["real RGB", "true labels", "as trained", "adapted"]
    tiles = [
        np.concatenate(
            [cv2.resize(t, (tile * t.shape[1] // t.shape[0], tile), interpolation=0) for t in r], 1
        )
        for r in rows
    ]
    width = tiles[0].shape[1]
    bar = np.full((22, width, 3), 255, np.uint8)
    step = width // len(titles)
    for k, title in enumerate(titles):
        cv2.putText(bar, title, (k * step + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    return np.concatenate([bar, *tiles], 0)


def summary(results: list[dict[str, Any]]) -> str:
    """One row per checkpoint: rgb->label mIoU as trained / adapted with B - A and its interval,
    and rgb->depth Rel as trained / adapted (over the frames with depth)."""
    rows = []
    for res in results:
        by = {(r["path"], r["metric"]): r for r in res["rows"]}
        miou, rel = by.get(("rgb->label", "miou")), by.get(("rgb->depth", "rel"))
        row = [res["a"].removesuffix(" (as trained)")]
        if miou:
            row += [
                f"{miou['a']:.3f}",
                f"{miou['b']:.3f}",
                f"{miou['diff']:+.3f}",
                f"[{miou['low']:+.3f}, {miou['high']:+.3f}]",
            ]
        else:
            row += ["-"] * 4
        row += [f"{rel['a']:.3f}", f"{rel['b']:.3f}"] if rel else ["-", "-"]
        rows.append(row)
    header = ["checkpoint", "mIoU as trained", "adapted", "B - A", "95 % interval"]
    return markdown_table([*header, "Rel as trained", "adapted"], rows)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(1)
    class_map = None if args.class_map in ("none", "") else args.class_map
    out = Path(args.out)
    results, parts = [], []
    try:
        for k, ck in enumerate(args.checkpoint):
            res, rows = check_one(
                ck,
                args.folder,
                class_map,
                args.resize,
                args.boot,
                args.adapt_path,
                args.training_data,
            )
            results.append(res)
            parts.append(paired_markdown(res))
            print(parts[-1], flush=True)
            if k == 0:
                with atomic_path(out / "grid.png") as tmp:
                    png = cv2.imencode(".png", _grid(rows, args.tile)[..., ::-1])[1]
                    tmp.write_bytes(png.tobytes())
    except MmedError as exc:
        print(f"adapt_check: error: {exc}", file=sys.stderr)
        return 2
    command = "python scripts/adapt_check.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = f"`{command}`\n\n" + summary(results) + "\n\n" + "\n".join(parts)
    atomic_write_text(out / "adapt_check.md", text)
    atomic_write_json(out / "adapt_check.json", {"command": command, "results": results})
    print(f"wrote {out}/adapt_check.md, adapt_check.json and grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
