# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The model on an NVIDIA GPU: fp32/fp16/bf16 outputs, the batched step, the backends.

    scripts/gpu_check.sh            # or: python -m pytest -m cuda test/test_cuda.py

Deselected by default (pytest.ini) and skipped without CUDA.
"""

from __future__ import annotations

import copy

import pytest
import torch

from mmed_core.deploy.backends import example_inputs, make_runner
from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]

PATHS = (("rgb", "label"), ("rgb", "depth"), ("depth", "label"))


@pytest.fixture()
def no_tf32():
    """Exact fp32 on the GPU for the comparisons (TF32 would hide behind a loose tolerance)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def inputs(
    cfg: ModelConfig, device: str, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    rgb, depth = example_inputs(cfg, ["rgb", "depth"], 2, seed=1)
    return {"rgb": rgb.to(device, dtype), "depth": depth.to(device, dtype)}


def scaled_close(got: dict, want: dict, rtol: float, atol: float) -> None:
    for k in want:
        assert torch.isfinite(got[k]).all(), k
        scale = want[k].abs().max()
        torch.testing.assert_close(
            got[k].float().cpu() / scale,
            want[k].float().cpu() / scale,
            rtol=rtol,
            atol=atol,
            msg=str(k),
        )


def test_fp32_on_gpu_matches_cpu(no_tf32: None) -> None:
    cfg = ModelConfig.preset("small", input_size=(64, 64))
    model = create_model(cfg).eval()
    with torch.no_grad():
        want = model(inputs(cfg, "cpu"), paths=PATHS)
        got = model.to("cuda")(inputs(cfg, "cuda"), paths=PATHS)
    scaled_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 2e-2), (torch.bfloat16, 6e-2)])
def test_half_precisions_stay_close_to_fp32(dtype: torch.dtype, tol: float, no_tf32: None) -> None:
    """fp16/bf16 weights and inputs (what the engine's `precision` does): finite outputs within
    a few percent of fp32, and the same arg-max class on nearly every pixel."""
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = ModelConfig.preset("small", input_size=(64, 64))
    model = create_model(cfg).eval().cuda()
    with torch.no_grad():
        want = model(inputs(cfg, "cuda"), paths=PATHS)
        got = copy.deepcopy(model).to(dtype)(inputs(cfg, "cuda", dtype), paths=PATHS)
    scaled_close(got, want, rtol=tol, atol=tol)
    agree = (got[("rgb", "label")].argmax(1) == want[("rgb", "label")].argmax(1)).float().mean()
    assert agree > 0.95


def test_batched_step_matches_naive_on_gpu(no_tf32: None) -> None:
    cfg = ModelConfig.preset("tiny", input_size=(32, 32))
    naive = create_model(cfg).cuda().train()
    batched = copy.deepcopy(naive)
    g = torch.Generator().manual_seed(2)
    batch = {
        "rgb": torch.rand(3, 3, 32, 32, generator=g) * 255,
        "depth": torch.rand(3, 1, 32, 32, generator=g) * 9 + 0.5,
        "label": torch.randint(0, 12, (3, 32, 32), generator=g),
        "paired": torch.tensor([True, False, True]),
    }
    batch = {k: v.cuda() for k, v in batch.items()}
    la, pa = multipath_loss(naive, batch)
    lb, pb = batched_multipath_loss(batched, batch)
    la.backward()
    lb.backward()
    assert list(pa) == list(pb)
    torch.testing.assert_close(lb, la, rtol=1e-4, atol=1e-3)
    for (n, a), b in zip(naive.named_parameters(), batched.parameters()):
        scale = a.grad.abs().max().clamp_min(1e-12)
        torch.testing.assert_close(b.grad / scale, a.grad / scale, rtol=1e-3, atol=1e-4, msg=n)


@pytest.mark.parametrize("backend", ["torchscript", "onnxruntime"])
def test_backends_on_gpu_match_eager(backend: str, no_tf32: None) -> None:
    """make_runner checks against eager itself; a failure raises ExportError."""
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    cfg = ModelConfig.preset("tiny", input_size=(32, 32))
    model = create_model(cfg).eval().cuda()
    runner = make_runner(model, PATHS[:2], backend)
    (x,) = example_inputs(cfg, ["rgb"], 1, device="cuda", seed=3)
    with torch.no_grad():
        want = model({"rgb": x}, paths=PATHS[:2])
    scaled_close(runner({"rgb": x}), want, rtol=1e-3, atol=1e-4)
