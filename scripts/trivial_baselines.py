#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What you get without learning from the image: trivial predictors scored like Table 1.

    python scripts/trivial_baselines.py --out runs/trivial-48        # table1-48's data
    python scripts/trivial_baselines.py --size 96 96 --out runs/trivial-96   # table1's data
    python scripts/trivial_baselines.py --dataset synthetic --size 48 48 --option n_train=256 \\
        --option n_val=48 --option n_test=96 --option seed=0 --out runs/trivial-48

Four predictors, each fitted on the training split only and scored on ``--split`` (default:
test) with the evaluator's metrics (:mod:`mmed_core.evaluation.metrics`), so their rows read
against the tables of ``mmed-eval`` and ``mmed-experiment`` (docs/EXPERIMENTS.md):

- ``constant-depth``: the median valid training depth at every pixel;
- ``mean-depth-map``: at each pixel the mean of the valid training depths there (the median
  where no training image has depth at that pixel);
- ``majority-class``: the most frequent training class (void/255 ignored) at every pixel;
- ``per-pixel-class-prior``: at each pixel the most frequent training class there (the
  majority class where no training image is labelled at that pixel).

Data options are those of ``mmed-eval`` (``--option KEY=VALUE``, YAML values); for the synthetic
rooms they default to the data of config/experiments/table1-48.yaml (n_train 256, n_val 48,
n_test 96, n_extra 512, seed 0), with 48x48 frames. A dataset without depth (or without labels)
gets only the other predictors, with a note. Writes OUT/metrics.json and OUT/tables.md
(atomically) and prints the table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmed_core.atomic import atomic_write_json, atomic_write_text
from mmed_core.cli.options import add_option_argument, parse_options
from mmed_core.data import DATASETS, build_dataset
from mmed_core.data.base import MmedDataset
from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.data.preview import collect
from mmed_core.errors import ConfigError, MmedError
from mmed_core.evaluation.evaluator import (
    DEPTH_NOTE,
    TABLE1_COLUMNS,
    markdown_table,
    table1_header,
)
from mmed_core.evaluation.metrics import DepthMetrics, SegmentationMetrics

#: The synthetic data of config/experiments/table1-48.yaml and table1.yaml (the test checks).
DEFAULT_OPTIONS: dict[str, Any] = {
    "n_train": 256,
    "n_val": 48,
    "n_test": 96,
    "n_extra": 512,
    "seed": 0,
    "progress": False,
}
DEFAULT_SIZE = (48, 48)
DEPTH_PREDICTORS = ("constant-depth", "mean-depth-map")
CLASS_PREDICTORS = ("majority-class", "per-pixel-class-prior")
PREDICTORS = (*DEPTH_PREDICTORS, *CLASS_PREDICTORS)


def _valid_depth(depth: np.ndarray) -> np.ndarray:
    """The pixels DepthMetrics scores: finite and > 0."""
    return np.isfinite(depth) & (depth > 0)


def fit(depth: np.ndarray, label: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Fit the four predictors on training arrays depth (N,H,W) and label (N,H,W).

    Returns {name: prediction of shape (H,W)} for the predictors the data allows, plus
    ``notes`` (why one was left out) and ``fitted`` (the constants, for the record)."""
    out: dict[str, Any] = {"maps": {}, "notes": [], "fitted": {}}
    valid = _valid_depth(depth)
    if valid.any():
        median = float(np.median(depth[valid]))
        count = valid.sum(0)
        total = np.where(valid, depth, 0.0).sum(0, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_map = np.where(count > 0, total / np.maximum(count, 1), median)
        out["maps"]["constant-depth"] = np.full(depth.shape[1:], median, np.float64)
        out["maps"]["mean-depth-map"] = mean_map
        out["fitted"]["median_depth"] = median
        out["fitted"]["depth_pixels_without_training_depth"] = int((count == 0).sum())
    else:
        out["notes"].append(
            "the training split has no valid depth (finite, > 0): depth predictors skipped"
        )
    lab = label.astype(np.int64)
    labelled = (lab != IGNORE_INDEX) & (lab >= 0) & (lab < num_classes)
    if labelled.any():
        majority = int(np.argmax(np.bincount(lab[labelled], minlength=num_classes)))
        counts = np.stack([(lab == k).sum(0) for k in range(num_classes)])  # (K, H, W)
        prior = np.where(labelled.any(0), counts.argmax(0), majority)
        out["maps"]["majority-class"] = np.full(label.shape[1:], majority, np.int64)
        out["maps"]["per-pixel-class-prior"] = prior.astype(np.int64)
        out["fitted"]["majority_class"] = majority
        out["fitted"]["label_pixels_without_training_label"] = int((~labelled.any(0)).sum())
    else:
        out["notes"].append(
            f"the training split has no labelled pixels (classes 0..{num_classes - 1}, "
            f"{IGNORE_INDEX} = void): class predictors skipped"
        )
    return out


def score(train: MmedDataset, test: MmedDataset) -> dict[str, Any]:
    """Fit on ``train``, score on ``test``: {"predictors": {name: {"table1", "metrics"}}, ...}."""
    info = train.info
    if tuple(test.info.class_names) != tuple(info.class_names):
        raise ConfigError(
            f"the training split has classes {list(info.class_names)} but the scored split has "
            f"{list(test.info.class_names)}"
        )
    for name, ds in (("training", train), ("scored", test)):
        if not getattr(ds, "paired", True):
            raise ConfigError(f"the {name} split is unpaired RGB (no depth or labels) to use")
        if len(ds) == 0:
            raise ConfigError(f"the {name} split is empty; it needs at least one sample")
    _, train_depth, train_label = collect(train)
    _, test_depth, test_label = collect(test)
    if train_depth.shape[1:] != test_depth.shape[1:]:
        raise ConfigError(
            f"training frames are {train_depth.shape[1:]} but scored frames are "
            f"{test_depth.shape[1:]}; both splits need one size"
        )
    k = len(info.class_names)
    fitted = fit(train_depth, train_label, k)
    notes = list(fitted["notes"])
    if not _valid_depth(test_depth).any() and any(p in fitted["maps"] for p in DEPTH_PREDICTORS):
        notes.append("the scored split has no valid depth: depth predictors skipped")
        for p in DEPTH_PREDICTORS:
            fitted["maps"].pop(p, None)
    if not fitted["maps"]:
        raise ConfigError(
            f"dataset `{info.name}` has neither valid depth nor labels to score: "
            + "; ".join(notes)
        )
    n = len(test_depth)
    predictors: dict[str, Any] = {}
    for name, pred in fitted["maps"].items():
        batch = np.broadcast_to(pred, (n, *pred.shape))
        if name in DEPTH_PREDICTORS:
            dm = DepthMetrics()
            dm.update(batch, test_depth)
            metrics: dict[str, Any] = dm.compute()
            table1 = {c: metrics.get(c) for c in TABLE1_COLUMNS}
        else:
            sm = SegmentationMetrics(k, tuple(info.class_names))
            sm.update(batch, test_label)
            metrics = sm.compute()
            table1 = {c: (metrics["miou"] if c == "miou" else None) for c in TABLE1_COLUMNS}
        predictors[name] = {"table1": table1, "metrics": metrics}
    fit_info = dict(fitted["fitted"])
    if "majority_class" in fit_info:
        fit_info["majority_class_name"] = info.class_names[fit_info["majority_class"]]
    return {
        "dataset": info.name,
        "depth_units": info.depth_units,
        "num_train": len(train_depth),
        "num_samples": n,
        "size": list(test_depth.shape[1:]),
        "fitted": fit_info,
        "notes": notes,
        "predictors": predictors,
    }


def markdown(result: dict[str, Any]) -> str:
    """The result as a Table 1 with the evaluator's headers, one row per predictor."""
    rows = [
        [name, *(p["table1"].get(c) for c in TABLE1_COLUMNS)]
        for name, p in result["predictors"].items()
    ]
    h, w = result["size"]
    parts = [
        "# Trivial baselines (fitted on train, no image input)",
        "",
        f"{result['dataset']} / {result.get('split', 'test')}: {result['num_samples']} images "
        f"at {h}x{w}, fitted on {result['num_train']} training images; depth in "
        f"{result['depth_units']}.",
        "",
        DEPTH_NOTE,
        "",
        markdown_table(table1_header(), rows),
    ]
    parts += [f"\nNote: {note}" for note in result["notes"]]
    return "\n".join(parts) + "\n"


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"size must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trivial_baselines.py",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Synthetic defaults (table1-48's data): "
            + " ".join(f"{k}={v}" for k, v in DEFAULT_OPTIONS.items())
            + "; an --option overrides one of them."
        ),
    )
    p.add_argument(
        "--dataset",
        default="synthetic",
        help=f"dataset name ({', '.join(DATASETS)}; default: synthetic)",
    )
    p.add_argument("--root", help="dataset folder/file (real datasets)")
    p.add_argument(
        "--size",
        nargs=2,
        type=_size,
        default=DEFAULT_SIZE,
        metavar=("H", "W"),
        help="frame size (default: 48 48, as table1-48; table1 uses 96 96)",
    )
    add_option_argument(p)
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--cache-dir", help="dataset cache folder (as data.cache_dir of mmed-train)")
    p.add_argument("--out", help="folder for metrics.json and tables.md (default: print only)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.split == "train":
            raise ConfigError("--split train: the predictors are fitted on train; score another")
        options = {
            **(DEFAULT_OPTIONS if args.dataset == "synthetic" else {}),
            **parse_options(args.option),
        }
        kw = dict(root=args.root, size=tuple(args.size), cache_dir=args.cache_dir, options=options)
        train = build_dataset(args.dataset, "train", **kw)
        test = build_dataset(args.dataset, args.split, **kw)
        result = {
            "command": shlex.join(["python", "scripts/trivial_baselines.py", *argv]),
            "split": args.split,
            "options": options,
            **score(train, test),
        }
    except MmedError as exc:
        print(f"trivial_baselines.py: error: {exc}", file=sys.stderr)
        return 2
    text = markdown(result)
    if args.out:
        atomic_write_json(Path(args.out) / "metrics.json", result)
        atomic_write_text(Path(args.out) / "tables.md", text)
    print(text)
    if args.out:
        print(f"[trivial_baselines] wrote {args.out}/metrics.json, tables.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
