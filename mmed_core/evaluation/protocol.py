# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
r"""The experiment protocol behind ``mmed-experiment``: methods x seeds at one budget, then a table
of means with confidence intervals and paired, Holm-corrected tests.

    mmed-experiment run config/experiments/table1.yaml
    mmed-experiment report config/experiments/table1.yaml --docs docs/EXPERIMENTS.md

A study is a YAML file (see ``config/experiments/``)::

    name: table1                       # names the output folder and the docs marker block
    label: pilot                       # printed above the table (e.g. pilot, final)
    base_config: config/train_synthetic.yaml
    common: {data.size: [48, 48], train.epochs: 12, ...}   # overrides of every run
    seeds: [0, 1, 2]                   # run i uses train.seed = seeds[i]; tests pair by seed
    arms:                              # name -> overrides (the method and its recipe)
      mmed: {model.method: mmed}
      enc-decs: {model.method: enc-decs}
    comparisons:                       # paired tests: a vs b on the listed metrics
      - {a: mmed, b: enc-decs, metrics: [rel_img, miou], claim: "Ours beats enc-decs"}
    out: runs/experiments/table1
    records: results/experiments/table1   # optional: per-run JSON records, to commit

Every run is one ``mmed-train`` out_dir (``<out>/runs/<arm>/seed<k>``) trained in a subprocess
with one torch thread and then scored by ``mmed-eval`` on the test split; two run side by side by
default. A run whose ``summary.json`` says it finished and whose ``eval-test/metrics.json`` exists
is skipped; an interrupted one is continued with ``--resume`` (bit-identical), so the command can
be stopped and restarted at any time. With ``records``, each finished run also leaves
``<records>/<arm>/seed<k>.json`` (its test metrics, overrides, steps, seconds and the commits it
was trained with); committed, the records carry a study across machines and sessions: a run
with a record made with the same overrides counts as done, and the report reads it when the
run folder is gone. The report pins the commit, torch/numpy/python versions,
the seeds and the budget; a comparison's claim *holds* when ``a`` is better than ``b`` on every
listed metric with Holm-corrected p < alpha, is *contradicted* when ``b`` is significantly better
on one, and *not shown* otherwise.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import dataclasses
import datetime
import hashlib
import importlib
import io
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy
import torch
import yaml

from mmed_core.atomic import atomic_write_json, atomic_write_text
from mmed_core.errors import ConfigError
from mmed_core.evaluation.compare import HIGHER_BETTER
from mmed_core.evaluation.evaluator import HEADERS, TABLE1_COLUMNS, fmt, markdown_table
from mmed_core.evaluation.statistics import holm, mean_ci, paired_t, pairs_for_power

__all__ = [
    "Study",
    "Comparison",
    "load_study",
    "plan_runs",
    "run_study",
    "collect",
    "report",
    "write_docs_block",
    "RunSpec",
]

_KEYS = {
    "name",
    "label",
    "description",
    "base_config",
    "common",
    "seeds",
    "arms",
    "comparisons",
    "out",
    "split",
    "alpha",
    "jobs",
    "paths",
    "records",
}


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A planned paired comparison of arm ``a`` against arm ``b`` on ``metrics``."""

    a: str
    b: str
    metrics: tuple[str, ...]
    claim: str


@dataclasses.dataclass
class Study:
    """One study file (e.g. config/experiments/table1.yaml): arms x seeds at one budget."""

    name: str
    path: Path
    base_config: Path | None
    common: dict[str, Any]
    seeds: list[int]
    arms: dict[str, dict[str, Any]]
    comparisons: list[Comparison]
    out: Path
    label: str = ""
    description: str = ""
    split: str = "test"
    alpha: float = 0.05
    jobs: int = 2
    # None: one row per arm (Table 1: depth from rgb->depth, mIoU from rgb->label); else one row
    # per arm and conversion path, named `arm:src->dst` (Table 5).
    paths: list[str] | None = None
    # Folder of per-run records (results/experiments/NAME): one small JSON per finished run with
    # its metrics, budget and provenance, meant to be committed, so a study carries over to a
    # fresh clone; None: the runs folder alone.
    records: Path | None = None

    def rows(self) -> list[str]:
        if self.paths is None:
            return list(self.arms)
        return [f"{arm}:{p}" for arm in self.arms for p in self.paths]


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of a study: an arm, a seed, its out_dir and its overrides."""

    arm: str
    seed: int
    out_dir: Path
    overrides: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.arm}/seed{self.seed}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _override(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"  # JSON is YAML: the trainer parses it back exactly


def load_study(path: str | Path) -> Study:
    """Read and check a study YAML (every error names the file and the key)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"study {p} not found (expected a YAML file in config/experiments/)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping with keys {sorted(_KEYS)}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {unknown}; valid keys: {sorted(_KEYS)}")
    for key in ("name", "seeds", "arms"):
        if key not in raw:
            raise ConfigError(f"{p}: `{key}` is required")
    name = str(raw["name"])
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{p}: name {name!r} must be letters, digits, _ . - only")
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{p}: seeds must be a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{p}: seeds repeat: {seeds}")
    arms = raw["arms"]
    if not isinstance(arms, dict) or not arms:
        raise ConfigError(f"{p}: arms must be a mapping name -> overrides, got {arms!r}")
    for arm, over in arms.items():
        if over is not None and not isinstance(over, dict):
            raise ConfigError(f"{p}: arm `{arm}` must map dotted keys to values, got {over!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", str(arm)):
            raise ConfigError(f"{p}: arm name {arm!r} must be letters, digits, _ . + - only")
    common = raw.get("common") or {}
    if not isinstance(common, dict):
        raise ConfigError(f"{p}: common must map dotted keys to values, got {common!r}")
    paths = raw.get("paths")
    if paths is not None and (
        not isinstance(paths, list) or not all(re.fullmatch(r"\w+->\w+", str(x)) for x in paths)
    ):
        raise ConfigError(
            f"{p}: paths must be a list like [rgb->depth, label->depth], got {paths!r}"
        )
    rows = list(arms) if paths is None else [f"{a}:{x}" for a in arms for x in paths]
    comps = []
    for i, c in enumerate(raw.get("comparisons") or []):
        if not isinstance(c, dict) or not {"a", "b"} <= set(c):
            raise ConfigError(f"{p}: comparisons[{i}] needs `a` and `b` (arm names), got {c!r}")
        for side in ("a", "b"):
            if c[side] not in rows:
                raise ConfigError(
                    f"{p}: comparisons[{i}].{side} = {c[side]!r} is not an arm "
                    f"(or arm:path when the study lists paths): {rows}"
                )
        metrics = tuple(c.get("metrics") or ("rel_img", "miou"))
        bad = [m for m in metrics if m not in HIGHER_BETTER]
        if bad:
            raise ConfigError(
                f"{p}: comparisons[{i}] names unknown metric(s) {bad}; "
                f"known: {list(HIGHER_BETTER)}"
            )
        comps.append(
            Comparison(c["a"], c["b"], metrics, str(c.get("claim") or f"{c['a']} beats {c['b']}"))
        )
    base = raw.get("base_config")
    return Study(
        name=name,
        path=p,
        base_config=Path(base) if base else None,
        common=dict(common),
        seeds=list(seeds),
        arms={str(k): dict(v or {}) for k, v in arms.items()},
        comparisons=comps,
        out=Path(raw.get("out") or f"runs/experiments/{name}"),
        label=str(raw.get("label") or ""),
        description=str(raw.get("description") or "").strip(),
        split=str(raw.get("split") or "test"),
        alpha=float(raw.get("alpha", 0.05)),
        jobs=int(raw.get("jobs", 2)),
        paths=[str(x) for x in paths] if paths is not None else None,
        records=Path(raw["records"]) if raw.get("records") else None,
    )


def plan_runs(study: Study) -> list[RunSpec]:
    """Every (arm, seed) run, seed-major so that a partial study has whole seeds."""
    specs = []
    for seed in study.seeds:
        for arm, over in study.arms.items():
            out = study.out / "runs" / arm / f"seed{seed}"
            items = {
                **study.common,
                **over,
                "train.seed": seed,
                "train.out_dir": str(out),
                "train.threads": 1,
                "train.progress": False,
                "train.tensorboard": False,
            }
            specs.append(RunSpec(arm, seed, out, tuple(_override(k, v) for k, v in items.items())))
    return specs


def _summary(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def trained(spec: RunSpec) -> bool:
    s = _summary(spec.out_dir)
    # diverged: the loss became NaN; its best checkpoint before that is evaluated and the report
    # counts the run as diverged (rerunning would diverge again: CPU training is deterministic)
    return s is not None and s.get("status") in ("finished", "early_stopped", "diverged")


def evaluated(spec: RunSpec, split: str) -> bool:
    return (spec.out_dir / f"eval-{split}" / "metrics.json").is_file()


RECORD_FORMAT = "mmed-experiment-run/1"


def record_path(study: Study, spec: RunSpec) -> Path | None:
    """Where the run's record lives (``<records>/<arm>/seed<k>.json``), None without records."""
    return None if study.records is None else study.records / spec.arm / f"seed{spec.seed}.json"


def load_record(study: Study, spec: RunSpec) -> dict[str, Any] | None:
    """The run's record if it exists and was made with exactly this run's overrides and split
    (a record of another budget is stale: it does not count, ``status`` says so)."""
    p = record_path(study, spec)
    if p is None:
        return None
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if (
        not isinstance(rec, dict)
        or rec.get("format") != RECORD_FORMAT
        or rec.get("overrides") != list(spec.overrides)
        or rec.get("split") != study.split
    ):
        return None
    return rec


def write_record(study: Study, spec: RunSpec) -> Path | None:
    """Write the record of a trained and evaluated run (atomically); None without records."""
    p = record_path(study, spec)
    if p is None:
        return None
    metrics = json.loads(
        (spec.out_dir / f"eval-{study.split}" / "metrics.json").read_text(encoding="utf-8")
    )
    s = _summary(spec.out_dir) or {}
    rec = {
        "format": RECORD_FORMAT,
        "study": study.name,
        "arm": spec.arm,
        "seed": spec.seed,
        "split": study.split,
        "overrides": list(spec.overrides),
        "summary": {k: s.get(k) for k in ("status", "global_step", "epochs_done", "best_epoch")},
        "seconds": _train_seconds(spec.out_dir),
        "starts": _starts(spec),
        "metrics": {k: metrics.get(k) for k in ("num_samples", "epoch", "table1", "paths")},
    }
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(p, rec)
    return p


def sync_records(study: Study) -> int:
    """Write the missing records of finished runs; the number written."""
    n = 0
    for spec in plan_runs(study):
        if (
            study.records is not None
            and trained(spec)
            and evaluated(spec, study.split)
            and load_record(study, spec) is None
        ):
            write_record(study, spec)
            n += 1
    return n


def done(study: Study, spec: RunSpec) -> bool:
    """Trained and evaluated here, or recorded (e.g. in a commit from another machine)."""
    return (trained(spec) and evaluated(spec, study.split)) or load_record(study, spec) is not None


def _starts(spec: RunSpec) -> list[dict[str, Any]]:
    try:
        return json.loads(Path(f"{spec.out_dir}.starts.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []


def _record_start(spec: RunSpec) -> None:
    """Append this code's commit and torch version to ``<out_dir>.starts.json``."""
    starts = _starts(spec) + [
        {
            "commit": _git("rev-parse", "HEAD"),
            "dirty": _dirty(),
            "torch": torch.__version__,
            "at": _now().isoformat(timespec="seconds"),
        }
    ]
    atomic_write_json(Path(f"{spec.out_dir}.starts.json"), starts)


def _commands(study: Study, spec: RunSpec) -> list[list[str]]:
    py = sys.executable
    cmds = []
    if not trained(spec):
        cmd = [py, "-m", "mmed_core.cli.train"]
        if study.base_config is not None:
            cmd += ["--config", str(study.base_config)]
        cmd += list(spec.overrides)
        if (spec.out_dir / "state.json").is_file():
            cmd.append("--resume")
        cmds.append(cmd)
    if not evaluated(spec, study.split):
        cmds.append(
            [
                py,
                "-m",
                "mmed_core.cli.eval",
                "--checkpoint",
                str(spec.out_dir / "best.safetensors"),
                "--split",
                study.split,
                "--figure-samples",
                "0",
            ]
        )
    return cmds


def _call_in_process(cmd: list[str]) -> int:
    """Run ``python -m MODULE ARGS`` as ``MODULE.main(ARGS)`` in this interpreter (quiet; for
    tests); its exit code."""
    module = importlib.import_module(cmd[2])
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(module.main(cmd[3:]) or 0)
    except SystemExit as exc:
        return int(exc.code or 0)


def run_study(
    study: Study,
    *,
    jobs: int | None = None,
    nice: int = 0,
    log: Callable[[str], None] = print,
    in_process: bool = False,
    only: Sequence[str] | None = None,
) -> list[str]:
    """Train and evaluate every missing run, ``jobs`` at a time; return the failed runs' names.

    Each subprocess gets one torch thread (OMP/MKL_NUM_THREADS=1, ``train.threads=1``); its
    output goes to ``<out_dir>.log``. Interrupting the command interrupts the runs, which save a
    resumable state; running it again continues them. ``only``: run just these arms (e.g. the
    primary comparison first)."""
    if only:
        unknown = sorted(set(only) - set(study.arms))
        if unknown:
            raise ConfigError(f"--only names {unknown}; the study's arms: {list(study.arms)}")
    specs = [s for s in plan_runs(study) if not only or s.arm in only]
    sync_records(study)
    todo = [s for s in specs if not done(study, s)]
    log(
        f"[mmed-experiment] {study.name}: {len(specs) - len(todo)} of {len(specs)} runs done, "
        f"{len(todo)} to go, {jobs or study.jobs} at a time"
    )
    with _study_lock(study.out):
        return _run_specs(study, todo, jobs, nice, log, in_process)


@contextlib.contextmanager
def _study_lock(out: Path) -> Iterator[None]:
    """One runner per out folder: two would train the same run twice at once."""
    out.mkdir(parents=True, exist_ok=True)
    lock = out / ".mmed-experiment.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(lock.read_text(encoding="utf-8").strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and _alive(pid):
            raise ConfigError(
                f"{out} is being run by another mmed-experiment (pid {pid}); wait for it or stop "
                f"it (it saves resumable states), or remove {lock} if that process is gone"
            ) from None
        lock.unlink(missing_ok=True)  # stale: its runner died
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_specs(
    study: Study,
    todo: list[RunSpec],
    jobs: int | None,
    nice: int,
    log: Callable[[str], None],
    in_process: bool,
) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    failed: list[str] = []
    procs: set[subprocess.Popen] = set()
    lock = threading.Lock()
    stopping = threading.Event()

    def one(spec: RunSpec) -> None:
        spec.out_dir.parent.mkdir(parents=True, exist_ok=True)
        if not trained(spec):
            _record_start(spec)
        with open(f"{spec.out_dir}.log", "a", encoding="utf-8") as logf:
            for cmd in _commands(study, spec):
                if stopping.is_set():
                    return
                logf.write(f"$ {' '.join(cmd)}\n")
                logf.flush()
                if in_process:  # tests: same code path without starting interpreters
                    rc = _call_in_process(cmd)
                else:
                    proc = subprocess.Popen(
                        cmd,
                        stdout=logf,
                        stderr=subprocess.STDOUT,
                        env=env,
                        preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509
                    )
                    with lock:
                        procs.add(proc)
                    rc = proc.wait()
                    with lock:
                        procs.discard(proc)
                if rc != 0 and stopping.is_set():
                    return  # interrupted with the study: resumable, not a failure
                if rc != 0 and cmd[2] == "mmed_core.cli.train" and trained(spec):
                    log(f"[mmed-experiment] {spec.name}: diverged; its best checkpoint is scored")
                    continue
                if rc != 0:
                    with lock:
                        failed.append(spec.name)
                    log(f"[mmed-experiment] {spec.name}: exit {rc}; see {spec.out_dir}.log")
                    return
        write_record(study, spec)
        log(f"[mmed-experiment] {_now():%H:%M:%S} done {spec.name}")

    if in_process:
        for spec in todo:
            one(spec)
        return failed
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs or study.jobs))
    try:
        futures = [pool.submit(one, s) for s in todo]
        for f in futures:
            f.result()
    except KeyboardInterrupt:
        stopping.set()
        with lock:
            for proc in procs:
                proc.send_signal(signal.SIGINT)  # the trainer saves a resumable state, exits
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return failed


# ---------------------------------------------------------------------------- results
def _train_seconds(out: Path) -> float | None:
    """Seconds spent in training steps over every (resumed) invocation, from ``log.csv``."""
    try:
        with open(out / "log.csv", encoding="utf-8") as f:
            return sum(float(r["epoch_seconds"]) for r in csv.DictReader(f))
    except (OSError, KeyError, ValueError):
        return None


def run_result(study: Study, spec: RunSpec) -> dict[str, Any] | None:
    """A finished run's metrics, training facts and starts: from its run folder when it is
    here, else from its record; None when the run is not done."""
    if trained(spec) and evaluated(spec, study.split):
        metrics = json.loads(
            (spec.out_dir / f"eval-{study.split}" / "metrics.json").read_text(encoding="utf-8")
        )
        s = _summary(spec.out_dir) or {}
        seconds, starts = _train_seconds(spec.out_dir), _starts(spec)
    else:
        rec = load_record(study, spec)
        if rec is None:
            return None
        metrics, s, seconds, starts = rec["metrics"], rec["summary"], rec["seconds"], rec["starts"]
    return {
        "metrics": metrics,
        "starts": starts,
        "info": {
            "num_samples": metrics.get("num_samples"),
            "steps": s.get("global_step"),
            "epochs": s.get("epochs_done"),
            "best_epoch": s.get("best_epoch"),
            "status": s.get("status"),
            "seconds": seconds,
        },
    }


def collect(study: Study) -> dict[str, dict[int, dict[str, Any]]]:
    """{row: {seed: {"table1": metrics, "steps": ..., "seconds": ..., "best_epoch": ...}}} of
    the finished and evaluated runs (run folders, else records); a row is an arm, or
    ``arm:path`` when the study lists paths (then "table1" holds that path's metrics)."""
    out: dict[str, dict[int, dict[str, Any]]] = {row: {} for row in study.rows()}
    for spec in plan_runs(study):
        res = run_result(study, spec)
        if res is None:
            continue
        metrics, info = res["metrics"], res["info"]
        if study.paths is None:
            out[spec.arm][spec.seed] = {"table1": metrics["table1"], **info}
        else:
            for path in study.paths:
                if path in (metrics.get("paths") or {}):
                    out[f"{spec.arm}:{path}"][spec.seed] = {
                        "table1": metrics["paths"][path],
                        **info,
                    }
    return out


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _dirty() -> bool:
    """Uncommitted changes to tracked code or configs; the docs and records this command
    itself rewrites do not count (a report written block by block would call itself dirty)."""
    return bool(
        _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!results")
    )


def provenance(study: Study) -> dict[str, Any]:
    """What makes the runs reproducible: code, library versions, machine, study file."""
    trained_with: dict[str, list[str]] = {}  # commit/torch each run was (re)started with
    for spec in plan_runs(study):
        res = run_result(study, spec)
        for start in res["starts"] if res else _starts(spec):
            key = f"{start['commit'][:12]} torch {start['torch']}"
            trained_with.setdefault(key, []).append(spec.name)
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": _dirty(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "study": str(study.path),
        "study_sha256": hashlib.sha256(study.path.read_bytes()).hexdigest()[:12],
        "seeds": study.seeds,
        "trained_with": {k: sorted(set(v)) for k, v in trained_with.items()},
        "written": _now().strftime("%Y-%m-%d %H:%M UTC"),
    }


def _better(metric: str, diff: float) -> bool:
    return diff > 0 if HIGHER_BETTER[metric] else diff < 0


def report(study: Study, results: dict[str, dict[int, dict[str, Any]]] | None = None) -> dict:
    """The study's JSON report: per-arm means and CIs, paired tests, claims, provenance."""
    results = collect(study) if results is None else results
    arms: dict[str, Any] = {}
    for arm, by_seed in results.items():
        cols = {}
        for c in TABLE1_COLUMNS:
            ci = mean_ci([r["table1"].get(c) for r in by_seed.values()])
            if ci.n:
                cols[c] = dataclasses.asdict(ci)
        steps = sorted({r["steps"] for r in by_seed.values() if r.get("steps") is not None})
        arms[arm] = {
            "seeds": sorted(by_seed),
            "metrics": cols,
            "steps": steps,
            "best_epochs": [by_seed[s].get("best_epoch") for s in sorted(by_seed)],
            "diverged": sorted(s for s, r in by_seed.items() if r.get("status") == "diverged"),
            "train_seconds": mean_ci([r.get("seconds") for r in by_seed.values()]).mean,
        }
    tests: list[dict[str, Any]] = []
    for i, comp in enumerate(study.comparisons):
        a, b = results.get(comp.a, {}), results.get(comp.b, {})
        seeds = sorted(set(a) & set(b))
        for m in comp.metrics:
            pairs = [
                (a[s]["table1"].get(m), b[s]["table1"].get(m))
                for s in seeds
                if a[s]["table1"].get(m) is not None and b[s]["table1"].get(m) is not None
            ]
            pt = paired_t([x for x, _ in pairs], [y for _, y in pairs]) if pairs else None
            tests.append(
                {
                    "comparison": i,
                    "a": comp.a,
                    "b": comp.b,
                    "metric": m,
                    "claim": comp.claim,
                    "pairs": len(pairs),
                    "diff": dataclasses.asdict(pt.diff) if pt else None,
                    "t": pt.t if pt else None,
                    "p": pt.p if pt else float("nan"),
                    # seeds a study needs to detect this difference (if real) 80 % of the time
                    "pairs_for_80": pairs_for_power(pt.diff.mean, pt.diff.sd, study.alpha)
                    if pt and pt.diff.n >= 2
                    else None,
                }
            )
    for test, p_adj in zip(tests, holm([t["p"] for t in tests])):
        test["p_holm"] = p_adj
    claims = []
    for i, comp in enumerate(study.comparisons):
        mine = [t for t in tests if t["comparison"] == i]
        if any(t["pairs"] < 2 for t in mine):
            verdict = "not tested"
        else:
            sig = [t for t in mine if t["p_holm"] < study.alpha]
            a_wins = [t for t in sig if _better(t["metric"], t["diff"]["mean"])]
            b_wins = [t for t in sig if not _better(t["metric"], t["diff"]["mean"])]
            verdict = (
                "holds" if len(a_wins) == len(mine) else "contradicted" if b_wins else "not shown"
            )
        claims.append({"claim": comp.claim, "a": comp.a, "b": comp.b, "verdict": verdict})
    return {
        "format": "mmed-experiment-report/1",
        "name": study.name,
        "label": study.label,
        "description": study.description,
        "planned": {"arms": list(study.arms), "seeds": study.seeds},
        "budget": {"common": study.common, "arms": study.arms},
        "alpha": study.alpha,
        "arms": arms,
        "tests": tests,
        "claims": claims,
        "provenance": provenance(study),
    }


def _ci_cell(m: dict[str, Any] | None) -> str:
    if not m or m["n"] == 0:
        return "-"
    if m["n"] < 2:
        return f"{fmt(m['mean'])} (n=1)"
    return f"{fmt(m['mean'])} ± {fmt((m['high'] - m['low']) / 2)}"


def _p(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}" if v >= 0.001 else "<0.001"


def markdown_report(rep: dict[str, Any]) -> str:
    """The report as markdown: means ± 95 % CI half-width, paired tests, claims, provenance."""
    prov = rep["provenance"]
    label = f" ({rep['label']})" if rep["label"] else ""
    lines = [f"### Study `{rep['name']}`{label}", ""]
    if rep["description"]:
        lines += [rep["description"], ""]
    done = {a: len(v["seeds"]) for a, v in rep["arms"].items()}
    lines += [
        f"Seeds planned: {rep['planned']['seeds']}; finished runs per arm: "
        + ", ".join(f"`{a}` {n}" for a, n in done.items())
        + ". Cells: mean ± half-width of the 95 % t confidence interval over seeds; `train s`: "
        "mean seconds a run spent in training steps (machine shared, indicative only). "
        "Depth errors per image (the paper's definition) and pooled over all test pixels.",
        "",
    ]
    diverged = {a: v["diverged"] for a, v in rep["arms"].items() if v.get("diverged")}
    if diverged:
        lines += [
            "Diverged runs (the loss became NaN; scored with their best checkpoint before it, "
            "by the same selection rule, and kept in the means and pairs): "
            + "; ".join(f"`{a}` seed(s) {', '.join(map(str, d))}" for a, d in diverged.items())
            + ".",
            "",
        ]
    cols = [c for c in TABLE1_COLUMNS if any(c in v["metrics"] for v in rep["arms"].values())]
    rows = [
        [
            f"`{arm}`",
            str(len(v["seeds"]))
            + (f" ({len(v['diverged'])} diverged)" if v.get("diverged") else ""),
            ", ".join(map(str, v["steps"])) or "-",
            "-" if math.isnan(v["train_seconds"]) else f"{v['train_seconds']:.0f}",
        ]
        + [_ci_cell(v["metrics"].get(c)) for c in cols]
        for arm, v in rep["arms"].items()
    ]
    header = ["Arm", "seeds", "steps", "train s", *(HEADERS[c] for c in cols)]
    lines += [markdown_table(header, rows), ""]
    if rep["tests"]:
        trows = [
            [
                f"`{t['a']}` - `{t['b']}`",
                HEADERS[t["metric"]],
                str(t["pairs"]),
                _ci_cell(t["diff"]) if t["diff"] else "-",
                _p(t["p"]),
                _p(t["p_holm"]),
                "-" if t.get("pairs_for_80") is None else str(t["pairs_for_80"]),
            ]
            for t in rep["tests"]
        ]
        lines += [
            f"Paired t-tests by seed (a - b; Holm-corrected over all {len(rep['tests'])} tests, "
            f"alpha {rep['alpha']}). `seeds for 80 %`: pairs a study would need to detect the "
            "observed mean difference, if it is real, with 80 % power (uncorrected alpha; '-': "
            "over 1000 or no difference):",
            "",
            markdown_table(
                ["a - b", "metric", "pairs", "mean diff ± CI", "p", "p (Holm)", "seeds for 80 %"],
                trows,
            ),
            "",
        ]
        lines += ["Claims:", ""]
        lines += [
            f"- {c['claim']} (`{c['a']}` vs `{c['b']}`): **{c['verdict']}**" for c in rep["claims"]
        ]
        lines.append("")
    budget = ", ".join(f"`{_override(k, v)}`" for k, v in rep["budget"]["common"].items())
    arms = "; ".join(
        f"`{a}`: " + (", ".join(f"`{_override(k, v)}`" for k, v in o.items()) or "(defaults)")
        for a, o in rep["budget"]["arms"].items()
    )
    lines += [
        f"Budget (every run): {budget}. Arms: {arms}.",
        "",
        f"Pinned: commit `{prov['commit'][:12]}`{' (dirty tree)' if prov['dirty'] else ''}, "
        f"torch {prov['torch']}, numpy {prov['numpy']}, Python {prov['python']}, seeds "
        f"{prov['seeds']}, study `{prov['study']}` (sha256 {prov['study_sha256']}); runs "
        "trained with: "
        + ("; ".join(f"{k} ({len(v)} runs)" for k, v in prov["trained_with"].items()) or "-")
        + f"; machine: "
        f"{prov['machine']}; written {prov['written']} by `mmed-experiment report "
        f"{prov['study']}`.",
    ]
    return "\n".join(lines) + "\n"


def write_report(study: Study) -> tuple[dict[str, Any], str]:
    """Write ``<out>/<name>.report.json`` and ``.md`` (studies may share an out folder)."""
    rep = report(study)
    md = markdown_report(rep)
    atomic_write_json(study.out / f"{study.name}.report.json", rep)
    atomic_write_text(study.out / f"{study.name}.report.md", md)
    return rep, md


def write_docs_block(doc: str | Path, name: str, markdown: str) -> None:
    """Replace the block between ``<!-- mmed-experiment:NAME begin -->`` and
    ``<!-- mmed-experiment:NAME end -->`` in ``doc`` with ``markdown``."""
    p = Path(doc)
    begin, end = f"<!-- mmed-experiment:{name} begin -->", f"<!-- mmed-experiment:{name} end -->"
    text = p.read_text(encoding="utf-8")
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ConfigError(
            f"{p}: expected one marker pair `{begin}` ... `{end}` for study `{name}`; add it "
            "where the generated table belongs"
        )
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    note = "<!-- generated by mmed-experiment: edits inside this block are overwritten -->"
    atomic_write_text(p, f"{head}{begin}\n{note}\n\n{markdown}\n{end}{tail}")


def _run_state(study: Study, spec: RunSpec) -> str:
    recorded = load_record(study, spec) is not None
    rp = record_path(study, spec)
    if trained(spec) and evaluated(spec, study.split):
        return "evaluated" + (", recorded" if recorded else "")
    if recorded:
        return "recorded (its run folder is not here)"
    stale = f" (record {rp} is stale: other overrides or split)" if rp and rp.is_file() else ""
    s = _summary(spec.out_dir)
    if trained(spec):
        return "trained" + stale
    if s:
        return f"partial (step {s.get('global_step')})" + stale
    if (spec.out_dir / "state.json").is_file():
        return "started" + stale
    return "to do" + stale


def status_lines(study: Study) -> list[str]:
    return [f"{spec.name:30s} {_run_state(study, spec)}" for spec in plan_runs(study)]


def studies_in(folder: str | Path) -> Sequence[Path]:
    return sorted(Path(folder).glob("*.yaml"))
