# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The shipped weights in models/ load, are intact and answer the node's default paths.

Run: pytest test/test_models_shipped.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmed_core.data.classes import NYU12_CLASSES
from mmed_core.deploy.inference import InferenceEngine

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = sorted(MODELS.glob("*.safetensors"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_loads_and_runs_the_default_paths(path: Path) -> None:
    assert path.with_suffix(".json").is_file(), f"{path.name} has no model card"
    assert path.stem in (MODELS / "README.md").read_text(encoding="utf-8")
    assert path.stat().st_size < 5 * 2**20  # keep the package small
    engine = InferenceEngine.from_checkpoint(path, device="cpu")
    assert tuple(engine.config.class_names) == NYU12_CLASSES
    paths = [("rgb", "label"), ("rgb", "depth"), ("depth", "label")]  # config/perception.yaml
    out = engine.infer(
        {"rgb": np.full((48, 64, 3), 128, np.uint8), "depth": np.full((48, 64), 2.0, np.float32)},
        paths,
    )
    assert out[("rgb", "label")].array.shape == (48, 64)
    depth = out[("rgb", "depth")].array
    assert np.isfinite(depth).all() and depth.min() >= 0.5 and depth.max() <= 10.0


def test_nyu12_synthetic_is_shipped() -> None:
    assert (MODELS / "nyu12-synthetic.safetensors").is_file()
