# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``mmed-demo``: synthetic data -> a small trained model -> metrics and a figure, on a CPU in
minutes.

    python -m mmed_core.cli.demo                 # outputs/demo/
    python -m mmed_core.cli.demo --out /tmp/demo --epochs 3

The demo is a list of stages (``STAGES``) that share one :class:`DemoContext`; later stages (e.g.
writing a rosbag and replaying it through the ROS node) are appended with ``STAGES.append(Stage(
"bag", fn))`` where ``fn(ctx)`` reads ``ctx.checkpoint`` / ``ctx.cache_dir`` and records its
outputs in ``ctx.outputs``.

Running it again continues in the same folder: the data cache and a finished training run are
reused (a run stopped half way resumes). A run the demo cannot continue (trained with other
settings, e.g. ``--quick`` after a full demo, or with an unreadable state) is never deleted: it is
moved aside with the ``eval/`` that scored it, to ``run.previous``, then ``run.previous-2``,
``run.previous-3``, ... (:func:`set_aside`), and the demo trains anew. The other outputs (bag,
estimates, metrics) are rewritten by each run.

Where the demo departs from the paper's settings, and why: 48x48 images (paper 96x96), the
``small`` width preset, 192 training scenes and up to 14 epochs, so that two CPU cores finish in a
few minutes; the model is then far from converged but visibly working. The optimiser is the
paper's (SGD, lr 1e-3, momentum 0.9, weight decay 5e-4).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmed_core.cli.console import console_main

__all__ = ["DemoContext", "Stage", "STAGES", "main", "run_stages", "set_aside"]


@dataclass
class DemoContext:
    """What the demo stages share: the options of the run and what each stage produced."""

    out_dir: Path
    epochs: int = 14
    size: tuple[int, int] = (48, 48)
    preset: str = "small"
    n_train: int = 192
    n_eval: int = 32
    seed: int = 0
    progress: bool = True
    checkpoint: Path | None = None  # set by the train stage
    outputs: dict[str, Any] = field(default_factory=dict)  # what each stage wrote, for the summary

    @property
    def cache_dir(self) -> Path:
        return self.out_dir / "data"

    @property
    def data_options(self) -> dict[str, Any]:
        return {
            "n_train": self.n_train,
            "n_val": self.n_eval,
            "n_test": self.n_eval,
            "n_extra": 0,
            "seed": self.seed,
            "progress": False,
        }


@dataclass
class Stage:
    """One step of the demo: a name, the function that runs it, a line for the listing."""

    name: str
    run: Callable[[DemoContext], None]
    description: str = ""


def _data(ctx: DemoContext) -> None:
    from mmed_core.data import build_dataset

    for split in ("train", "val", "test"):
        ds = build_dataset(
            "synthetic", split, size=ctx.size, cache_dir=ctx.cache_dir, options=ctx.data_options
        )
        print(f"  {split}: {len(ds)} synthetic scenes at {ctx.size[0]}x{ctx.size[1]}")
    ctx.outputs["data"] = str(ctx.cache_dir)


def set_aside(run_dir: Path, eval_dir: Path | None = None) -> Path:
    """Move ``run_dir`` to the first free ``<name>.previous``, ``<name>.previous-2``, ... beside
    it (never over an earlier one) and ``eval_dir``, the scores of that run, into it as
    ``eval/``; return where the run went."""
    n = 1
    while True:
        aside = run_dir.with_name(f"{run_dir.name}.previous" + (f"-{n}" if n > 1 else ""))
        if not aside.exists():
            break
        n += 1
    run_dir.rename(aside)
    if eval_dir is not None and eval_dir.is_dir() and not (aside / "eval").exists():
        eval_dir.rename(aside / "eval")
    return aside


def _train(ctx: DemoContext) -> None:
    from mmed_core.errors import CheckpointError
    from mmed_core.training.config import load_run_config
    from mmed_core.training.trainer import train

    run_dir = ctx.out_dir / "run"
    overrides = [
        f"model.preset={ctx.preset}",
        "model.method=mmed",
        "data.dataset=synthetic",
        f"data.size=[{ctx.size[0]}, {ctx.size[1]}]",
        f"data.cache_dir={ctx.cache_dir}",
        f"data.options={ctx.data_options}",
        "train.batch_size=8",
        f"train.epochs={ctx.epochs}",
        "train.patience=3",
        f"train.seed={ctx.seed}",
        f"train.out_dir={run_dir}",
        f"train.progress={str(ctx.progress).lower()}",
        "train.device=cpu",
        "train.threads=1",
    ]  # robust on a shared CPU; see TrainConfig.threads
    run = load_run_config(None, overrides)
    resume = (run_dir / "state.json").is_file()
    try:
        result = train(run, resume=resume)
    except CheckpointError as exc:
        if not resume:
            raise
        # A run of other settings (--quick, an older version's defaults) or an unreadable state
        # (ResumeMismatchError is a CheckpointError): keep it aside, with its scores; train anew.
        previous = set_aside(run_dir, ctx.out_dir / "eval")
        print(f"  {run_dir} cannot be continued ({exc}); moved to {previous}, training anew")
        result = train(run, resume=False)
    ctx.checkpoint = run_dir / "best.safetensors"
    ctx.outputs["checkpoint"] = str(ctx.checkpoint)
    ctx.outputs["training log"] = str(run_dir / "log.csv")
    ctx.outputs["train status"] = f"{result.status}, best epoch {result.best_epoch}"


def _evaluate(ctx: DemoContext) -> None:
    from mmed_core.evaluation.evaluator import evaluate_checkpoint

    assert ctx.checkpoint is not None, "the train stage runs before the evaluate stage"
    res = evaluate_checkpoint(
        ctx.checkpoint, split="test", out_dir=ctx.out_dir / "eval", figure_samples=4
    )
    t1 = res["table1"]
    print(
        f"  test: Rel {t1['rel']:.3f}  RMSE {t1['rmse']:.3f} m  delta<1.25 {t1['delta1']:.3f}  "
        f"mIoU {t1['miou']:.3f}"
    )
    ctx.outputs["metrics"] = str(ctx.out_dir / "eval" / "metrics.json")
    ctx.outputs["tables"] = str(ctx.out_dir / "eval" / "tables.md")
    ctx.outputs["figure"] = str(ctx.out_dir / "eval" / "figure.png")


STAGES: list[Stage] = [
    Stage("data", _data, "render synthetic rooms into a memory-mapped cache"),
    Stage("train", _train, "train the multi-modal encoder-decoder (all 9 paths)"),
    Stage(
        "evaluate", _evaluate, "score every path on the test split, write tables and the figure"
    ),
]


def run_stages(ctx: DemoContext, stages: Sequence[Stage] | None = None) -> DemoContext:
    stages = STAGES if stages is None else stages
    t_all = time.perf_counter()
    for i, stage in enumerate(stages, 1):
        print(f"[mmed-demo] stage {i}/{len(stages)} {stage.name}: {stage.description}", flush=True)
        t0 = time.perf_counter()
        stage.run(ctx)
        print(
            f"[mmed-demo] stage {stage.name} done in {time.perf_counter() - t0:.1f} s", flush=True
        )
    print(f"[mmed-demo] finished in {time.perf_counter() - t_all:.1f} s; outputs:")
    for what, where in ctx.outputs.items():
        print(f"  {what}: {where}")
    return ctx


@console_main
def main(argv: Sequence[str] | None = None, stages: Sequence[Stage] | None = None) -> int:
    """Run ``stages`` (default: this module's; ``mmed_ros.demo`` adds the ROS stages)."""
    p = argparse.ArgumentParser(prog="mmed-demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    p.add_argument(
        "--epochs",
        type=int,
        default=14,
        help="training epochs (default 14: about 3 min on 2 CPU cores)",
    )
    p.add_argument(
        "--quick", action="store_true", help="a seconds-long smoke run (tiny model, 32x32)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    args = p.parse_args(argv)
    ctx = DemoContext(Path(args.out), epochs=args.epochs, progress=not args.no_progress)
    if args.quick:
        ctx.preset, ctx.size, ctx.n_train, ctx.n_eval, ctx.epochs = "tiny", (32, 32), 16, 8, 1
    from mmed_core.errors import MmedError

    try:
        run_stages(ctx, stages)
    except MmedError as exc:
        print(f"mmed-demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
