# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The experiment protocol: statistics against known values, and ``mmed-experiment`` end to end
on a tiny study (tiny preset, 16x16, one epoch, in process)."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

from mmed_core.cli.experiment import main as experiment_main
from mmed_core.errors import ConfigError
from mmed_core.evaluation import protocol
from mmed_core.evaluation.statistics import holm, mean_ci, paired_t, pairs_for_power


def test_mean_ci_known_values():
    ci = mean_ci([1, 2, 3, 4, 5])
    # t(0.975, 4) = 2.776445; sd = sqrt(2.5); half-width = 2.776445 * sqrt(2.5) / sqrt(5)
    assert ci.mean == 3 and ci.sd == pytest.approx(math.sqrt(2.5))
    assert ci.high - 3 == pytest.approx(2.776445 * math.sqrt(0.5), rel=1e-5)
    one = mean_ci([2.0, None, float("nan")])
    assert one.n == 1 and one.mean == 2.0 and math.isnan(one.low)


def test_paired_t_known_values():
    t = paired_t([1, 2, 3, 4], [2, 2, 4, 5])  # differences -1, 0, -1, -1
    assert t.diff.mean == -0.75 and t.t == pytest.approx(-3.0)
    assert t.p == pytest.approx(0.0576689, rel=1e-5)  # scipy.stats.ttest_rel
    same = paired_t([1, 2], [1, 2])
    assert same.p == 1.0 and paired_t([1, 2], [0, 1]).p == 0.0  # constant difference
    assert math.isnan(paired_t([1], [2]).p)


def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    h = holm([float("nan"), 0.02])
    assert math.isnan(h[0]) and h[1] == pytest.approx(0.02)


def test_pairs_for_power_known_values():
    # G*Power, paired t-test, two-sided alpha 0.05, power 0.8: d = 1 -> 10 pairs, d = 0.5 -> 34
    assert pairs_for_power(1.0, 1.0) == 10 and pairs_for_power(-0.5, 1.0) == 34
    assert pairs_for_power(0.0, 1.0) is None and pairs_for_power(0.001, 1.0) is None


def _study(tmp_path, **extra):
    out = tmp_path / "exp"
    text = {
        "name": "tiny",
        "label": "test",
        "seeds": [0, 1],
        "common": {
            "model.preset": "tiny",
            "data.size": [16, 16],
            "data.options": {
                "n_train": 8, "n_val": 4, "n_test": 4, "n_extra": 8, "seed": 0,
                "progress": False,
            },
            "train.batch_size": 4,
            "train.epochs": 1,
            "train.lr": 0.01,
        },
        "arms": {"mmed": {"model.method": "mmed"}, "enc-decs": {"model.method": "enc-decs"}},
        "comparisons": [
            {"a": "mmed", "b": "enc-decs", "metrics": ["rel_img", "miou"], "claim": "Ours wins"}
        ],
        "out": str(out),
        **extra,
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(text))
    return path, out


def test_experiment_runs_resumes_and_reports(tmp_path, capsys):
    path, out = _study(tmp_path)
    study = protocol.load_study(path)
    specs = protocol.plan_runs(study)
    assert [s.name for s in specs] == [
        "mmed/seed0",
        "enc-decs/seed0",
        "mmed/seed1",
        "enc-decs/seed1",
    ]
    assert "train.seed=1" in specs[2].overrides
    # run one seed's worth, as if interrupted, then the rest
    assert protocol.run_study(study, in_process=True, log=lambda s: None) == []
    rep = protocol.report(study)
    assert rep["arms"]["mmed"]["seeds"] == [0, 1] and rep["arms"]["mmed"]["steps"] == [2]
    assert {t["metric"] for t in rep["tests"]} == {"rel_img", "miou"}
    assert all(t["pairs"] == 2 and 0 <= t["p_holm"] <= 1 for t in rep["tests"])
    assert rep["claims"][0]["verdict"] in ("holds", "not shown", "contradicted")
    assert rep["provenance"]["torch"] and rep["provenance"]["seeds"] == [0, 1]
    # finished runs are skipped; a second call trains nothing
    mtime = (out / "runs" / "mmed" / "seed0" / "summary.json").stat().st_mtime
    assert protocol.run_study(study, in_process=True, log=lambda s: None) == []
    assert (out / "runs" / "mmed" / "seed0" / "summary.json").stat().st_mtime == mtime
    # the report rewrites its marker block in a document
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n<!-- mmed-experiment:tiny begin -->\nold\n"
        "<!-- mmed-experiment:tiny end -->\nend\n"
    )
    assert experiment_main(["report", str(path), "--docs", str(doc)]) == 0
    text = doc.read_text()
    assert "old" not in text and "### Study `tiny` (test)" in text and text.endswith("end\n")
    assert "Rel (per img)" in text and "p (Holm)" in text
    assert (out / "tiny.report.json").is_file() and "Pinned: commit" in capsys.readouterr().out
    # a study of conversion paths (Table 5) reads the same runs, one row per arm and path
    raw = json.loads(path.read_text())
    raw.update(
        name="paths",
        paths=["rgb->depth", "label->depth"],
        comparisons=[{"a": "mmed:label->depth", "b": "mmed:rgb->depth", "metrics": ["rel_img"]}],
    )
    path.write_text(json.dumps(raw))
    rep5 = protocol.report(protocol.load_study(path))
    assert set(rep5["arms"]) == {"mmed:rgb->depth", "mmed:label->depth", "enc-decs:rgb->depth",
                                 "enc-decs:label->depth"}  # fmt: skip
    assert rep5["arms"]["mmed:label->depth"]["seeds"] == [0, 1]
    assert rep5["arms"]["enc-decs:label->depth"]["seeds"] == []  # enc-decs has no such path
    assert rep5["tests"][0]["pairs"] == 2


def test_experiment_resumes_an_interrupted_run(tmp_path):
    path, out = _study(tmp_path, seeds=[0], arms={"mmed": {}}, comparisons=[])
    raw = json.loads(path.read_text())
    raw["common"]["train.epochs"] = 2
    path.write_text(json.dumps(raw))
    study = protocol.load_study(path)
    spec = protocol.plan_runs(study)[0]
    # a run killed after its first epoch: a resumable state, no summary
    cmd = ["python", "-m", "mmed_core.cli.train", *spec.overrides, "train.epochs=1"]
    assert protocol._call_in_process(cmd) == 0
    (spec.out_dir / "summary.json").unlink()
    assert protocol.status_lines(study) == [f"{'mmed/seed0':30s} started"]
    assert protocol.run_study(study, in_process=True, log=lambda s: None) == []
    summary = json.loads((spec.out_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["global_step"] == 4
    assert "--resume" in (out / "runs" / "mmed" / "seed0.log").read_text()
    with pytest.raises(ConfigError, match="marker"):
        protocol.write_docs_block(path, "tiny", "x")


def test_records_carry_a_study_to_a_fresh_clone(tmp_path, capsys):
    """With `records:`, every finished run leaves a small JSON record; on a machine without the
    run folders the records count as done and give the same report; a record made with other
    overrides is stale and its run trains again."""
    records = tmp_path / "records"
    path, out = _study(tmp_path, seeds=[0, 1], records=str(records))
    study = protocol.load_study(path)
    assert protocol.run_study(study, in_process=True, log=lambda s: None) == []
    files = sorted(p.relative_to(records).as_posix() for p in records.rglob("*.json"))
    assert files == ["enc-decs/seed0.json", "enc-decs/seed1.json", "mmed/seed0.json",
                     "mmed/seed1.json"]  # fmt: skip
    rec = json.loads((records / "mmed" / "seed0.json").read_text())
    assert rec["summary"]["status"] == "finished" and rec["starts"][0]["torch"]
    assert "rel_img" in rec["metrics"]["table1"] and len(json.dumps(rec)) < 20_000
    before = protocol.report(study)
    # a fresh clone: the records only
    for d in (out / "runs").iterdir():
        if d.is_dir():
            for f in sorted(d.rglob("*"), reverse=True):
                f.unlink() if f.is_file() else f.rmdir()
    assert protocol.status_lines(study)[0].endswith("recorded (its run folder is not here)")
    assert protocol.run_study(study, in_process=True, log=lambda s: None) == []
    assert not (out / "runs" / "mmed" / "seed0" / "summary.json").exists()  # nothing retrained
    after = protocol.report(study)
    assert after["arms"] == before["arms"] and after["tests"] == before["tests"]
    assert after["provenance"]["trained_with"] == before["provenance"]["trained_with"]
    # another budget: the records are stale, the runs train again and replace them
    raw = json.loads(path.read_text())
    raw["common"]["train.lr"] = 0.02
    path.write_text(json.dumps(raw))
    study2 = protocol.load_study(path)
    assert "stale" in protocol.status_lines(study2)[0]
    assert protocol.run_study(study2, in_process=True, log=lambda s: None, only=["mmed"]) == []
    assert protocol.load_record(study2, protocol.plan_runs(study2)[0]) is not None
    # `report` writes the records of finished runs that lack one
    (records / "mmed" / "seed1.json").unlink()
    assert experiment_main(["report", str(path)]) == 0
    assert "wrote 1 run record(s)" in capsys.readouterr().out
    assert (records / "mmed" / "seed1.json").is_file()


def test_a_diverged_run_is_scored_and_reported(tmp_path, monkeypatch):
    """A run whose loss becomes NaN after its first epoch is not a failure retried forever: the
    trainer's summary says `diverged`, the study scores its best checkpoint before the NaN and
    the report names it."""
    from mmed_core.training import trainer

    path, out = _study(tmp_path, seeds=[0], arms={"mmed": {}}, comparisons=[])
    raw = json.loads(path.read_text())
    raw["common"]["train.epochs"] = 3
    path.write_text(json.dumps(raw))
    study = protocol.load_study(path)
    forward, calls = trainer._LossModule.forward, []

    def nan_from_epoch_2(self, batch):
        loss, per_path = forward(self, batch)
        calls.append(1)
        return (loss * float("nan"), per_path) if len(calls) > 2 else (loss, per_path)

    monkeypatch.setattr(trainer._LossModule, "forward", nan_from_epoch_2)
    logs: list[str] = []
    assert protocol.run_study(study, in_process=True, log=logs.append) == []
    spec = protocol.plan_runs(study)[0]
    summary = json.loads((spec.out_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_done"] == 1
    assert any("diverged; its best checkpoint is scored" in line for line in logs)
    assert protocol.evaluated(spec, "test") and protocol.done(study, spec)
    rep = protocol.report(study)
    assert rep["arms"]["mmed"]["diverged"] == [0]
    assert "Diverged runs" in protocol.markdown_report(rep) and "| 1 (1 diverged) |" in (
        protocol.markdown_report(rep)
    )


def test_bad_study_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseeds: [0, 0]\narms: {a: {}}\n")
    with pytest.raises(ConfigError, match="seeds repeat"):
        protocol.load_study(bad)
    bad.write_text("name: x\nseeds: [0]\narms: {a: {}}\ncomparisons: [{a: a, b: zz}]\n")
    with pytest.raises(ConfigError, match=r"comparisons\[0\]\.b = 'zz' is not an arm"):
        protocol.load_study(bad)
    assert experiment_main(["status", str(tmp_path / "missing.yaml")]) == 2


def test_claim_verdicts_from_paired_tests(tmp_path):
    path, _ = _study(tmp_path, seeds=[0, 1, 2, 3, 4])
    study = protocol.load_study(path)

    def res(rel, miou):
        return {
            s: {"table1": {"rel_img": r, "miou": m}} for s, (r, m) in enumerate(zip(rel, miou))
        }

    # mmed lower Rel and higher mIoU on every seed by a clear margin: holds
    base = [0.30, 0.32, 0.29, 0.31, 0.33]
    results = {
        "mmed": res([v - 0.05 for v in base], [0.40, 0.41, 0.42, 0.40, 0.43]),
        "enc-decs": res(base, [0.30, 0.30, 0.31, 0.29, 0.32]),
    }
    rep = protocol.report(study, results)
    assert rep["claims"][0]["verdict"] == "holds"
    assert all(t["p_holm"] < 0.05 for t in rep["tests"])
    # better depth but clearly worse mIoU: contradicted; noise only: not shown
    results["mmed"] = res([v - 0.05 for v in base], [0.20, 0.21, 0.22, 0.20, 0.23])
    assert protocol.report(study, results)["claims"][0]["verdict"] == "contradicted"
    results["mmed"] = res([0.31, 0.31, 0.30, 0.30, 0.34], [0.31, 0.29, 0.31, 0.30, 0.31])
    assert protocol.report(study, results)["claims"][0]["verdict"] == "not shown"
    md = protocol.markdown_report(protocol.report(study, results))
    assert "| `mmed` | 5 |" in md and "± " in md


def test_one_runner_per_out_folder(tmp_path):
    lock = tmp_path / ".mmed-experiment.lock"
    lock.write_text(str(os.getpid()))  # a live runner
    with (
        pytest.raises(ConfigError, match="being run by another mmed-experiment"),
        protocol._study_lock(tmp_path),
    ):
        pass
    lock.write_text("999999999")  # a dead one: taken over, removed afterwards
    with protocol._study_lock(tmp_path):
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


def test_experiments_doc_tables_are_generated_blocks():
    """docs/EXPERIMENTS.md's tables live in marker blocks that mmed-experiment wrote, one per
    study file; no results table outside them."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "EXPERIMENTS.md").read_text(encoding="utf-8")
    names = re.findall(r"^<!-- mmed-experiment:([\w.-]+) begin -->$", text, flags=re.M)
    assert names and len(names) == len(set(names))
    outside = text
    for name in names:
        assert (root / "config" / "experiments" / f"{name}.yaml").is_file(), name
        study = protocol.load_study(root / "config" / "experiments" / f"{name}.yaml")
        assert study.name == name
        begin, end = (
            f"<!-- mmed-experiment:{name} begin -->",
            f"<!-- mmed-experiment:{name} end -->",
        )
        block = text.split(f"\n{begin}\n")[1].split(f"\n{end}")[0]
        assert "generated by mmed-experiment" in block and "Pinned: commit" in block, name
        outside = outside.replace(block, "")
    assert "| Rel" not in outside and "| mIoU" not in outside  # no typed results tables
