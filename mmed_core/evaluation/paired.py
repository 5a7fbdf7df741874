# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Is checkpoint B better than checkpoint A on the same frames? A paired bootstrap over frames.

    mmed-eval paired runs/a/best.safetensors runs/b/best.safetensors --split test
    mmed-eval paired A.safetensors B.safetensors --path depth->label --depth-input kinect

Both checkpoints score the same frames: the split is built from A's model card as ``mmed-eval``
builds it, and with ``--depth-input kinect`` both read the same sensor-like draws (one per seed
and frame). Every frame keeps its own counts (the confusion matrix of each label path, the error
sums of each depth path); the frames are then resampled with replacement ``boot`` times, and each
resample pools its counts the way the metric pools a whole split (mIoU from the summed confusion
matrix, Rel and RMSE from the summed errors). The interval is therefore that of the split's
metric, not of a mean of per-frame scores, and it holds the variation over frames (which frames
happen to be in the split); it says nothing of the variation over training seeds, which needs
several runs (``mmed-experiment``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import ConfigError
from mmed_core.evaluation.evaluator import (
    checkpoint_dataset,
    evaluate,
    fmt,
    markdown_table,
    path_key,
)
from mmed_core.evaluation.metrics import (
    DepthMetrics,
    SegmentationMetrics,
    iou_from_confusion,
    present_in_truth,
)
from mmed_core.network.base import MultiModalModel
from mmed_core.network.losses import presence_masks
from mmed_core.network.modalities import postprocess

__all__ = [
    "FrameCounts",
    "frame_counts",
    "paired_bootstrap",
    "paired_checkpoints",
    "paired_markdown",
    "METRICS",
]

#: Below this many frames the markdown warns that the bootstrap interval is too narrow.
FEW_FRAMES = 20

#: What is compared per kind of path: (metric, higher is better). A label path on a split that
#: lacks some class also gets ``miou_present``, the mean over the classes the split has.
METRICS = {"label": (("miou", True),), "depth": (("rel", False), ("rmse", False))}


@dataclass
class FrameCounts:
    """Per-frame counts of one model's paths over one split, in the split's order.

    ``label[path]``: (confusion (N, K, K) int64, unknown (N, K) int64), as
    :class:`SegmentationMetrics` counts them; ``depth[path]``: (N, 3) float64 of (sum of the
    absolute relative errors, sum of the squared errors, number of valid pixels)."""

    frames: int
    label: dict[str, tuple[np.ndarray, np.ndarray]]
    depth: dict[str, np.ndarray]


@torch.no_grad()
def frame_counts(
    model: MultiModalModel,
    dataset: Dataset,
    paths: Sequence[tuple[str, str]],
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    depth_input: str = "clean",
    seed: int = 0,
) -> FrameCounts:
    """Run :func:`~mmed_core.evaluation.evaluator.evaluate` and keep each frame's counts of
    ``paths`` (label and depth targets only)."""

    cfg = model.config
    wanted = {tuple(p) for p in paths}
    seg: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    dep: dict[str, list[tuple[float, float, int]]] = {}

    def count(batch: dict[str, torch.Tensor], outputs: dict) -> None:
        # a frame without a path's source (as evaluate() skips it) counts nothing on that path
        present = presence_masks(batch, tuple(dict.fromkeys(s for s, _ in outputs)))
        for p, y in outputs.items():
            if p not in wanted:
                continue
            has = present[p[0]].cpu()
            if p[1] == "label":
                pred = y.argmax(1).cpu()
                for i in range(pred.shape[0]):
                    sm = SegmentationMetrics(cfg.num_classes, cfg.class_names)
                    if has[i]:
                        sm.update(pred[i], batch["label"][i])
                    seg.setdefault(path_key(p), []).append((sm.confusion, sm.unknown_fn))
            else:
                pred = postprocess("depth", y, cfg)[:, 0].cpu()
                for i in range(pred.shape[0]):
                    dm = DepthMetrics()
                    if has[i]:
                        dm.update(pred[i], batch["depth"][i, 0])
                    dep.setdefault(path_key(p), []).append(
                        (dm.sums["abs_rel"], dm.sums["sq"], dm.n)
                    )

    result = evaluate(
        model,
        dataset,
        batch_size=batch_size,
        device=device,
        on_batch=count,
        depth_input=depth_input,
        seed=seed,
    )
    label = {k: (np.stack([c for c, _ in v]), np.stack([u for _, u in v])) for k, v in seg.items()}
    depth = {k: np.asarray(v, dtype=np.float64) for k, v in dep.items()}
    return FrameCounts(int(result["num_samples"]), label, depth)


def _label_scores(confusion: np.ndarray, unknown: np.ndarray) -> dict[str, np.ndarray]:
    iou = iou_from_confusion(confusion, unknown)
    present = present_in_truth(confusion, unknown)
    with np.errstate(invalid="ignore"):
        valid = ~np.isnan(iou)
        miou = np.where(valid.any(-1), np.nansum(iou, -1) / np.maximum(valid.sum(-1), 1), np.nan)
        on_present = np.where(present, np.nan_to_num(iou), 0.0).sum(-1)
        miou_present = np.where(
            present.any(-1), on_present / np.maximum(present.sum(-1), 1), np.nan
        )
    return {"miou": miou, "miou_present": miou_present}


def _depth_scores(sums: np.ndarray) -> dict[str, np.ndarray]:
    # NaN where a resample drew no frame with depth (a split where only some frames have it)
    n = np.where(sums[..., 2] > 0, sums[..., 2], np.nan)
    return {"rel": sums[..., 0] / n, "rmse": np.sqrt(sums[..., 1] / n)}


def paired_bootstrap(
    a: FrameCounts,
    b: FrameCounts,
    *,
    boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """For every path both count: A's and B's split metric, B - A and its percentile interval
    over ``boot`` resamples of the frames (the same resample for A and B: paired), and the share
    of resamples in which B is better. Rows follow :data:`METRICS`."""

    if a.frames != b.frames:
        raise ConfigError(f"paired frames differ in number: A has {a.frames}, B {b.frames}")
    if boot < 100:
        raise ConfigError(f"boot must be >= 100 resamples, got {boot}")
    if not 0.5 <= level < 1:
        raise ConfigError(f"level must be in [0.5, 1), got {level}")
    n = a.frames
    rng = np.random.default_rng(seed)
    # Counts of each frame in each resample (boot, n): pooled sums are then a matrix product.
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(boot)])
    rows: list[dict[str, Any]] = []
    both = {"a": a, "b": b}
    for key in sorted(set(a.label) & set(b.label)) + sorted(set(a.depth) & set(b.depth)):
        if key in a.label:
            full = {s: _label_scores(*(c.sum(0) for c in x.label[key])) for s, x in both.items()}
            present_all = bool(present_in_truth(*(c.sum(0) for c in a.label[key])).all())
            res = {
                s: _label_scores(
                    np.einsum("bn,nij->bij", weights, x.label[key][0]), weights @ x.label[key][1]
                )
                for s, x in both.items()
            }
            metrics = METRICS["label"]
            if not present_all:
                # a split without some class: also the mean over the classes it has
                metrics = (*metrics, ("miou_present", True))
        else:
            full = {s: _depth_scores(x.depth[key].sum(0)) for s, x in both.items()}
            res = {s: _depth_scores(weights @ x.depth[key]) for s, x in both.items()}
            metrics = METRICS["depth"]
        for metric, higher in metrics:
            va, vb = float(full["a"][metric]), float(full["b"][metric])
            diff = res["b"][metric] - res["a"][metric]
            diff = diff[np.isfinite(diff)]
            tails = [(1 - level) / 2, (1 + level) / 2]
            lo, hi = np.quantile(diff, tails) if diff.size else (np.nan, np.nan)
            better = float(np.mean(diff > 0 if higher else diff < 0)) if diff.size else np.nan
            rows.append(
                {
                    "path": key,
                    "metric": metric,
                    "higher_is_better": higher,
                    "a": va,
                    "b": vb,
                    "diff": vb - va,
                    "low": float(lo),
                    "high": float(hi),
                    "b_better_share": better,
                }
            )
    return rows


def _paths_of(model: MultiModalModel) -> list[tuple[str, str]]:
    return [p for p in model.config.paths() if p[1] in METRICS]


def paired_checkpoints(
    checkpoint_a: str | Path,
    checkpoint_b: str | Path,
    *,
    paths: Sequence[str] | None = None,
    dataset: str | None = None,
    split: str = "test",
    root: str | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    depth_input: str = "clean",
    seed: int = 0,
    boot: int = 2000,
    boot_seed: int = 0,
    level: float = 0.95,
    dataset_factory: Callable[..., Dataset] | None = None,
) -> dict[str, Any]:
    """Score both checkpoints on the same frames and compare them path by path
    (module docstring). ``paths``: keys such as ``"rgb->label"`` (default: every label and depth
    path both models have)."""

    model_a, card_a = load_checkpoint(checkpoint_a, map_location=device)
    model_b, _ = load_checkpoint(checkpoint_b, map_location=device)
    ca, cb = model_a.config, model_b.config
    for what, x, y in (
        ("input size", tuple(ca.input_size), tuple(cb.input_size)),
        ("classes", tuple(ca.class_names), tuple(cb.class_names)),
    ):
        if x != y:
            raise ConfigError(
                f"{checkpoint_b}: its {what} {list(y)} differ from {checkpoint_a}'s {list(x)}; "
                "paired frames need the same input size and classes"
            )
    both = [p for p in _paths_of(model_a) if p in set(_paths_of(model_b))]
    if paths:
        known = {path_key(p): p for p in both}
        missing = [k for k in paths if k not in known]
        if missing:
            raise ConfigError(
                f"path(s) {missing} not scored by both checkpoints; both have {sorted(known)}"
            )
        both = [known[k] for k in paths]
    if not both:
        raise ConfigError(
            f"{checkpoint_a} and {checkpoint_b} have no label or depth path in common"
        )
    name, ds = checkpoint_dataset(
        checkpoint_a,
        model_a,
        card_a,
        dataset=dataset,
        split=split,
        root=root,
        options=options,
        dataset_factory=dataset_factory,
    )
    counts_a, counts_b = (
        frame_counts(
            m, ds, both, batch_size=batch_size, device=device, depth_input=depth_input, seed=seed
        )
        for m in (model_a, model_b)
    )
    rows = paired_bootstrap(counts_a, counts_b, boot=boot, seed=boot_seed, level=level)
    return {
        "a": str(checkpoint_a),
        "b": str(checkpoint_b),
        "dataset": name,
        "split": split,
        "frames": counts_a.frames,
        "depth_input": depth_input,
        "depth_input_seed": int(seed) if depth_input != "clean" else None,
        "boot": boot,
        "boot_seed": boot_seed,
        "level": level,
        "rows": rows,
    }


def paired_markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown table with a line saying what was compared."""

    pct = f"{round(result['level'] * 100)} %"
    header = ["path", "metric", "A", "B", "B - A", f"{pct} interval", "B better in"]
    rows = [
        [
            r["path"],
            r["metric"] + (" (higher better)" if r["higher_is_better"] else " (lower better)"),
            r["a"],
            r["b"],
            f"{r['diff']:+.3f}",
            f"[{fmt(r['low'])}, {fmt(r['high'])}]",
            f"{r['b_better_share'] * 100:.1f} % of resamples",
        ]
        for r in result["rows"]
    ]
    depth = (
        f", depth input kinect (seed {result['depth_input_seed']})"
        if result["depth_input"] != "clean"
        else ""
    )
    few = (
        f"\nOnly {result['frames']} frames: a bootstrap over so few is too narrow to trust; "
        "read the interval as a lower bound of the uncertainty.\n"
        if result["frames"] < FEW_FRAMES
        else ""
    )
    return (
        f"A = {result['a']}\nB = {result['b']}\n"
        f"{result['frames']} frames of {result['dataset']}/{result['split']}{depth}; "
        f"paired bootstrap over frames, {result['boot']} resamples (seed {result['boot_seed']})"
        "\n\n" + markdown_table(header, rows) + "\n" + few
    )
