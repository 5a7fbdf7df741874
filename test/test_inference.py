# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""InferenceEngine with a tiny untrained checkpoint: shapes, units, devices, precisions, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mmed_core.deploy.inference import InferenceEngine, resolve_device
from mmed_core.errors import CheckpointError, ConfigError, InputError
from mmed_core.network.modalities import postprocess, prepare_inputs
from mmed_ros.testing import one_torch_thread, tiny_checkpoint

ALL_PATHS = [(s, d) for s in ("rgb", "depth", "label") for d in ("rgb", "depth", "label")]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture(scope="module")
def engine(ckpt: Path) -> InferenceEngine:
    return InferenceEngine.from_checkpoint(ckpt, device="cpu")


def inputs(h: int, w: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "rgb": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "depth": rng.uniform(0.5, 8, (h, w)).astype(np.float32),
        "label": rng.integers(0, 12, (h, w), dtype=np.uint8),
    }


@pytest.mark.parametrize("size", [(32, 32), (48, 64), (17, 33), (480, 640)])
def test_every_path_returns_the_input_resolution_and_dtype(
    engine: InferenceEngine, size: tuple[int, int]
) -> None:
    out = engine.infer(inputs(*size), ALL_PATHS)
    assert set(out) == set(ALL_PATHS)
    for (src, dst), pred in out.items():
        assert pred.array.shape[:2] == size, (src, dst)
        if dst == "label":
            assert pred.array.dtype == np.uint8 and pred.array.max() < 12
            assert pred.confidence.dtype == np.float32
            assert np.all((pred.confidence > 0) & (pred.confidence <= 1))
        elif dst == "depth":
            assert pred.array.dtype == np.float32
            lo, hi = engine.config.depth_range
            assert np.all((pred.array >= lo - 1e-4) & (pred.array <= hi + 1e-4))
        else:
            assert pred.array.dtype == np.uint8 and pred.array.shape == (*size, 3)


def test_matches_the_model_called_directly_at_model_size(engine: InferenceEngine) -> None:
    """No hidden preprocessing: at the model's own size the engine is prepare+forward+post."""
    x = inputs(32, 32)
    out = engine.infer({"rgb": x["rgb"]}, [("rgb", "label"), ("rgb", "depth")], probabilities=True)
    raw = prepare_inputs(
        {"rgb": torch.from_numpy(x["rgb"]).permute(2, 0, 1)[None].float()}, engine.config
    )
    with torch.no_grad():
        ref = engine.model(raw, paths=[("rgb", "label"), ("rgb", "depth")])
    probs = postprocess("label", ref[("rgb", "label")], engine.config)[0].numpy()
    depth = postprocess("depth", ref[("rgb", "depth")], engine.config)[0, 0].numpy()
    np.testing.assert_allclose(out[("rgb", "label")].probabilities, probs, atol=1e-5)
    np.testing.assert_array_equal(out[("rgb", "label")].array, probs.argmax(0))
    np.testing.assert_allclose(out[("rgb", "depth")].array, depth, atol=1e-4)


def test_invalid_depth_input_gives_unknown_outputs(engine: InferenceEngine) -> None:
    """REP 118: NaN, 0 and negative are no measurement; +inf / -inf are readings."""
    depth = inputs(40, 40)["depth"]
    depth[:10] = np.nan
    depth[10:12] = 0
    depth[12:14] = -1.0
    depth[14:16] = np.inf
    depth[16:18] = -np.inf
    out = engine.infer({"depth": depth}, [("depth", "label"), ("depth", "depth")])
    label = out[("depth", "label")]
    assert np.all(label.array[:14] == 255)
    assert np.all(label.array[14:] < 12)
    assert np.all(np.isnan(label.confidence[:14]))  # confidence masked with the label
    assert np.all(np.isfinite(label.confidence[14:]))
    assert np.all(np.isnan(out[("depth", "depth")].array[:14]))
    assert np.all(np.isfinite(out[("depth", "depth")].array[14:]))


def test_positive_infinity_is_the_far_end_of_the_depth_range(engine: InferenceEngine) -> None:
    """+inf ("beyond range") is fed as the far end of the range, -inf as the near end."""
    lo, hi = engine.config.depth_range
    far = engine.infer({"depth": np.full((16, 16), np.inf, np.float32)}, [("depth", "label")])
    at_max = engine.infer({"depth": np.full((16, 16), hi, np.float32)}, [("depth", "label")])
    np.testing.assert_array_equal(far[("depth", "label")].array, at_max[("depth", "label")].array)
    near = engine.infer({"depth": np.full((16, 16), -np.inf, np.float32)}, [("depth", "label")])
    at_min = engine.infer({"depth": np.full((16, 16), lo, np.float32)}, [("depth", "label")])
    np.testing.assert_array_equal(near[("depth", "label")].array, at_min[("depth", "label")].array)


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "crop"])
def test_resize_modes_and_output_sizes(engine: InferenceEngine, resize: str) -> None:
    h_net, w_net = engine.config.input_size
    rgb = inputs(24, 60)["rgb"]  # wide: letterbox pads rows, crop cuts columns
    paths = [("rgb", "label"), ("rgb", "depth")]
    at_input = engine.infer({"rgb": rgb}, paths, resize=resize)
    at_net = engine.infer({"rgb": rgb}, paths, resize=resize, output_size="network")
    for p in paths:
        assert at_input[p].array.shape[:2] == (24, 60)
        assert at_net[p].array.shape[:2] == (h_net, w_net)
    fit = at_net[("rgb", "label")].fit
    assert fit is not None and fit.mode == resize
    ids_net, depth_net = at_net[("rgb", "label")].array, at_net[("rgb", "depth")].array
    ids_in, depth_in = at_input[("rgb", "label")].array, at_input[("rgb", "depth")].array
    if resize == "letterbox":  # padding rows show no image: unknown at network size
        assert np.all(ids_net[0] == 255) and np.all(np.isnan(depth_net[0]))
        assert np.all(ids_in < 12) and np.all(np.isfinite(depth_in))
    elif resize == "crop":  # the cut borders have no estimate at input size
        assert np.all(ids_in[:, 0] == 255) and np.all(np.isnan(depth_in[:, 0]))
        assert np.all(ids_in[:, 30] < 12)
        assert np.all(ids_net < 12) and np.all(np.isfinite(depth_net))
    else:
        assert np.all(ids_in < 12) and np.all(ids_net < 12)
    with pytest.raises(ConfigError, match="output_size"):
        engine.infer({"rgb": rgb}, paths, output_size="half")
    with pytest.raises(ConfigError, match="resize"):
        engine.infer({"rgb": rgb}, paths, resize="squash")


def test_min_confidence_marks_unsure_pixels_unknown(engine: InferenceEngine) -> None:
    x = {"rgb": inputs(16, 16)["rgb"]}
    sure = engine.infer(x, [("rgb", "label")])[("rgb", "label")]
    threshold = float(np.median(sure.confidence))
    unsure = engine.infer(x, [("rgb", "label")], min_confidence=threshold)[("rgb", "label")]
    low = sure.confidence < threshold
    assert low.any() and not low.all()
    assert np.all(unsure.array[low] == 255)
    np.testing.assert_array_equal(unsure.array[~low], sure.array[~low])


def test_bf16_on_cpu_runs_close_to_fp32(ckpt: Path, engine: InferenceEngine) -> None:
    bf16 = InferenceEngine.from_checkpoint(ckpt, device="cpu", precision="bf16")
    x = {"rgb": inputs(32, 32)["rgb"]}
    a = engine.infer(x, [("rgb", "depth")])[("rgb", "depth")].array
    b = bf16.infer(x, [("rgb", "depth")])[("rgb", "depth")].array
    assert b.dtype == np.float32 and np.abs(a - b).mean() < 0.2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA behaviour")
def test_cuda_without_cuda_is_a_clear_error_unless_fallback(ckpt: Path) -> None:
    with pytest.raises(ConfigError, match="CUDA is not available.*fallback"):
        InferenceEngine.from_checkpoint(ckpt, device="cuda")
    warnings: list[str] = []
    eng = InferenceEngine.from_checkpoint(
        ckpt, device="cuda:0", cpu_fallback=True, warn=warnings.append
    )
    assert eng.device.type == "cpu" and "falling back" in warnings[0]


@pytest.mark.parametrize(
    "device,precision,match",
    [
        ("gpu", "fp32", "expected 'auto', 'cpu'"),
        ("cpu", "fp8", "precision: expected one of"),
    ],
)
def test_bad_device_or_precision(ckpt: Path, device: str, precision: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        InferenceEngine.from_checkpoint(ckpt, device=device, precision=precision)


def test_missing_or_tampered_weights(tmp_path: Path, ckpt: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        InferenceEngine.from_checkpoint(tmp_path / "nope.safetensors", device="cpu")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(ckpt.read_bytes()[:-10] + b"0123456789")
    bad.with_suffix(".json").write_text(ckpt.with_suffix(".json").read_text())
    with pytest.raises(CheckpointError, match="sha256"):
        InferenceEngine.from_checkpoint(bad, device="cpu")


def test_bad_inputs_name_the_input(engine: InferenceEngine) -> None:
    with pytest.raises(InputError, match="input 'rgb'"):
        engine.infer({"rgb": np.zeros((8, 8, 2), np.uint8)}, [("rgb", "label")])
    with pytest.raises(InputError, match="input 'depth'.*H, W > 0"):
        engine.infer({"depth": np.zeros((0, 8), np.float32)}, [("depth", "label")])
    with pytest.raises(InputError, match="needs input 'depth'"):
        engine.infer({"rgb": np.zeros((8, 8, 3), np.uint8)}, [("depth", "label")])


def test_paths_the_model_lacks_are_refused(tmp_path: Path) -> None:
    ckpt = tiny_checkpoint(tmp_path / "rgbd.safetensors", modalities=("rgb", "depth"))
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    with pytest.raises(ConfigError, match="path rgb->label: not in this model"):
        eng.check_paths([("rgb", "label")])
    assert "rgb->depth" in eng.describe()


def test_resolve_device_auto_is_cpu_here_or_cuda() -> None:
    dev, warning = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu") and warning is None


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cuda_precisions_match_cpu(ckpt: Path, engine: InferenceEngine, precision: str) -> None:
    gpu = InferenceEngine.from_checkpoint(ckpt, device="cuda", precision=precision)
    x = {"rgb": inputs(96, 128)["rgb"]}
    a = engine.infer(x, [("rgb", "depth")])[("rgb", "depth")].array
    b = gpu.infer(x, [("rgb", "depth")])[("rgb", "depth")].array
    assert np.abs(a - b).mean() < (1e-3 if precision == "fp32" else 0.2)


def test_sensor_depth_note_for_models_trained_on_clean_synthetic_depth(ckpt: Path) -> None:
    engine = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    assert engine.trained_depth_input == "clean"  # a card from before data.depth_input
    note = engine.sensor_depth_note([("rgb", "label"), ("depth", "label")])
    assert note is not None and note.startswith("depth->label: ") and "mixed" in note
    assert engine.sensor_depth_note([("rgb", "label"), ("rgb", "depth")]) is None
    engine.card["data"] = {"depth_input": "mixed"}
    assert engine.sensor_depth_note([("depth", "label")]) is None
    engine.card["data"] = {"depth_input": "clean"}
    engine.card["dataset"] = "nyudv2"  # trained on a real sensor's depth
    assert engine.sensor_depth_note([("depth", "label")]) is None
