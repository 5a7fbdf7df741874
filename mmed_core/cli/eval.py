# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""``mmed-eval``: score a checkpoint like the paper, or put several runs into one Table 1.

    mmed-eval --checkpoint runs/synthetic-mmed/best.safetensors --split test
    mmed-eval --checkpoint best.safetensors --dataset nyudv2 --root nyu_depth_v2_labeled.mat \
        --option seed=0
    mmed-eval --checkpoint best.safetensors --depth-input kinect --seed 0
    mmed-eval compare runs/synthetic-* --out runs/compare
    mmed-eval paired runs/a/best.safetensors runs/b/best.safetensors --path 'rgb->label'

The first form writes metrics.json, tables.md and figure.png (default: next to the checkpoint in
``eval-<split>/``); ``compare`` writes compare.md and compare.json and prints the markdown;
``paired`` scores two checkpoints on the same frames and prints B - A per path with a paired
bootstrap interval over the frames (:mod:`mmed_core.evaluation.paired`).

``--depth-input kinect`` feeds the depth encoder a Kinect-like measurement of the depth (noise,
quantisation, holes; one fixed draw per ``--seed`` and sample) as a robot's sensor gives, instead
of the clean depth; targets and metrics keep the clean depth, and metrics.json / tables.md record
the choice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mmed_core.cli.console import console_main
from mmed_core.cli.options import add_option_argument, parse_options
from mmed_core.errors import ConfigError, MmedError

__all__ = ["main"]


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    """What to score on and how: the arguments `mmed-eval` and `mmed-eval paired` share."""
    p.add_argument(
        "--dataset", help="dataset name (default: the one the checkpoint was trained on)"
    )
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--root", help="dataset folder/file (default: from the checkpoint's card)")
    add_option_argument(p)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument(
        "--depth-input",
        default="clean",
        metavar="clean|kinect",
        help="what the depth encoder reads: clean (the dataset's depth, default) or kinect (a "
        "Kinect-like measurement of it: noise, quantisation, holes; metric depth only). "
        "Targets and metrics always use the clean depth",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the kinect depth input (one draw per seed and sample, whatever the batch "
        "size; default 0). Not the dataset's seed: that is --option seed=N",
    )


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-eval",
        description="Evaluate a checkpoint on a dataset split (or: mmed-eval compare RUN..., "
        "mmed-eval paired A B).",
    )
    p.add_argument(
        "--checkpoint", required=True, help="best.safetensors / last.safetensors of a run"
    )
    _add_data_arguments(p)
    p.add_argument("--out", help="output folder (default: <checkpoint folder>/eval-<split>)")
    p.add_argument(
        "--figure-samples", type=int, default=4, help="rows of the figure grid (0: no figure)"
    )
    return p


def _paired_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-eval paired",
        description="Is checkpoint B better than A? Both score the same frames (the split of "
        "A's model card, or --dataset/--root); B - A per path with a paired bootstrap interval "
        "over the frames (the variation over which frames are scored, not over training seeds).",
    )
    p.add_argument("a", metavar="A", help="checkpoint .safetensors (the baseline)")
    p.add_argument("b", metavar="B", help="checkpoint .safetensors (the candidate)")
    p.add_argument(
        "--path",
        action="append",
        default=None,
        metavar="SRC->DST",
        help="path to compare, repeatable, e.g. --path 'depth->label' (default: every label "
        "and depth path both have)",
    )
    _add_data_arguments(p)
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--boot-seed", type=int, default=0, help="seed of the resampling (default 0)")
    p.add_argument("--out", help="folder for paired.md and paired.json (default: print only)")
    return p


def _paired(argv: Sequence[str]) -> int:
    args = _paired_parser().parse_args(argv)
    from mmed_core.atomic import atomic_write_json, atomic_write_text
    from mmed_core.evaluation.paired import paired_checkpoints, paired_markdown

    _check_depth_input(args.depth_input)
    result = paired_checkpoints(
        args.a,
        args.b,
        paths=args.path,
        dataset=args.dataset,
        split=args.split,
        root=args.root,
        options=parse_options(args.option),
        batch_size=args.batch_size,
        device=args.device,
        depth_input=args.depth_input,
        seed=args.seed,
        boot=args.boot,
        boot_seed=args.boot_seed,
    )
    markdown = paired_markdown(result)
    if args.out:
        atomic_write_text(Path(args.out) / "paired.md", markdown)
        atomic_write_json(Path(args.out) / "paired.json", result)
    print(markdown)
    return 0


def _check_depth_input(value: str) -> None:
    from mmed_core.data.augment import DEPTH_INPUTS

    if value not in DEPTH_INPUTS:
        raise ConfigError(f"--depth-input must be one of {'|'.join(DEPTH_INPUTS)}, got {value!r}")


def _compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-eval compare", description="Table 1 of several runs beside the paper."
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="metrics.json files or run folders")
    p.add_argument("--out", help="folder for compare.md and compare.json (default: print only)")
    return p


def _compare(argv: Sequence[str]) -> int:
    args = _compare_parser().parse_args(argv)
    from mmed_core.atomic import atomic_write_json, atomic_write_text
    from mmed_core.evaluation.compare import compare_runs

    markdown, data = compare_runs(args.runs)
    if args.out:
        atomic_write_text(Path(args.out) / "compare.md", markdown)
        atomic_write_json(Path(args.out) / "compare.json", data)
    print(markdown)
    return 0


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "compare":
            return _compare(argv[1:])
        if argv and argv[0] == "paired":
            return _paired(argv[1:])
        args = _eval_parser().parse_args(argv)
        # Imported with the evaluator, only when evaluating (start-up time of --help, compare).
        from mmed_core.evaluation.evaluator import depth_input_note, evaluate_checkpoint

        _check_depth_input(args.depth_input)

        res = evaluate_checkpoint(
            args.checkpoint,
            dataset=args.dataset,
            split=args.split,
            root=args.root,
            options=parse_options(args.option),
            out_dir=args.out,
            batch_size=args.batch_size,
            device=args.device,
            figure_samples=args.figure_samples,
            depth_input=args.depth_input,
            seed=args.seed,
        )
    except MmedError as exc:
        print(f"mmed-eval: error: {exc}", file=sys.stderr)
        return 2
    print(Path(res["out_dir"], "tables.md").read_text(encoding="utf-8"))
    print(f"[mmed-eval] {depth_input_note(res)}")
    print(
        f"[mmed-eval] wrote {res['out_dir']}/metrics.json, tables.md"
        + (", figure.png" if Path(res["out_dir"], "figure.png").exists() else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
