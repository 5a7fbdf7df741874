# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""scripts/trivial_baselines.py: trivial predictors scored with the evaluator's metrics.

python -m pytest -q test/test_trivial_baselines.py
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from mmed_core.data.base import ArrayDataset, DatasetInfo
from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.errors import ConfigError
from mmed_core.evaluation.evaluator import HEADERS, TABLE1_COLUMNS, table1_header

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "trivial_baselines.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trivial_baselines", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_end_to_end_on_tiny_synthetic_rooms(tmp_path: Path) -> None:
    out = tmp_path / "trivial"
    cmd = [sys.executable, str(SCRIPT), "--size", "16", "16", "--out", str(out)]
    cmd += ["--option", "n_train=8", "--option", "n_test=4", "--option", "seed=0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert res["num_train"] == 8 and res["num_samples"] == 4 and res["size"] == [16, 16]
    preds = res["predictors"]
    assert list(preds) == [
        "constant-depth",
        "mean-depth-map",
        "majority-class",
        "per-pixel-class-prior",
    ]
    for name in ("constant-depth", "mean-depth-map"):
        rel = preds[name]["table1"]["rel_img"]
        assert math.isfinite(rel) and rel > 0
        assert preds[name]["table1"]["miou"] is None
    assert (
        preds["per-pixel-class-prior"]["table1"]["miou"]
        >= preds["majority-class"]["table1"]["miou"]
    )
    assert preds["majority-class"]["table1"]["rel_img"] is None
    assert set(preds["constant-depth"]["table1"]) == set(TABLE1_COLUMNS)
    # The printed table and tables.md carry the evaluator's Table 1 header, word for word.
    header = "| " + " | ".join(table1_header()) + " |"
    assert header in proc.stdout
    assert header in (out / "tables.md").read_text(encoding="utf-8")
    assert table1_header()[1:] == [HEADERS[c] for c in TABLE1_COLUMNS]


def _dataset(depth: np.ndarray, label: np.ndarray) -> ArrayDataset:
    info = DatasetInfo("tiny", ("a", "b", "c"), ((0, 0, 0),) * 3, (0.5, 10.0), "m")
    rgb = np.zeros((*depth.shape, 3), np.uint8)
    return ArrayDataset(info, rgb, depth.astype(np.float32), label.astype(np.uint8), True)


def test_predictors_fit_the_training_split() -> None:
    tb = _script()
    depth = np.stack([np.full((2, 2), d) for d in (1.0, 2.0, 4.0)])
    depth[:, 0, 0] = 0.0  # never valid at (0, 0): the map falls back to the median
    label = np.array([[[0, 1], [1, 1]], [[0, 2], [1, IGNORE_INDEX]], [[0, 2], [1, 2]]])
    fitted = tb.fit(depth, label, 3)
    assert fitted["fitted"]["median_depth"] == 2.0
    np.testing.assert_allclose(fitted["maps"]["mean-depth-map"], [[2.0, 7 / 3], [7 / 3, 7 / 3]])
    assert fitted["fitted"]["majority_class"] == 1  # void ignored: 1 x5, 0 x3, 2 x3
    np.testing.assert_array_equal(fitted["maps"]["per-pixel-class-prior"], [[0, 2], [1, 1]])
    # Scored with the evaluator's metrics: a perfect prior scores mIoU 1.
    res = tb.score(_dataset(depth, label), _dataset(depth[:1], np.array([[[0, 2], [1, 1]]])))
    assert res["predictors"]["per-pixel-class-prior"]["table1"]["miou"] == 1.0


def test_dataset_without_depth_skips_depth_predictors_with_a_note() -> None:
    tb = _script()
    label = np.zeros((2, 4, 4), np.int64)
    label[:, :2] = 1
    ds = _dataset(np.zeros((2, 4, 4)), label)
    res = tb.score(ds, ds)
    assert list(res["predictors"]) == ["majority-class", "per-pixel-class-prior"]
    assert any("no valid depth" in n for n in res["notes"])
    assert "Note: the training split has no valid depth" in tb.markdown({**res, "split": "test"})
    empty = _dataset(np.zeros((2, 4, 4)), np.full((2, 4, 4), IGNORE_INDEX))
    with pytest.raises(ConfigError, match="neither valid depth nor labels"):
        tb.score(empty, empty)


def test_bad_input_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    tb = _script()
    assert tb.main(["--dataset", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert tb.main(["--option", "n_train"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert tb.main(["--split", "train"]) == 2
    assert "fitted on train" in capsys.readouterr().err


@pytest.mark.parametrize("study", ["table1-48", "table1"])
def test_defaults_are_the_studies_data(study: str) -> None:
    path = ROOT / "config" / "experiments" / f"{study}.yaml"
    options = yaml.safe_load(path.read_text(encoding="utf-8"))["common"]["data.options"]
    defaults = _script().DEFAULT_OPTIONS
    assert defaults == options
