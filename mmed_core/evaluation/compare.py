# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Table 1 of several runs, with the paper's published NYUDv2 and Cityscapes numbers beside them.

    mmed-eval compare runs/synthetic-mmed runs/synthetic-enc-decs --out runs/compare

Each RUN is an evaluation's ``metrics.json``, or a folder holding one (directly or in
``eval-test/``). The paper's Tables 1-5 are in
``mmed_core/evaluation/resources/paper_tables.json``. The output also checks the paper's claims on
the given runs (ours beats enc-dec and enc-decs on depth and mIoU, extra unpaired data helps, MAE
is far behind).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmed_core.errors import ConfigError
from mmed_core.evaluation.evaluator import (
    PAPER_COLUMNS,
    PATH_TITLES,
    TABLE1_COLUMNS,
    markdown_table,
    table1_header,
)

__all__ = [
    "load_paper_tables",
    "load_run_metrics",
    "paper_row",
    "paper_values",
    "compare_runs",
    "check_claims",
    "PAPER_ORDER",
    "HIGHER_BETTER",
]

PAPER_ORDER = ("MAE", "enc-dec (U)", "enc-dec", "enc-decs", "Ours", "Ours (+extra)")
_ROW_OF_RUN = {
    "mae": "MAE",
    "enc-dec-u-label": "enc-dec (U)",
    "enc-dec-depth": "enc-dec",
    "enc-dec-label": "enc-dec",
    "enc-decs": "enc-decs",
    "mmed": "Ours",
    "mmed+extra": "Ours (+extra)",
}
# Lower is better for the errors, higher for the accuracies and mIoU.
HIGHER_BETTER = {
    "rel_img": False,
    "log10_img": False,
    "rmse_img": False,
    "rel": False,
    "log10": False,
    "rmse": False,
    "delta1": True,
    "delta2": True,
    "delta3": True,
    "miou": True,
}


def load_paper_tables() -> dict[str, Any]:
    path = Path(__file__).parent / "resources" / "paper_tables.json"
    return json.loads(path.read_text(encoding="utf-8"))


def paper_row(run_name: str) -> str | None:
    """The paper's row for one of our runs (``mmed+extra`` -> ``Ours (+extra)``)."""
    return _ROW_OF_RUN.get(run_name)


def paper_values(values: Sequence[Any]) -> list[Any]:
    """The paper's seven numbers (Rel, log10, RMSE, δ1-3, mIoU) laid out in TABLE1_COLUMNS: its
    errors are per image, so the pooled columns stay empty."""
    by = dict(zip(PAPER_COLUMNS, values))
    return [by.get(c) for c in TABLE1_COLUMNS]


def load_run_metrics(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    candidates = (
        [p]
        if p.is_file()
        else [
            p / "metrics.json",
            p / "eval-test" / "metrics.json",
            *sorted(p.glob("eval-*/metrics.json")),
        ]
    )
    for c in candidates:
        if c.is_file():
            try:
                data = json.loads(c.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{c}: not a readable metrics JSON ({exc})") from exc
            if not isinstance(data, dict) or "table1" not in data:
                raise ConfigError(f"{c}: not an mmed-eval metrics.json (no `table1` entry)")
            return data
    raise ConfigError(
        f"{p}: expected an mmed-eval metrics.json or a folder holding one (looked for "
        f"{[str(c) for c in candidates[:2]]}); run mmed-eval --checkpoint ... first"
    )


def _sort_key(m: dict[str, Any]) -> tuple[int, str]:
    row = paper_row(m["run_name"])
    return (PAPER_ORDER.index(row) if row in PAPER_ORDER else len(PAPER_ORDER), m["run_name"])


def _input_note(m: dict[str, Any]) -> str:
    """`, kinect depth input` for a run scored with ``mmed-eval --depth-input kinect``."""
    kind = m.get("depth_input") or "clean"
    return "" if kind == "clean" else f", {kind} depth input"


def compare_runs(runs: Sequence[str | Path]) -> tuple[str, dict[str, Any]]:
    """(markdown, JSON-ready dict) of Table 1 (+ per-class IoU, Table 5 and the claim checks)."""
    if not runs:
        raise ConfigError("compare needs at least one RUN (a metrics.json or a run folder)")
    metrics = sorted((load_run_metrics(r) for r in runs), key=_sort_key)
    paper = load_paper_tables()["tables"]
    t1, t3 = paper["1"]["rows"], paper["3"]["rows"]
    rows = []
    for m in metrics:
        row = paper_row(m["run_name"])
        rows.append(
            [
                row or m["run_name"],
                f"this run: `{m['run_name']}` ({m['dataset']} {m['split']}{_input_note(m)})",
                *(m["table1"].get(c) for c in TABLE1_COLUMNS),
            ]
        )
        if row:
            rows.append(["", "paper, NYUDv2 (Table 1)", *paper_values(t1[row])])
            rows.append(["", "paper, Cityscapes (Table 3)", *paper_values(t3[row])])
    header = [table1_header()[0], "Source", *table1_header()[1:]]
    parts = ["# Table 1: ours beside the paper", "", markdown_table(header, rows)]
    parts += _class_iou_section(metrics, paper)
    parts += _aux_section(metrics, paper["5"]["rows"])
    claims = check_claims(metrics)
    parts += ["", "## The paper's claims on these runs", ""]
    parts += [f"- {c['claim']}: **{c['verdict']}** ({c['detail']})" for c in claims]
    data = {
        "runs": [
            {
                "run_name": m["run_name"],
                "paper_row": paper_row(m["run_name"]),
                "dataset": m["dataset"],
                "split": m["split"],
                "depth_input": m.get("depth_input", "clean"),
                "table1": m["table1"],
            }
            for m in metrics
        ],
        "claims": claims,
    }
    return "\n".join(parts) + "\n", data


def _class_iou_section(metrics: list[dict[str, Any]], paper: dict[str, Any]) -> list[str]:
    with_iou = [m for m in metrics if "iou" in m["paths"].get("rgb->label", {})]
    if not with_iou:
        return []
    classes = list(with_iou[0]["paths"]["rgb->label"]["iou"])
    ref = next((t for t in (paper["2"], paper["4"]) if t["columns"][:-1] == classes), None)
    rows = [
        [
            f"`{m['run_name']}`",
            *(m["paths"]["rgb->label"]["iou"].get(c) for c in classes),
            m["paths"]["rgb->label"]["miou"],
        ]
        for m in with_iou
    ]
    if ref is not None:
        rows += [[f"paper: {name}", *vals] for name, vals in ref["rows"].items()]
    title = "Per-class IoU, image-to-label" + (f" (paper: {ref['title']})" if ref else "")
    return ["", f"## {title}", "", markdown_table(["Method", *classes, "mean"], rows)]


def _aux_section(metrics: list[dict[str, Any]], t5: dict[str, list]) -> list[str]:
    rows = []
    for m in metrics:
        if m["method"] != "mmed":
            continue
        for key, v in m["paths"].items():
            title = PATH_TITLES.get(tuple(key.split("->")))
            if title in t5:
                rows.append([f"`{m['run_name']}`: {title}", *(v.get(c) for c in TABLE1_COLUMNS)])
    if not rows:
        return []
    rows += [[f"paper NYUDv2: {name}", *paper_values(vals)] for name, vals in t5.items()]
    return [
        "",
        "## Auxiliary paths (Table 5)",
        "",
        markdown_table(["Path", *table1_header()[1:]], rows),
    ]


def _better(a: dict[str, Any], b: dict[str, Any], keys: Sequence[str]) -> tuple[int, int]:
    """(metrics where a beats b, metrics compared) over ``keys`` present in both."""
    wins = n = 0
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if va is None or vb is None:
            continue
        n += 1
        wins += (va > vb) if HIGHER_BETTER[k] else (va < vb)
    return wins, n


def check_claims(metrics: list[dict[str, Any]]) -> list[dict[str, str]]:
    by = {paper_row(m["run_name"]) or m["run_name"]: m["table1"] for m in metrics}
    by_run = {m["run_name"]: m["table1"] for m in metrics}
    out = []

    def claim(text: str, a: str | None, b: str | None, keys: Sequence[str], table: dict) -> None:
        if a not in table or b not in table:
            out.append(
                {"claim": text, "verdict": "not tested", "detail": f"needs runs {a} and {b}"}
            )
            return
        wins, n = _better(table[a], table[b], keys)
        verdict = "holds" if n and wins == n else ("partly" if wins else "does not hold")
        out.append(
            {"claim": text, "verdict": verdict, "detail": f"better on {wins} of {n} metrics"}
        )

    depth = TABLE1_COLUMNS[:-1]
    claim("Ours beats enc-dec on depth", "mmed", "enc-dec-depth", depth, by_run)
    claim("Ours beats enc-decs on depth", "Ours", "enc-decs", depth, by)
    claim("Ours beats enc-decs on mIoU", "Ours", "enc-decs", ("miou",), by)
    claim("Ours beats enc-dec (U) on mIoU", "Ours", "enc-dec (U)", ("miou",), by)
    claim(
        "Extra unpaired RGB helps (Ours +extra vs Ours)",
        "Ours (+extra)",
        "Ours",
        TABLE1_COLUMNS,
        by,
    )
    claim("MAE is far behind Ours", "Ours", "MAE", TABLE1_COLUMNS, by)
    return out
