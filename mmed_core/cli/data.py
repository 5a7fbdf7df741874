# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""``mmed-data``: write synthetic datasets, build caches, inspect datasets.

    mmed-data synth --out data/synth                      # synthetic train/val/test/extra caches
    mmed-data cache nyudv2 --root nyu_depth_v2_labeled.mat --cache-dir data/nyu \
        --option splits_mat=splits.mat
    mmed-data inspect data/synth                          # counts, histogram, depth, preview PNG
    mmed-data inspect cityscapes --root /data/cityscapes --split val --limit 50

Also ``python -m mmed_core.cli.data --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mmed_core.cli.console import console_main
from mmed_core.cli.options import add_option_argument, parse_options
from mmed_core.errors import ConfigError, MmedError

__all__ = ["main", "build_parser"]

_EPILOG = (
    "datasets: synthetic (default, generated), nyudv2 (root = labeled .mat), cityscapes (root = "
    "dataset folder). Options per dataset (--option KEY=VALUE): synthetic n_train n_val n_test "
    "n_extra seed generator (a mapping of generator knobs, e.g. generator='{jpeg_prob: 0, room: "
    "{clutter: [0, 0]}}'; the knobs are printed by inspect); nyudv2 splits_mat class_mapping "
    "extra_dir seed depth_key; cityscapes depth "
    "(disparity|metric) extra seed inpaint; labelled (root = folder with rgb/ label*/ "
    "[depth*/] [splits/SPLIT.txt: frame stems of a split; without them every split is every "
    "frame]) class_map rgb_dir label_dir depth_dir depth_scale; all datasets: workers progress."
)


def _size(text: str) -> int:
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"size must be >= 8, got {value}")
    return value


def _common(p: argparse.ArgumentParser, *, splits_default: Sequence[str]) -> None:
    p.add_argument("--root", help="dataset root: the .mat file (nyudv2) or folder (cityscapes)")
    p.add_argument(
        "--split",
        action="append",
        choices=("train", "val", "test", "extra"),
        help=f"split(s) to use; repeat for several (default: {' '.join(splits_default)})",
    )
    p.add_argument(
        "--size",
        nargs=2,
        type=_size,
        default=(96, 96),
        metavar=("H", "W"),
        help="training size the samples are resized to (default: 96 96)",
    )
    add_option_argument(p, "splits_mat=splits.mat")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmed-data",
        description="Datasets of mmed: synthesise, cache, inspect.",
        epilog=_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = sub.add_parser(
        "synth",
        help="write a synthetic dataset (as caches) to a folder",
        description="Render synthetic RGB-D-semantic rooms into cache folders that "
        "build_dataset('synthetic', ..., cache_dir=OUT) then reuses.",
    )
    synth.add_argument("--out", required=True, help="folder to write the caches to")
    for split, n in (("train", 600), ("val", 100), ("test", 100), ("extra", 600)):
        synth.add_argument(
            f"--n-{split}", type=int, default=n, help=f"frames in {split} (default: {n})"
        )
    synth.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="rendering processes (default: all CPUs; the frames do not depend on it)",
    )
    synth.add_argument(
        "--seed", type=int, default=0, help="seed of the whole dataset (default: 0)"
    )
    synth.add_argument(
        "--size",
        nargs=2,
        type=_size,
        default=(96, 96),
        metavar=("H", "W"),
        help="frame size (default: 96 96)",
    )

    cache = sub.add_parser(
        "cache",
        help="build the preprocessing cache of a dataset",
        description="Resize a dataset's splits once into memory-mapped arrays.",
    )
    cache.add_argument("name", choices=("synthetic", "nyudv2", "cityscapes", "labelled"))
    cache.add_argument("--cache-dir", required=True, help="folder of the caches")
    _common(cache, splits_default=("train", "val", "test"))

    inspect = sub.add_parser(
        "inspect",
        help="counts, class histogram, depth range and a preview PNG",
        description="TARGET is a dataset name or a cache folder (one split's, or "
        "a folder holding several).",
    )
    inspect.add_argument(
        "target", help="synthetic | nyudv2 | cityscapes | labelled | path to a cache folder"
    )
    inspect.add_argument("--cache-dir", help="use (or build) caches in this folder")
    inspect.add_argument(
        "--limit", type=int, default=None, help="look at the first N samples only"
    )
    inspect.add_argument(
        "--preview",
        default=None,
        help="preview PNG path (default: mmed-preview-<name>-<split>.png here)",
    )
    inspect.add_argument(
        "--samples", type=int, default=6, help="rows in the preview grid (default: 6)"
    )
    _common(inspect, splits_default=("train",))
    return parser


def _synth(args: argparse.Namespace) -> int:
    from mmed_core.data import build_dataset

    options = {f"n_{s}": getattr(args, f"n_{s}") for s in ("train", "val", "test", "extra")}
    options.update(seed=args.seed, workers=args.workers)
    for split in ("train", "val", "test", "extra"):
        ds = build_dataset(
            "synthetic", split, size=tuple(args.size), cache_dir=args.out, options=options
        )
        print(f"synthetic/{split}: {len(ds)} frames in {Path(args.out) / ('synthetic-' + split)}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    from mmed_core.data import build_dataset

    options = parse_options(args.option)
    for split in args.split or ("train", "val", "test"):
        ds = build_dataset(
            args.name,
            split,
            root=args.root,
            size=tuple(args.size),
            cache_dir=args.cache_dir,
            options=options,
        )
        print(f"{args.name}/{split}: {len(ds)} samples cached in {args.cache_dir}")
    return 0


def _preview_path(preview: str | None, label: str, *, several: bool) -> Path:
    if preview is None:
        return Path(f"mmed-preview-{label}.png")
    path = Path(preview)
    return path.with_name(f"{path.stem}-{label}{path.suffix or '.png'}") if several else path


def _inspect(args: argparse.Namespace) -> int:
    from mmed_core.data import DATASETS, build_dataset
    from mmed_core.data.cache import load_cache
    from mmed_core.data.preview import preview_grid, summarise

    target = Path(args.target)
    if args.target in DATASETS:
        datasets = [
            (
                f"{args.target}-{split}",
                build_dataset(
                    args.target,
                    split,
                    root=args.root,
                    size=tuple(args.size),
                    cache_dir=args.cache_dir,
                    options=parse_options(args.option),
                ),
            )
            for split in (args.split or ("train",))
        ]
    elif (target / "manifest.json").is_file():
        datasets = [(target.name, load_cache(target))]
    elif target.is_dir() and any(target.glob("*/manifest.json")):
        datasets = [
            (p.parent.name, load_cache(p.parent)) for p in sorted(target.glob("*/manifest.json"))
        ]
    else:
        raise ConfigError(
            f"inspect target {args.target!r} is neither a dataset ({', '.join(DATASETS)}) "
            f"nor a folder with manifest.json (a cache)"
        )
    for label, ds in datasets:
        print(summarise(label, ds, limit=args.limit))
        if args.target == "synthetic":
            from mmed_core.data.synthetic import config_from_dict, describe_config

            knobs = parse_options(args.option).get("generator") or {}
            print(f"  generator: {describe_config(config_from_dict(knobs))}")
        path = _preview_path(args.preview, label, several=len(datasets) > 1)
        preview_grid(ds, path, rows=args.samples)
        print(f"  preview: {path}")
    return 0


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"synth": _synth, "cache": _cache, "inspect": _inspect}[args.command](args)
    except MmedError as exc:
        print(f"mmed-data: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
