# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Run every benchmark and write docs/BENCHMARKS.md (figures, not tests).

    python -m benchmarks.run [--only inference,backends,training,node,robot] [--quick]
                             [--threads N] [--out docs/BENCHMARKS.md]

Each benchmark reports its speeds as ratios against a baseline measured in the same run, plus
the median absolute time, and lists the issue-6 targets it checks. ``--quick`` uses fewer
rounds and skips torch.compile (for a smoke run; the figures are then noisier).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from mmed_core.atomic import atomic_write_text

from .common import Section, machine, table

__all__ = ["main", "BENCHMARKS"]

#: name -> (module, keyword arguments of its run() for a full and a quick run)
BENCHMARKS: dict[str, tuple[str, dict, dict]] = {
    "inference": ("benchmarks.bench_inference", {"rounds": 9}, {"rounds": 3}),
    "backends": ("benchmarks.bench_backends", {"rounds": 9}, {"rounds": 3, "with_compile": False}),
    "training": ("benchmarks.bench_training", {"rounds": 5}, {"rounds": 2}),
    "node": ("benchmarks.bench_node", {}, {"quick": True}),
    "robot": ("benchmarks.bench_node", {"robot": True}, {"robot": True, "quick": True}),
}


def render(sections: list[Section], info: dict[str, str], wall_s: float, command: str) -> str:
    targets = [t for s in sections for t in s.targets]
    verdict = {True: "met", False: "**not met**", None: "-"}
    parts = [
        "# Benchmarks\n",
        f"Written by `{command}` (benchmarks/run.py) in {wall_s / 60:.1f} min. Figures are "
        "ratios against a baseline timed in the same run (interleaved rounds), with the median "
        "absolute time; the build machine is shared, so absolute times vary from run to run and "
        "only the ratios are meant to be compared.\n",
        table(["machine", ""], [[k, v] for k, v in info.items()]) + "\n",
        "## Targets (issue 6)\n",
        table(["target", "measured", "verdict"], [[a, b, verdict[c]] for a, b, c in targets])
        + "\n",
    ]
    parts += [s.markdown() for s in sections]
    parts.append(
        "## GPU\n\n`scripts/gpu_check.sh` (one call, at most 8 minutes, no network) runs "
        "the `cuda`-marked tests and prints fp32/fp16/bf16 inference (eager, CUDA graphs, "
        "torch.compile) and training figures (`python -m benchmarks.gpu`). Its table is "
        "not part of this file: paste it here from a GPU machine.\n"
    )
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {list(BENCHMARKS)}",
    )
    ap.add_argument("--quick", action="store_true", help="fewer rounds, no torch.compile")
    ap.add_argument("--out", default="docs/BENCHMARKS.md", help="markdown file to write")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (default: torch's choice, one per core); 1 steadies the "
        "figures on a machine shared with other jobs",
    )
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"--only: unknown benchmark(s) {unknown}; valid: {list(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    info = machine()
    start = time.perf_counter()
    sections = []
    for name in names:
        module, full, quick = BENCHMARKS[name]
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            sections.append(importlib.import_module(module).run(**(quick if args.quick else full)))
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others
            traceback.print_exc()
            sections.append(Section(name, f"Failed: `{type(exc).__name__}: {exc}`"))
        print(
            f"[bench] {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True
        )
    command = "python -m benchmarks.run" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])
        if (argv or sys.argv[1:])
        else ""
    )
    text = render(sections, info, time.perf_counter() - start, command.strip())
    atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
