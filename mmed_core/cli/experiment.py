# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""``mmed-experiment``: run a study (methods x seeds at one budget) and report it with
confidence intervals and paired, Holm-corrected tests.

    mmed-experiment run config/experiments/table1.yaml               # resumable; then reports
    mmed-experiment run config/experiments/table1.yaml --jobs 2 --nice 10
    mmed-experiment status config/experiments/table1.yaml
    mmed-experiment report config/experiments/table1.yaml --docs docs/EXPERIMENTS.md

``run`` trains every missing run (one torch thread each, ``--jobs`` side by side), continues
interrupted ones with ``--resume``, evaluates them, then writes
``<out>/<name>.report.{md,json}``.
``report`` only writes the report (from the finished runs); with ``--docs`` it also rewrites the
study's marker block ``<!-- mmed-experiment:NAME begin/end -->`` in that file. A study with
``records: DIR`` keeps one small JSON per finished run there (metrics, budget, provenance):
commit DIR and the study continues on a fresh clone (recorded runs count as done, stale ones
rerun). Exit codes: 0 ok, 1 some runs failed (see their .log), 2 bad study file, 130
interrupted (rerun to continue).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mmed_core.cli.console import console_main
from mmed_core.errors import ConfigError, MmedError
from mmed_core.training.config import RECIPES, describe_conflicts, recipe_conflicts

if TYPE_CHECKING:
    from mmed_core.evaluation.protocol import Study

__all__ = ["main", "build_parser", "check_recipes"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmed-experiment",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Study files: config/experiments/*.yaml. Selection rule of every run: early "
        "stopping and best.safetensors follow train.criterion (default `normalised`: the mean "
        "over the RGB->target paths of each path's validation loss divided by its value at the "
        "first validation).",
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate the missing runs, then report")
    r.add_argument("study", help="study YAML, e.g. config/experiments/table1.yaml")
    r.add_argument("--jobs", type=int, help="runs side by side (default: the study's, 2)")
    r.add_argument("--nice", type=int, default=0, help="niceness of the runs (e.g. 10)")
    r.add_argument("--docs", help="also rewrite the study's marker block in this markdown file")
    r.add_argument(
        "--only", help="comma-separated arms to run now (e.g. the primary comparison first)"
    )
    s = sub.add_parser("status", help="list every run and how far it is")
    s.add_argument("study")
    rep = sub.add_parser(
        "report", help="write <out>/<name>.report.{md,json} from the finished runs"
    )
    rep.add_argument("study")
    rep.add_argument("--docs", help="also rewrite the study's marker block in this markdown file")
    return p


def check_recipes(study: Study) -> None:
    """A ConfigError when ``common`` sets a train value that differs from an arm's recipe: the
    run's explicit values win over its recipe, so the arm would silently not get it."""
    for arm, over in study.arms.items():
        recipe = over.get("train.recipe")
        if not isinstance(recipe, str) or recipe not in RECIPES:
            continue  # none, or unknown: the trainer names it
        beneath = {
            k.removeprefix("train."): v
            for k, v in study.common.items()
            if k.startswith("train.") and k not in over
        }
        clash = recipe_conflicts(recipe, beneath)
        if clash:
            raise ConfigError(
                f"{study.path}: arm `{arm}` names train.recipe {recipe}, but common sets "
                f"{describe_conflicts(clash)}, which would win over the recipe; leave them to "
                "the recipes or set them in the arms"
            )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mmed_core.evaluation import protocol

    try:
        study = protocol.load_study(args.study)
        if args.command == "status":
            print("\n".join(protocol.status_lines(study)))
            return 0
        failed: list[str] = []
        if args.command == "run":
            check_recipes(study)
            # Stop on SIGINT and SIGTERM alike, even when started in the background (where
            # SIGINT is ignored): the runs get SIGINT and save a resumable state.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, _interrupt)
            try:
                only = [a.strip() for a in args.only.split(",")] if args.only else None
                failed = protocol.run_study(study, jobs=args.jobs, nice=args.nice, only=only)
            except KeyboardInterrupt:
                print(
                    f"mmed-experiment: interrupted; the runs saved resumable states, rerun "
                    f"`mmed-experiment run {args.study}` to continue",
                    file=sys.stderr,
                )
                return 130
        written = protocol.sync_records(study)
        if written:
            print(f"[mmed-experiment] wrote {written} run record(s) in {study.records}")
        _, md = protocol.write_report(study)
        if args.docs:
            protocol.write_docs_block(args.docs, study.name, md)
    except MmedError as exc:
        print(f"mmed-experiment: error: {exc}", file=sys.stderr)
        return 2
    print(md)
    print(f"[mmed-experiment] wrote {study.out}/{study.name}.report.md and .json")
    if failed:
        print(f"mmed-experiment: {len(failed)} run(s) failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
