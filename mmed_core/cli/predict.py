# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""``mmed-predict``: run a model on your own images and write what it sees.

    mmed-predict photos/ --out runs/predict                  # the shipped indoor model
    mmed-predict frame.jpg --checkpoint runs/x/best.safetensors --path 'rgb->label'
    mmed-predict rgb/ --depth depth/ --out runs/predict      # depth PNGs in mm, same names

Inputs are image files or folders (searched recursively). For every image and path SRC->DST it
writes, at the image's own resolution, into OUT:

    NAME.SRC-label.png        class ids, 8 bit (255 = unknown); the classes: predictions.json
    NAME.SRC-label.color.png  the ids in the model's palette
    NAME.SRC-depth.png        16 bit: millimetres for a metric model, Cityscapes' disparity
                              encoding (disparity * 256 + 1) for a disparity model; 0 = unknown
    NAME.SRC-depth.color.png  the depth in turbo colours over the model's depth range
    NAME.SRC-rgb.png          a reconstructed image (paths to rgb)

and ``predictions.json`` (model, classes, palette, encodings; per image and path its files, the
share of the image each class covers and the median depth) and ``preview.png`` (the first
``--preview`` images: input | outputs, with the class legend). NAME is the image's path below
the folder given (or its file name) without the extension, ``/`` replaced by ``__``. Every file
is written atomically; an OUT that already holds files is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmed_core.cli.console import console_main
from mmed_core.errors import ConfigError, InputError, MmedError
from mmed_core.imagefile import encode_depth

__all__ = [
    "main",
    "collect_images",
    "select_paths",
    "read_frame",
    "add_input_arguments",
    "checkpoint_or_shipped",
]

DEFAULT_PATHS = (("rgb", "label"), ("rgb", "depth"), ("depth", "label"))
RESIZES = ("stretch", "letterbox", "crop")


@dataclass(frozen=True)
class Frame:
    name: str  # output name: relative path without extension, '/' -> '__'
    rgb: Path
    depth: Path | None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-predict",
        description="Run a model on image files or folders and write its labels and depth "
        "(PNG at each image's resolution), predictions.json and a preview.",
        epilog="Outputs and their encodings: see the module docstring or docs/SIM2REAL.md, "
        '"Trying a model on your own images".',
    )
    add_input_arguments(p)
    p.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        help="label pixels whose class probability is below this become 255 (unknown)",
    )
    p.add_argument("--precision", default="fp32", help="fp32, fp16 or bf16 (default fp32)")
    p.add_argument(
        "--preview",
        type=int,
        default=12,
        metavar="N",
        help="images in preview.png (default 12; 0: no preview)",
    )
    p.add_argument("--tile", type=int, default=160, help="preview row height in pixels")
    p.add_argument(
        "--depth-max",
        type=float,
        help="depth at the top of the colour scale of the .color.png files and the preview "
        "(default: the far end of the model's depth range; e.g. 6 for rooms)",
    )
    p.add_argument("--force", action="store_true", help="write into an OUT that holds files")
    return p


def add_input_arguments(
    p: argparse.ArgumentParser,
    *,
    inputs: str = "+",
    path_help: str = "path to run, repeatable (default: rgb->label and rgb->depth, and "
    "depth->label with --depth, those the model has)",
) -> None:
    """The arguments mmed-predict and mmed-adapt share: the images (``inputs``: their nargs),
    the model, the paths (``path_help``), how images are fitted and the device."""
    p.add_argument(
        "inputs",
        nargs=inputs,
        metavar="INPUT",
        help="RGB image files or folders of them (searched recursively)",
    )
    p.add_argument(
        "--checkpoint",
        help="x.safetensors with x.json beside it (default: the shipped indoor model, "
        "models/nyu12-synthetic.safetensors)",
    )
    p.add_argument(
        "--depth",
        metavar="DEPTH",
        help="depth images for the inputs: a folder of one-channel PNGs with the same names "
        "(relative paths) as the RGB images, or one file for one RGB image; 0 = no measurement",
    )
    p.add_argument(
        "--depth-scale",
        type=float,
        default=0.001,
        help="metres per depth-image unit (default 0.001: millimetres, as NYUDv2 and RealSense; "
        "a disparity model: disparity per unit)",
    )
    p.add_argument(
        "--path",
        action="append",
        metavar="SRC->DST",
        help=path_help,
    )
    p.add_argument(
        "--resize",
        default="stretch",
        choices=RESIZES,
        help="how an image is fitted to the model's input: stretch (default, as training "
        "squeezes the 4:3 view), letterbox or crop",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")


def checkpoint_or_shipped(checkpoint: str | None) -> str:
    """``checkpoint``, or the shipped indoor model when it is None (ConfigError if absent)."""
    from mmed_core.deploy.checkpoint import SHIPPED_MODEL, shipped_model

    found = checkpoint or shipped_model()
    if found is None:
        raise ConfigError(
            f"no --checkpoint given and the shipped model (models/{SHIPPED_MODEL}) is not in "
            "this install; pass --checkpoint x.safetensors"
        )
    return str(found)


def _name(path: Path, base: Path | None) -> str:
    rel = path.relative_to(base) if base is not None else Path(path.name)
    return rel.with_suffix("").as_posix().replace("/", "__")


def _named_images(spec: str, what: str) -> list[tuple[str, Path]]:
    from mmed_core.data.folders import IMAGE_EXTENSIONS, list_images

    path = Path(spec)
    if path.is_dir():
        return [(_name(p, path), p) for p in list_images(path)]
    if not path.is_file():
        raise InputError(f"{what} {spec}: expected an image file or a folder, found nothing")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise InputError(
            f"{what} {spec}: expected an image file ({', '.join(IMAGE_EXTENSIONS)}), "
            f"got a {path.suffix or 'extension-less'} file"
        )
    return [(_name(path, None), path)]


def collect_images(inputs: Sequence[str], depth: str | None = None) -> list[Frame]:
    """The frames of ``inputs`` (files / folders), each with its depth image from ``depth`` (a
    folder matched by name, or one file for one image); InputError on a missing input, a name
    that two inputs share, or an image without its depth."""
    named: dict[str, Path] = {}
    for spec in inputs:
        for name, path in _named_images(spec, "input"):
            if name in named and named[name] != path:
                raise InputError(
                    f"input {path}: its output name {name!r} is also {named[name]}'s; "
                    "give the folders separately (--out) or rename one"
                )
            named[name] = path
    depths: dict[str, Path] = {}
    if depth is not None:
        found = _named_images(depth, "--depth")
        if Path(depth).is_file():
            if len(named) != 1:
                raise InputError(
                    f"--depth {depth}: one depth file for {len(named)} images; give a folder "
                    "of depth images with the images' names"
                )
            depths = {next(iter(named)): found[0][1]}
        else:
            depths = dict(found)
            missing = [n for n in named if n not in depths]
            if missing:
                raise InputError(
                    f"--depth {depth}: no depth image for {len(missing)} of {len(named)} "
                    f"images (expected the same names), e.g. {missing[:3]}"
                )
    return [Frame(n, p, depths.get(n)) for n, p in named.items()]


def select_paths(
    engine: Any, wanted: Sequence[str] | None, has_depth: bool
) -> list[tuple[str, str]]:
    """The paths of ``--path`` (keys such as 'rgb->label'), or by default rgb->label and
    rgb->depth, and depth->label with depth images, those the model has; ConfigError on a path
    the model lacks, one reading depth without depth images, or a source other than RGB/depth."""
    from mmed_core.evaluation.evaluator import path_key

    if wanted:
        known = {path_key(p): p for p in engine.paths}
        bad = [w for w in wanted if w.replace(" ", "") not in known]
        if bad:
            raise ConfigError(f"--path {bad}: not in this model; it has {sorted(known)}")
        paths = [known[w.replace(" ", "")] for w in dict.fromkeys(wanted)]
    else:
        sources = ("rgb", "depth") if has_depth else ("rgb",)
        paths = [p for p in DEFAULT_PATHS if p in engine.paths and p[0] in sources]
        if not paths:
            raise ConfigError(
                f"this model has no {' or '.join(f'{s}->label/depth' for s in sources)} path; "
                f"it has {[path_key(p) for p in engine.paths]}: choose with --path"
            )
    needs_depth = [path_key(p) for p in paths if p[0] == "depth"]
    if needs_depth and not has_depth:
        raise ConfigError(f"--path {needs_depth} reads depth: give the depth images with --depth")
    unsupported = [path_key(p) for p in paths if p[0] not in ("rgb", "depth")]
    if unsupported:
        raise ConfigError(f"--path {unsupported}: inputs are RGB and depth images only")
    return paths


def _paths(engine: Any, wanted: Sequence[str] | None, has_depth: bool) -> list[tuple[str, str]]:
    from mmed_core.evaluation.evaluator import path_key

    paths = select_paths(engine, wanted, has_depth)
    unwritten = [path_key(p) for p in paths if p[1] not in ("label", "depth", "rgb")]
    if unwritten:
        raise ConfigError(f"--path {unwritten}: mmed-predict writes label, depth and rgb outputs")
    return paths


def _write_png(path: Path, image: np.ndarray) -> None:
    from mmed_core.atomic import atomic_write_bytes

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise InputError(f"{path}: could not encode a {image.shape} {image.dtype} image as PNG")
    atomic_write_bytes(path, buf.tobytes())


def _outputs(
    frame: Frame, preds: dict, config: Any, out: Path, colours: tuple[float, float]
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Write one frame's outputs; its entry of predictions.json and the outputs as pictures."""
    from mmed_core.data.preview import colourise_depth, colourise_label
    from mmed_core.evaluation.figures import save_png

    shown: list[np.ndarray] = []
    outputs: dict[str, dict[str, Any]] = {}
    for (src, dst), pred in preds.items():
        stem, arr = f"{frame.name}.{src}-{dst}", pred.array
        if dst == "label":
            _write_png(out / f"{stem}.png", arr.astype(np.uint8))
            shown.append(colourise_label(arr, config.palette))
            share = np.bincount(arr[arr != 255].ravel(), minlength=config.num_classes)
            share = share / max(arr.size, 1)
            outputs[f"{src}->{dst}"] = {
                "ids": f"{stem}.png",
                "class_share": {
                    name: round(float(share[k]), 4)
                    for k, name in enumerate(config.class_names)
                    if share[k] > 0
                },
            }
        elif dst == "depth":
            _write_png(out / f"{stem}.png", encode_depth(arr, config.depth_units))
            shown.append(colourise_depth(np.nan_to_num(arr, nan=0.0), colours))
            valid = arr[np.isfinite(arr)]
            median = round(float(np.median(valid)), 4) if valid.size else None
            outputs[f"{src}->{dst}"] = {"depth": f"{stem}.png", "median": median}
        elif arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
            save_png(out / f"{stem}.png", arr)
            shown.append(arr)
            outputs[f"{src}->{dst}"] = {"image": f"{stem}.png"}
            continue
        else:  # _paths lets only label, depth and rgb through
            raise ConfigError(f"path {src}->{dst}: mmed-predict writes label, depth and rgb")
        save_png(out / f"{stem}.color.png", shown[-1])
        outputs[f"{src}->{dst}"]["color"] = f"{stem}.color.png"
    entry = {
        "rgb": str(frame.rgb),
        "depth": None if frame.depth is None else str(frame.depth),
        "outputs": outputs,
    }
    return entry, shown


def _row(tiles: list[np.ndarray], height: int) -> list[np.ndarray]:
    return [
        cv2.resize(
            t,
            (max(1, round(t.shape[1] * height / t.shape[0])), height),
            interpolation=cv2.INTER_NEAREST,
        )
        for t in tiles
    ]


def _preview(rows: list[tuple[str, list[np.ndarray]]], titles: list[str], config: Any) -> Any:
    from mmed_core.evaluation.figures import GAP, HEADER_H, legend_strip

    font = cv2.FONT_HERSHEY_SIMPLEX
    widths = [max(r[1][c].shape[1] for r in rows) for c in range(len(titles))]
    width = sum(widths) + GAP * (len(widths) + 1)
    height = HEADER_H + sum(r[1][0].shape[0] + HEADER_H for r in rows)
    canvas = np.full((height, width, 3), 255, np.uint8)
    x = GAP
    for title, w in zip(titles, widths):
        cv2.putText(canvas, title, (x + 2, HEADER_H - 7), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += w + GAP
    y = HEADER_H
    for name, tiles in rows:
        cv2.putText(canvas, name[:60], (GAP + 2, y + 15), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        y += HEADER_H
        x = GAP
        for tile, w in zip(tiles, widths):
            canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
            x += w + GAP
        y += tiles[0].shape[0]
    return np.concatenate([canvas, legend_strip(width, config)], 0)


def read_frame(frame: Frame, depth_scale: float) -> dict[str, np.ndarray]:
    """A frame's images as :meth:`InferenceEngine.infer` takes them: RGB, and depth in metres
    (``depth_scale`` metres per unit of its 16-bit PNG) when it has one."""
    from mmed_core.data.folders import read_rgb
    from mmed_core.data.labelled_folder import read_png16

    inputs = {"rgb": read_rgb(frame.rgb)}
    if frame.depth is not None:
        raw = read_png16(frame.depth, "depth")
        inputs["depth"] = raw.astype(np.float32) * float(depth_scale)
    return inputs


def predict(args: argparse.Namespace) -> dict[str, Any]:
    from mmed_core.atomic import atomic_write_json
    from mmed_core.deploy.inference import InferenceEngine
    from mmed_core.evaluation.evaluator import path_key
    from mmed_core.evaluation.figures import save_png
    from mmed_core.progress import progress

    if args.depth_scale <= 0:
        raise ConfigError(f"--depth-scale: expected metres per unit > 0, got {args.depth_scale}")
    if args.preview < 0 or args.tile < 16:
        raise ConfigError(
            f"--preview: expected >= 0 images, got {args.preview}; --tile: expected >= 16 "
            f"pixels, got {args.tile}"
        )
    checkpoint = checkpoint_or_shipped(args.checkpoint)
    frames = collect_images(args.inputs, args.depth)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: expected a folder, found a file")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise InputError(
            f"--out {out}: the folder already holds files (earlier predictions?); choose "
            "another --out, or add --force to write over files of the same names"
        )
    engine = InferenceEngine.from_checkpoint(
        checkpoint,
        device=args.device,
        precision=args.precision,
        cpu_fallback=True,
        warn=lambda msg: print(f"mmed-predict: warning: {msg}", file=sys.stderr),
    )
    config = engine.config
    near, far = (float(v) for v in config.depth_range)
    if args.depth_max is not None and not args.depth_max > near:
        raise ConfigError(
            f"--depth-max: expected more than the model's nearest depth {near}, "
            f"got {args.depth_max}"
        )
    colours = (near, far if args.depth_max is None else float(args.depth_max))
    paths = _paths(engine, args.path, args.depth is not None)
    note = engine.sensor_depth_note(paths)
    if note:
        print(f"mmed-predict: note: {note}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    titles = ["input"] + [path_key(p) for p in paths]
    entries: dict[str, Any] = {}
    rows: list[tuple[str, list[np.ndarray]]] = []
    with progress(len(frames), "mmed-predict", "img") as bar:
        for frame in frames:
            inputs = read_frame(frame, args.depth_scale)
            preds = engine.infer(
                inputs,
                paths,
                min_confidence=args.min_confidence,
                resize=args.resize,
                output_size="input",
            )
            entries[frame.name], shown = _outputs(frame, preds, config, out, colours)
            if len(rows) < args.preview:
                rows.append((frame.name, _row([inputs["rgb"], *shown], args.tile)))
            bar.update(1)
    result = {
        "format": "mmed-predictions",
        "checkpoint": str(checkpoint),
        "model": engine.describe(),
        "classes": list(config.class_names),
        "palette": [list(map(int, c)) for c in config.palette],
        "encodings": {
            "label": "8-bit ids into classes; 255 = unknown",
            "depth": (
                "16-bit millimetres; 0 = unknown"
                if config.depth_units == "m"
                else "16-bit disparity * 256 + 1 (Cityscapes); 0 = unknown"
            ),
        },
        "paths": [path_key(p) for p in paths],
        "resize": args.resize,
        "min_confidence": args.min_confidence,
        "images": entries,
    }
    if rows:
        save_png(out / "preview.png", _preview(rows, titles, config))
        result["preview"] = "preview.png"
    atomic_write_json(out / "predictions.json", result)
    return result


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        res = predict(args)
    except MmedError as exc:
        print(f"mmed-predict: error: {exc}", file=sys.stderr)
        return 2
    n = len(res["images"])
    print(
        f"mmed-predict: {n} image{'s' * (n != 1)}, paths {', '.join(res['paths'])}; wrote "
        f"{args.out}/predictions.json"
        + (f", {args.out}/preview.png" if "preview" in res else "")
        + " and the images' PNGs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
