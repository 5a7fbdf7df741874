# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""``mmed-train``: train a method of the paper's Table 1 from a YAML config.

    mmed-train --config config/train_synthetic.yaml train.lr=0.01 model.method=enc-dec \
        model.targets=[depth]
    mmed-train --config config/train_synthetic.yaml --resume
    mmed-train --config config/train_indoor.yaml train.init=models/nyu12-synthetic.safetensors \
        train.out_dir=runs/indoor-ft                     # fine-tune the shipped model
    torchrun --nproc_per_node=2 -m mmed_core.cli.train --config config/train_nyudv2.yaml

Exit codes: 0 finished / early-stopped, 1 diverged (NaN/inf loss), 2 bad config or checkpoint or a
failed write (e.g. disk full), 130 interrupted (a resumable checkpoint was saved; rerun with
--resume).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmed_core.cli.console import console_main
from mmed_core.errors import MmedError
from mmed_core.training.config import (
    DEFAULT_RECIPE,
    RECIPE_KEYS,
    RECIPES,
    describe_recipe,
    load_run_config,
)

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Overrides are section.key=value (YAML values), e.g. train.epochs=5 "
        "data.options.n_train=64 model.preset=tiny data.extra=true. Early stopping and "
        "best.safetensors follow train.criterion: `normalised` (default) = mean over the "
        "RGB->target paths of each path's validation loss divided by its value at the first "
        "validation; `sum` = their plain sum. train.balance: none (paper) | uncertainty | dwa. "
        "data.extra_per_batch=N: step-matched +extra (N unpaired samples added to each batch). "
        "Training split only: data.augment=none (paper) | flip | standard (flip, zoom, colour "
        "jitter of the RGB input). data.depth_input=clean | kinect (the depth encoder reads a "
        "Kinect-like depth, the losses score the clean one; validation reads one fixed draw per "
        "sample) | mixed (half the training samples read it, half the clean depth; validation "
        "reads it). summary.json's `validation` says what the epochs were selected on, and "
        "warns when it is the training frames (a labelled folder without splits/). "
        "Fine-tuning: "
        "train.init=models/nyu12-synthetic.safetensors (or a run's best.safetensors) starts a "
        "new run from that checkpoint's weights (its model settings must be the run's: method, "
        "preset/widths, modalities, classes, data.size); the optimiser and step count start "
        "afresh, --resume continues the run's own state, and summary.json and the model cards "
        "record the checkpoint's path and sha256.",
    )
    p.epilog = f"{p.epilog}\n\n{_recipes_help()}"
    p.add_argument(
        "--config", help="YAML file with model/data/train sections (default: built-in defaults)"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in train.out_dir exactly"
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    return p


def _recipes_help() -> str:
    lines = [
        f"train.recipe sets {', '.join(RECIPE_KEYS)}; a value written in the config file or "
        f"on the command line wins over the recipe's (default: {DEFAULT_RECIPE}; paper = the "
        "paper's §3.3). A recipe's loss weights "
        "for modalities a method does not decode are dropped. Recipes:"
    ]
    lines += [f"  {name}: {describe_recipe(values)}" for name, values in RECIPES.items()]
    return "\n".join(lines)


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mmed_core.training.trainer import DivergedError, train

    try:
        run = load_run_config(args.config, args.overrides)
        result = train(run, resume=args.resume)
    except DivergedError as exc:
        print(f"mmed-train: error: {exc}", file=sys.stderr)
        return 1
    except MmedError as exc:
        print(f"mmed-train: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout went away: console_main ends quietly
        raise
    except OSError as exc:  # disk full, permissions: every write is atomic, so say what is kept
        print(
            f"mmed-train: error: {exc}. Checkpoints and the resumable state written before it "
            "are intact; fix the cause and rerun with --resume",
            file=sys.stderr,
        )
        return 2
    if result.status == "interrupted":
        print(
            "mmed-train: interrupted; resume with: "
            f"mmed-train --config {args.config or '<defaults>'} "
            f"{' '.join(args.overrides)} --resume",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
