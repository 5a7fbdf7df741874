# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The engine on another execution backend gives the eager engine's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmed_core.deploy.inference import InferenceEngine
from mmed_core.errors import ConfigError
from mmed_ros.testing import tiny_checkpoint

PATHS = [("rgb", "label"), ("rgb", "depth")]


@pytest.mark.parametrize("backend", ["torchscript", "onnxruntime"])
def test_backend_matches_eager(tmp_path: Path, backend: str) -> None:
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    ck = tiny_checkpoint(tmp_path / "m.safetensors")
    eager = InferenceEngine.from_checkpoint(ck, device="cpu")
    other = InferenceEngine.from_checkpoint(ck, device="cpu")
    other.use_backend(backend, PATHS)
    rgb = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    a, b = eager.infer({"rgb": rgb}, PATHS), other.infer({"rgb": rgb}, PATHS)
    np.testing.assert_allclose(
        b[("rgb", "depth")].array, a[("rgb", "depth")].array, rtol=1e-3, atol=1e-3
    )
    agree = (b[("rgb", "label")].array == a[("rgb", "label")].array).mean()
    assert agree > 0.99  # ties in the argmax may flip under reordered float sums
    with pytest.raises(ConfigError, match="not in this model"):
        other.infer({"depth": np.ones((8, 8), np.float32)}, [("depth", "label")])


def test_onnxruntime_refuses_half_precision(tmp_path: Path) -> None:
    ck = tiny_checkpoint(tmp_path / "m.safetensors")
    engine = InferenceEngine.from_checkpoint(ck, device="cpu")
    engine.dtype = __import__("torch").float16  # as a CUDA engine in fp16 would be
    with pytest.raises(ConfigError, match="onnxruntime' runs fp32 only"):
        engine.use_backend("onnxruntime", PATHS)
