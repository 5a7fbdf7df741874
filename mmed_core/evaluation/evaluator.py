# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The evaluator: every conversion path of a checkpoint scored over a whole split (paper §4).

    mmed-eval --checkpoint runs/synthetic-mmed/best.safetensors --split test

Depth is reverted to the dataset's units (``mmed_core.network.modalities.postprocess``) and scored
with the streaming :class:`~mmed_core.evaluation.metrics.DepthMetrics`; labels are the arg-max of
the label decoder, scored with one confusion matrix over the split. ``evaluate`` returns a
JSON-ready dict; ``markdown_tables`` lays it out like the paper's Tables 1, 2/4 and 5.

The depth encoder reads the clean depth by default; ``depth_input="kinect"``
(``mmed-eval --depth-input kinect --seed 0``) feeds it a Kinect-like measurement of the depth
instead (:func:`mmed_core.data.augment.with_depth_input`, the draw training's
``data.depth_input: kinect`` makes, fixed by ``seed`` and the sample index), as a robot's sensor
would; every target and metric keeps the clean depth. The choice is recorded in the result
(``depth_input``, ``depth_input_seed``) and said in the tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence, Sized
from pathlib import Path
from typing import Any, cast

import torch
from torch.utils.data import DataLoader, Dataset

from mmed_core.atomic import atomic_write_json, atomic_write_text
from mmed_core.data import build_dataset
from mmed_core.data.augment import DEPTH_INPUTS, with_depth_input
from mmed_core.data.collate import collate
from mmed_core.data.normals import with_normals
from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import ConfigError
from mmed_core.evaluation.figures import render_figure, save_png
from mmed_core.evaluation.metrics import (
    DEPTH_KEYS,
    IMAGE_DEPTH_KEYS,
    DepthMetrics,
    NormalsMetrics,
    SegmentationMetrics,
)
from mmed_core.network.base import MultiModalModel
from mmed_core.network.losses import presence_masks, source_input
from mmed_core.network.modalities import MODALITIES, input_key, postprocess, prepare_inputs

__all__ = [
    "evaluate",
    "evaluate_checkpoint",
    "checkpoint_dataset",
    "markdown_tables",
    "path_key",
    "PATH_TITLES",
    "TABLE1_COLUMNS",
    "PAPER_COLUMNS",
    "HEADERS",
    "DEPTH_NOTE",
    "fmt",
    "markdown_table",
    "depth_input_note",
]

#: The paper's names of the conversion paths (Table 5, Fig. 3/4).
PATH_TITLES = {
    ("rgb", "depth"): "image-to-depth",
    ("label", "depth"): "label-to-depth",
    ("rgb", "label"): "image-to-label",
    ("depth", "label"): "depth-to-label",
    ("label", "rgb"): "label-to-image",
    ("depth", "rgb"): "depth-to-image",
    ("rgb", "rgb"): "image-to-image",
    ("depth", "depth"): "depth-to-depth",
    ("label", "label"): "label-to-label",
}
#: Table 1's columns: depth errors per image (the paper's definition) and pooled over all pixels.
TABLE1_COLUMNS = (*IMAGE_DEPTH_KEYS, *DEPTH_KEYS, "miou")
#: The paper's seven columns (Rel, log10, RMSE, δ1-3, mIoU) in TABLE1_COLUMNS.
PAPER_COLUMNS = ("rel_img", "log10_img", "rmse_img", "delta1", "delta2", "delta3", "miou")
#: What the depth columns mean, said above every table that shows them.
DEPTH_NOTE = (
    "Depth errors per image then averaged (the paper's definition) and pooled over all pixels."
)
#: Column titles of the markdown tables.
HEADERS = {
    "rel_img": "Rel (per img)",
    "log10_img": "log10 (per img)",
    "rmse_img": "RMSE (per img)",
    "rel": "Rel (pooled)",
    "log10": "log10 (pooled)",
    "rmse": "RMSE (pooled)",
    "delta1": "δ<1.25",
    "delta2": "δ<1.25²",
    "delta3": "δ<1.25³",
    "miou": "mIoU",
}


def path_key(path: tuple[str, str]) -> str:
    return f"{path[0]}->{path[1]}"


def _scored_paths(model: MultiModalModel) -> list[tuple[str, str]]:
    return [p for p in model.config.paths() if p[1] in ("depth", "label", "normals")]


@torch.no_grad()
def evaluate(
    model: MultiModalModel,
    dataset: Dataset,
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    on_batch: Callable[[dict[str, torch.Tensor], dict], None] | None = None,
    depth_input: str = "clean",
    seed: int = 0,
) -> dict[str, Any]:
    """Score every path of ``model`` that ends in depth or labels over ``dataset`` (paired
    samples).

    ``depth_input`` (:data:`~mmed_core.data.augment.DEPTH_INPUTS`): what the depth encoder reads,
    ``clean`` (the dataset's depth) or ``kinect`` (a Kinect-like measurement of it, drawn from
    ``seed`` and the sample index; metric datasets only); targets stay clean.
    ``on_batch(batch, outputs)`` sees each raw batch (with ``depth_input`` when it is kinect) and
    the network outputs (e.g. to keep samples for a figure). Returns {"num_samples",
    "depth_input", "depth_input_seed" (None for clean), "paths": {"rgb->depth": {...}, ...},
    "table1": {rel..miou}} where table1 takes depth from rgb->depth and mIoU from rgb->label.
    """

    dataset = with_depth_input(dataset, depth_input, seed=seed)
    cfg = model.config
    model = model.to(device).eval()
    paths = _scored_paths(model)
    if not paths:
        raise ConfigError(
            f"checkpoint of method `{cfg.method}` has no path to depth or label to evaluate"
        )
    depth = {p: DepthMetrics() for p in paths if p[1] == "depth"}
    seg = {
        p: SegmentationMetrics(cfg.num_classes, cfg.class_names) for p in paths if p[1] == "label"
    }
    normals = {p: NormalsMetrics() for p in paths if p[1] == "normals"}
    counts = dict.fromkeys(paths, 0)
    n = 0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate):
        keep = batch["paired"]
        if not bool(keep.any()):
            continue
        batch = {k: v[keep] for k, v in batch.items()}
        inputs = prepare_inputs(
            {m: source_input(batch, m).to(device) for m in dict.fromkeys(s for s, _ in paths)},
            cfg,
        )
        outputs = model(inputs, paths=paths)
        # A sample without its source (a labelled frame without a depth PNG reads as an
        # all-invalid depth map) is not scored on that source's paths.
        present = presence_masks(batch, tuple(dict.fromkeys(s for s, _ in paths)))
        for p, y in outputs.items():
            sel = present[p[0]].cpu()
            counts[p] += int(sel.sum())
            if not bool(sel.any()):
                continue
            if p in depth:
                depth[p].update(
                    postprocess("depth", y, cfg)[:, 0].cpu()[sel], batch["depth"][:, 0][sel]
                )
            elif p in normals:
                normals[p].update(postprocess("normals", y, cfg).cpu()[sel], batch["normals"][sel])
            else:
                seg[p].update(y.argmax(1).cpu()[sel], batch["label"][sel])
        if on_batch is not None:
            on_batch(batch, outputs)
        n += int(keep.sum())
    if n == 0:
        raise ConfigError(
            f"the evaluation set has {len(cast(Sized, dataset))} samples but none is paired "
            "(with depth and labels)"
        )
    result: dict[str, Any] = {
        "num_samples": n,
        "depth_input": depth_input,
        "depth_input_seed": int(seed) if depth_input != "clean" else None,
        "paths": {},
    }
    for metrics in (depth, seg, normals):
        for p, m in metrics.items():
            result["paths"][path_key(p)] = m.compute()
    # how many samples each path was scored on (fewer than num_samples where some lack its source)
    result["path_samples"] = {path_key(p): c for p, c in counts.items()}
    main_d, main_l = result["paths"].get("rgb->depth", {}), result["paths"].get("rgb->label", {})
    result["table1"] = {k: main_d.get(k) for k in (*IMAGE_DEPTH_KEYS, *DEPTH_KEYS)} | {
        "miou": main_l.get("miou")
    }
    return result


# ---------------------------------------------------------------------------- markdown
def fmt(v: Any) -> str:
    """Three decimals like the paper; '-' where a method has no such output."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += [
        "| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def depth_input_note(result: dict[str, Any]) -> str:
    """What the depth encoder read in ``result`` (one sentence for the tables and summaries)."""
    kind = result.get("depth_input", "clean")
    if kind == "kinect":
        return (
            "Depth input: kinect (the depth encoder read a Kinect-like measurement of the depth, "
            f"seed {result.get('depth_input_seed')}; targets are the clean depth)."
        )
    return f"Depth input: {kind} (the depth encoder read the dataset's depth)."


def _title(key: str) -> str:
    """``image-to-label`` for ``rgb->label``; the key itself for a path without a title."""
    src, _, dst = key.partition("->")
    return PATH_TITLES.get((src, dst), key)


def fewer_samples_note(result: dict[str, Any]) -> list[str]:
    """One line naming the paths scored on fewer samples than the run has (their source is
    missing in some frames, e.g. labelled frames without depth); none when every path saw all."""
    n = result["num_samples"]
    fewer = [(k, c) for k, c in (result.get("path_samples") or {}).items() if c != n]
    if not fewer:
        return []
    named = ", ".join(f"{_title(k)} {c}" for k, c in fewer)
    return [f"Scored on fewer images (their source is missing in the others): {named}."]


def absent_classes_note(paths: dict[str, Any]) -> list[str]:
    """Lines naming, per label path, the classes without a ground-truth pixel in the frames it
    scored (a small set) and its mean over the present ones; none when every class is present."""
    parts = []
    for k, v in paths.items():
        if "classes_present" not in v:
            continue
        absent = [c for c in v["iou"] if c not in v["classes_present"]]
        if absent:
            parts.append(
                f"{_title(k)} {fmt(v['miou_present'])} over "
                f"{len(v['classes_present'])} (absent: {', '.join(absent)})"
            )
    if not parts:
        return []
    return [
        "",
        "Some classes have no ground-truth pixel in the scored frames: such a class counts in "
        "the mean with IoU 0 wherever it is predicted on a labelled pixel (the usual definition; "
        "'-' where it is not). Mean over the classes present: " + "; ".join(parts) + ".",
    ]


def table1_header() -> list[str]:
    return ["Method", *(HEADERS[c] for c in TABLE1_COLUMNS)]


def markdown_tables(result: dict[str, Any], name: str) -> str:
    """Table 1 row, per-class IoU (Tables 2/4) and the auxiliary paths (Table 5) of one run."""
    paths = result["paths"]
    classes = list(next((v["iou"] for v in paths.values() if "iou" in v), {}))
    parts = [
        f"# Evaluation of `{name}`",
        "",
        f"{result.get('dataset', '?')} / {result.get('split', '?')}: "
        f"{result['num_samples']} images; depth in "
        f"{result.get('depth_units', '?')}.",
        depth_input_note(result),
        *fewer_samples_note(result),
        "",
        "## Table 1 (depth from RGB, segmentation from RGB)",
        "",
        DEPTH_NOTE,
        "",
        markdown_table(
            table1_header(), [[name, *(result["table1"].get(c) for c in TABLE1_COLUMNS)]]
        ),
    ]
    if classes:
        rows = [
            [
                f"{name} ({_title(k)})",
                *(v["iou"][c] for c in classes),
                v["miou"],
            ]
            for k, v in paths.items()
            if "iou" in v
        ]
        parts += [
            "",
            "## Per-class IoU (Tables 2 / 4)",
            "",
            markdown_table(["Method", *classes, "mean"], rows),
            *absent_classes_note(paths),
        ]
    aux = [("rgb", "depth"), ("label", "depth"), ("rgb", "label"), ("depth", "label")]
    rows = []
    for p in aux:
        v = paths.get(path_key(p))
        if v is not None:
            rows.append([PATH_TITLES[p], *(v.get(c) for c in TABLE1_COLUMNS)])
    if rows:
        parts += [
            "",
            "## Auxiliary paths (Table 5)",
            "",
            markdown_table(["Path", *table1_header()[1:]], rows),
        ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- checkpoint -> files
def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    dataset: str | None = None,
    split: str = "test",
    root: str | None = None,
    options: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    figure_samples: int = 4,
    dataset_factory: Callable[..., Dataset] | None = None,
    depth_input: str = "clean",
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on a split; write metrics.json, tables.md and figure.png to
    ``out_dir`` (default: ``<checkpoint folder>/eval-<split>``). The data settings default to those
    the checkpoint was trained with (stored in its card), so ``--dataset`` is needed only to change
    them. A model with the ``normals`` modality is scored against normals derived from the
    dataset's depth (:func:`~mmed_core.data.normals.with_normals`). ``depth_input`` and
    ``seed``: what the depth encoder reads, as in :func:`evaluate` (checked before the model is
    loaded)."""

    if depth_input not in DEPTH_INPUTS:
        raise ConfigError(f"depth_input must be one of {list(DEPTH_INPUTS)}, got {depth_input!r}")
    model, card = load_checkpoint(checkpoint, map_location=device)
    cfg = model.config
    name, ds = checkpoint_dataset(
        checkpoint,
        model,
        card,
        dataset=dataset,
        split=split,
        root=root,
        options=options,
        dataset_factory=dataset_factory,
    )
    keep: list[dict[str, Any]] = []

    def grab(batch: dict[str, torch.Tensor], outputs: dict) -> None:
        for i in range(min(figure_samples - len(keep), batch["rgb"].shape[0])):
            keep.append(
                {
                    **{m: batch[m][i].numpy() for m in MODALITIES if m in batch},
                    **{
                        input_key(m): batch[input_key(m)][i].numpy()
                        for m in MODALITIES
                        if input_key(m) in batch
                    },
                    "outputs": {p: y[i].detach().cpu() for p, y in outputs.items()},
                }
            )

    result = evaluate(
        model,
        ds,
        batch_size=batch_size,
        device=device,
        on_batch=grab,
        depth_input=depth_input,
        seed=seed,
    )
    run_name = card.get("run_name") or cfg.method
    result = {
        "checkpoint": str(checkpoint),
        "run_name": run_name,
        "method": cfg.method,
        "dataset": name,
        "split": split,
        "depth_units": cfg.depth_units,
        "epoch": card.get("epoch"),
        **result,
    }
    out = Path(out_dir) if out_dir is not None else Path(checkpoint).parent / f"eval-{split}"
    atomic_write_json(out / "metrics.json", result)
    atomic_write_text(out / "tables.md", markdown_tables(result, run_name))
    if keep and figure_samples > 0:
        keep = _with_cross_paths(model, keep, device)
        save_png(out / "figure.png", render_figure(keep, cfg))
    result["out_dir"] = str(out)
    return result


def checkpoint_dataset(
    checkpoint: str | Path,
    model: MultiModalModel,
    card: dict[str, Any],
    *,
    dataset: str | None = None,
    split: str = "test",
    root: str | None = None,
    options: dict[str, Any] | None = None,
    dataset_factory: Callable[..., Dataset] | None = None,
) -> tuple[str, Any]:
    """The split to score ``checkpoint`` on, as :func:`evaluate_checkpoint` builds it: the data
    settings of the checkpoint's card unless ``dataset`` names another, ``options`` on top, at
    the model's input size, with normals when the model has that modality. Returns (dataset
    name, dataset); raises :class:`ConfigError` when the dataset's classes differ from the
    model's."""

    cfg = model.config
    data = dict(card.get("data") or {})
    same = dataset is None or dataset == data.get("dataset", cfg.dataset)
    name = dataset or data.get("dataset") or cfg.dataset
    opts = {**(data.get("options") or {}), **(options or {})} if same else dict(options or {})
    root = root if root is not None else (data.get("root") if same else None)
    dataset_factory = dataset_factory or build_dataset
    ds: Any = dataset_factory(
        name,
        split,
        root=root,
        size=(cfg.input_size[0], cfg.input_size[1]),
        cache_dir=data.get("cache_dir") if same else None,
        options=opts,
    )
    if "normals" in cfg.modalities:
        ds = with_normals(ds, f"dataset `{name}` split `{split}`")
    if tuple(ds.info.class_names) != tuple(cfg.class_names):
        raise ConfigError(
            f"{checkpoint}: trained on classes {list(cfg.class_names)} but dataset `{name}` has "
            f"{list(ds.info.class_names)}"
        )
    return name, ds


@torch.no_grad()
def _with_cross_paths(
    model: MultiModalModel, samples: list[dict[str, Any]], device: str
) -> list[dict[str, Any]]:
    """Add the decoders to RGB (not scored, but shown in the figure like Fig. 4 right), from the
    inputs the scored paths read (``depth_input`` where the samples have it)."""
    cfg = model.config
    extra = [p for p in cfg.paths() if p[1] == "rgb" and p[0] != "rgb"]
    if not extra:
        return samples
    raw = {
        m: torch.stack([torch.as_tensor(s.get(input_key(m), s[m])) for s in samples]).to(device)
        for m in dict.fromkeys(p[0] for p in extra)
    }
    outs = model(prepare_inputs(raw, cfg), paths=extra)
    for i, s in enumerate(samples):
        s["outputs"].update({p: y[i].cpu() for p, y in outs.items()})
    return samples
