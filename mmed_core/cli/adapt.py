# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""``mmed-adapt``: adapt a model to your camera from unlabelled frames (BatchNorm statistics).

    mmed-adapt frames/ --out runs/adapted/model.safetensors            # the shipped model
    mmed-adapt rgb/ --depth depth/ --checkpoint runs/x/best.safetensors --out runs/x/cam
    mmed-adapt --training-data 200 --checkpoint runs/x/best.safetensors --out runs/x/recal
    ros2 launch mmed_ros perception.launch.py weights:=runs/adapted/model.safetensors

Runs the model over the frames (image files or folders, searched recursively; no labels) and
replaces the running statistics of the BatchNorm layers on the chosen paths by the frames' own
(mmed_core.deploy.adapt). Nothing else changes: no weight is trained. Writes OUT (.safetensors)
and its model card (.json) atomically; the card keeps the original's fields and adds
``adaptation`` (frames, where they came from, paths, the original weights' sha256). Give frames
of the camera and the kind of scenes the model will see, fitted as the node fits them
(``--resize`` as its ``resize`` parameter). docs/SIM2REAL.md, "Adapting to your camera",
measures what it does on real NYUDv2 frames.

``--training-data N`` takes instead the first N frames of the validation split of the data in
the checkpoint's card (synthetic rooms are rendered), without augmentation: a model trained with
augmentation holds the statistics of augmented images, and this replaces them with those of
un-augmented ones, without any frame of a camera (the shipped model was made so).

The paths adapted are those of ``--path``; by default the label paths among rgb->label and,
with ``--depth`` or ``--training-data``, depth->label (not with the training data when the
model read sensor-like depth in training). Their encoders change, and so does the label
decoder; the depth decoder keeps its training statistics: adapted to real frames too (``--path
rgb->depth``), it made Rel worse on the one real frame with depth for each of the three models
tried, while their labels gained the same.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmed_core.cli.console import console_main
from mmed_core.cli.predict import (
    add_input_arguments,
    checkpoint_or_shipped,
    collect_images,
    read_frame,
    select_paths,
)
from mmed_core.errors import ConfigError, InputError, MmedError

__all__ = [
    "main",
    "adapt_images",
    "save_adapted",
    "training_frames",
    "default_paths",
    "CARD_OWN_KEYS",
]

#: Card fields that save_checkpoint writes from the model itself; an adapted card takes every
#: other field of the original's.
CARD_OWN_KEYS = (
    "format",
    "method",
    "dataset",
    "class_names",
    "palette",
    "depth_range",
    "depth_units",
    "input_size",
    "paths",
    "created",
    "torch_version",
    "config",
    "weights",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-adapt",
        description="Adapt a model to a camera: re-estimate its BatchNorm statistics from "
        "unlabelled frames (no training) and write the adapted checkpoint.",
        epilog='What it does on real frames: docs/SIM2REAL.md, "Adapting to your camera".',
    )
    add_input_arguments(
        p,
        inputs="*",
        path_help="path to adapt, repeatable (default: the label paths the model has, "
        "rgb->label, and depth->label with --depth or --training-data)",
    )
    p.add_argument(
        "--out", required=True, help="adapted checkpoint to write (x.safetensors + x.json)"
    )
    p.add_argument(
        "--training-data",
        type=int,
        metavar="N",
        help="instead of INPUTs: N frames of the validation split of the data the model was "
        "trained on (from its card; synthetic rooms are rendered), without augmentation",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="frames per forward pass (default 16); the statistics are averaged over batches",
    )
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    return p


def check_out(out: str, base: str, force: bool) -> Path:
    """The weights path of ``out``; InputError if it is ``base`` itself or exists without
    ``force`` (nothing is written before the adaptation has succeeded)."""
    from mmed_core.deploy.checkpoint import checkpoint_paths

    weights, card = checkpoint_paths(out)
    if weights.resolve() == checkpoint_paths(base)[0].resolve():
        raise InputError(
            f"--out {out}: is the checkpoint being adapted ({base}); write the adapted model "
            "beside it under another name"
        )
    existing = [str(p) for p in (weights, card) if p.exists()]
    if existing and not force:
        raise InputError(f"--out {out}: {existing} already exist; add --force to replace them")
    return weights


def adaptation_engine(checkpoint: str | Path, device: str, prefix: str) -> Any:
    """``checkpoint`` loaded for adaptation (fp32, CPU when ``device`` is missing); its warnings
    and, for a model adapted before, what will be replaced, on stderr after ``prefix``."""
    from mmed_core.deploy.adapt import replaced_adaptation_note
    from mmed_core.deploy.inference import InferenceEngine

    engine = InferenceEngine.from_checkpoint(
        checkpoint,
        device=device,
        cpu_fallback=True,
        warn=lambda msg: print(f"{prefix}warning: {msg}", file=sys.stderr),
    )
    note = replaced_adaptation_note(engine.card)
    if note:
        print(f"{prefix}note: {note}", file=sys.stderr)
    return engine


def save_adapted(out: str | Path, engine: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Write the engine's (adapted) model to ``out`` with the original card's fields and
    ``adaptation`` = ``record``; returns the new card."""
    from mmed_core.deploy.checkpoint import save_checkpoint

    extras = {k: v for k, v in engine.card.items() if k not in CARD_OWN_KEYS}
    extras["adaptation"] = record
    return save_checkpoint(out, engine.model, **extras)


def default_paths(engine: Any, has_depth: bool, training_data: bool) -> list[tuple[str, str]]:
    """The paths adapted when none are named: the label paths from RGB and, with depth frames,
    from depth (adapting the depth decoder too cost Rel on real frames: module docstring); with
    the training data, not from depth when the model read sensor-like depth in training (the
    data's depth is clean). Empty when the model has no such path."""
    sources = {"rgb", "depth"} if has_depth else {"rgb"}
    if training_data and engine.trained_depth_input != "clean":
        sources = {"rgb"}
    return [p for p in engine.paths if p[1] == "label" and p[0] in sources]


def training_frames(
    engine: Any, n: int, paths: Sequence[tuple[str, str]]
) -> tuple[str, int, Callable[[], Iterator[dict[str, np.ndarray]]]]:
    """(description, count, frames) of the first ``n`` frames of the validation split of the
    data in ``engine``'s card, as its source loads them (no augmentation): images like those the
    model trained on, without the augmentation whose statistics its BatchNorm layers hold."""
    from mmed_core.data import build_source

    data = dict(engine.card.get("data") or {})
    name = str(data.get("dataset") or engine.config.dataset)
    options = dict(data.get("options") or {})
    reads_depth = [f"{s}->{d}" for s, d in paths if s == "depth"]
    if reads_depth and data.get("depth_input", "clean") != "clean":
        raise ConfigError(
            f"--training-data with {reads_depth}: the model read {data['depth_input']} depth in "
            "training, not the data's clean depth; adapt its depth paths to the camera's frames"
        )
    if name == "synthetic":
        options["n_val"] = n  # the val stream's first n rooms
    size = (int(engine.config.input_size[0]), int(engine.config.input_size[1]))
    src = build_source(name, "val", root=data.get("root"), size=size, options=options)
    count = min(n, len(src))
    sources = {s for s, _ in paths}

    def frames() -> Iterator[dict[str, np.ndarray]]:
        for i in range(count):
            rgb, depth, _ = src.load(i)
            frame = {"rgb": rgb}
            if depth is not None:
                frame["depth"] = depth
            yield {k: v for k, v in frame.items() if k in sources}

    return f"{count} frames of the {name} val split of the model's training data", count, frames


def adapt_images(args: argparse.Namespace) -> dict[str, Any]:
    from mmed_core.deploy.adapt import adaptation_record
    from mmed_core.progress import progress

    if args.depth_scale <= 0:
        raise ConfigError(f"--depth-scale: expected metres per unit > 0, got {args.depth_scale}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size: expected >= 1, got {args.batch_size}")
    generated = args.training_data is not None
    if generated == bool(args.inputs):
        raise ConfigError(
            "give the frames to adapt to: image files or folders (INPUT), or --training-data N"
            + (f", not both (got {len(args.inputs)} INPUTs)" if generated else "")
        )
    if generated and (args.training_data < 1 or args.depth is not None):
        raise ConfigError(
            f"--training-data: expected N >= 1 frames and no --depth (the data has its own), "
            f"got {args.training_data}" + (f" and --depth {args.depth}" if args.depth else "")
        )
    checkpoint = checkpoint_or_shipped(args.checkpoint)
    out = check_out(args.out, checkpoint, args.force)
    frames = [] if generated else collect_images(args.inputs, args.depth)
    engine = adaptation_engine(checkpoint, args.device, "mmed-adapt: ")
    has_depth = generated or args.depth is not None
    paths = select_paths(engine, args.path, has_depth)
    if not args.path:
        paths = default_paths(engine, has_depth, generated) or paths
    if generated:
        source_info, count, images_of = training_frames(engine, args.training_data, paths)
    else:
        count = len(frames)
        source_info = ", ".join(args.inputs) + (f" (depth: {args.depth})" if args.depth else "")

        def images_of() -> Iterator[dict[str, np.ndarray]]:
            for frame in frames:
                yield read_frame(frame, args.depth_scale)

    with progress(count, "mmed-adapt", "img") as bar:

        def counted() -> Iterator[dict[str, np.ndarray]]:
            for image in images_of():
                yield image
                bar.update(1)

        result = engine.adapt(counted(), paths, resize=args.resize, batch_size=args.batch_size)
    record = adaptation_record(
        result, source=source_info, resize=args.resize, base=engine.card, base_path=checkpoint
    )
    save_adapted(out, engine, record)
    return {"out": str(out), "checkpoint": checkpoint, **record}


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        res = adapt_images(args)
    except MmedError as exc:
        print(f"mmed-adapt: error: {exc}", file=sys.stderr)
        return 2
    paths = ", ".join(f"{s}->{d}" for s, d in res["paths"])
    print(
        f"mmed-adapt: {res['layers']} BatchNorm layers of {paths} re-estimated from "
        f"{res['frames']} frame{'s' * (res['frames'] != 1)}; wrote {res['out']} (+ .json)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
