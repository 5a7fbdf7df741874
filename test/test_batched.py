# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The batched multi-path step gives the naive loop's losses, gradients and BN statistics.

"Same" is defined in mmed_core/network/batched_loss.py: exact math with per-source BatchNorm
statistics in train mode. The losses run in float32 (the modalities cast inputs), so the whole step
is compared to round-off and the grouped decoder, the one non-trivial piece, in float64 to 1e-10.
"""

from __future__ import annotations

import copy

import pytest
import torch

from mmed_core.errors import InputError
from mmed_core.network.batched_loss import batched_multipath_loss, decode_grouped
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss


def make_batch(paired: list[bool], h: int = 32) -> dict[str, torch.Tensor]:
    b = len(paired)
    g = torch.Generator().manual_seed(3)
    label = torch.randint(0, 12, (b, h, h), generator=g)
    label[:, :4] = 255  # void rows: ignored by the loss
    depth = torch.rand(b, 1, h, h, generator=g) * 9 + 0.5
    depth[:, :, -3:] = 0  # invalid depth
    return {
        "rgb": torch.rand(b, 3, h, h, generator=g) * 255,
        "depth": depth,
        "label": label,
        "paired": torch.tensor(paired),
    }


def run(fn, model: torch.nn.Module, batch: dict, **kw) -> tuple[dict, dict]:
    model.zero_grad(set_to_none=True)
    total, per_path = fn(model, batch, **kw)
    total.backward()
    grads = {
        n: p.grad.clone() if p.grad is not None else None for n, p in model.named_parameters()
    }
    return {"total": total.detach(), **{p: v.detach() for p, v in per_path.items()}}, grads


def assert_same(model: torch.nn.Module, batch: dict, rtol: float, atol: float, **kw) -> None:
    naive, batched = model, copy.deepcopy(model)
    la, ga = run(multipath_loss, naive, batch, **kw)
    lb, gb = run(batched_multipath_loss, batched, batch, **kw)
    assert list(la) == list(lb)  # same paths, same order
    for k in la:
        torch.testing.assert_close(lb[k], la[k], rtol=rtol, atol=atol, msg=f"loss {k}")
    for n in ga:
        assert (ga[n] is None) == (gb[n] is None), n  # the same parameters are reached
        if ga[n] is not None:
            scale = ga[n].abs().max().clamp_min(1e-30)
            torch.testing.assert_close(
                gb[n] / scale, ga[n] / scale, rtol=rtol, atol=atol, msg=f"grad {n}"
            )
    for (n, a), b in zip(naive.named_buffers(), batched.buffers()):
        torch.testing.assert_close(b, a, rtol=rtol, atol=atol, msg=f"buffer {n}")


@pytest.mark.parametrize("paired", [[True, True, True], [True, False, True, False]])
def test_train_mode_matches_naive_loop(paired: list[bool]) -> None:
    """Per-source BN statistics: the same losses, gradients and running statistics (float32
    round-off: gradients agree to ~1e-5 of their largest entry)."""
    model = create_model(ModelConfig.preset("tiny")).train()
    assert_same(model, make_batch(paired), rtol=1e-3, atol=1e-4)


def test_eval_mode_matches() -> None:
    model = create_model(ModelConfig.preset("tiny")).eval()
    assert_same(model, make_batch([True, True, False]), rtol=1e-4, atol=1e-5)


def test_paths_and_weights_are_honoured() -> None:
    model = create_model(ModelConfig.preset("tiny")).train()
    # Not source-major: the label decoder must still see rgb before depth, as in the naive loop.
    paths = (("rgb", "depth"), ("depth", "label"), ("rgb", "label"))
    assert_same(
        model, make_batch([True, True]), rtol=1e-3, atol=1e-4, paths=paths, weights={"label": 2.0}
    )


def test_baselines_and_mae_match() -> None:
    for cfg in (
        ModelConfig.preset("tiny", method="enc-decs"),
        ModelConfig.preset("tiny", method="mae", mae_grid=(8, 8)),
    ):
        model = create_model(cfg).train()
        assert_same(model, make_batch([True, False]), rtol=1e-3, atol=1e-4)


def test_grouped_decoder_equals_separate_calls_in_float64() -> None:
    """The one non-trivial piece, exactly: decoding concatenated groups with per-group BN
    statistics equals decoding each group alone (outputs, input gradients, running stats)."""
    model = create_model(ModelConfig.preset("tiny")).double().train()
    dec_a = model.decoders["label"]
    dec_b = copy.deepcopy(dec_a)
    g = torch.Generator().manual_seed(0)
    sizes = [3, 1, 2]
    z = torch.randn(sum(sizes), 16, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    skips = (
        torch.randn(sum(sizes), 8, 32, 32, generator=g, dtype=torch.float64),
        torch.randn(sum(sizes), 16, 16, 16, generator=g, dtype=torch.float64),
    )
    separate = torch.cat(
        [
            dec_a(zp, (s0, s1))
            for zp, s0, s1 in zip(z.split(sizes), skips[0].split(sizes), skips[1].split(sizes))
        ]
    )
    (grad_a,) = torch.autograd.grad(separate.square().sum(), z)
    grouped = decode_grouped(dec_b, z, skips, sizes)
    (grad_b,) = torch.autograd.grad(grouped.square().sum(), z)
    torch.testing.assert_close(grouped, separate, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad_b, grad_a, rtol=1e-10, atol=1e-10)
    for (n, a), b in zip(dec_a.named_buffers(), dec_b.buffers()):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12, msg=n)
    with pytest.raises(InputError, match="sum to"):
        decode_grouped(dec_b, z, skips, [1, 1])


def test_unpaired_samples_reach_only_the_rgb_decoder() -> None:
    model = create_model(ModelConfig.preset("tiny")).train()
    losses, grads = run(batched_multipath_loss, model, make_batch([False, False]))
    assert set(losses) - {"total"} == {("rgb", "rgb")}
    for name, g in grads.items():
        if name.startswith(
            ("decoders.depth", "decoders.label", "encoders.depth", "encoders.label")
        ):
            assert g is None or g.abs().sum() == 0, name


def test_unpaired_sample_does_not_change_cross_modal_decoder_inputs() -> None:
    """An unpaired sample added to the batch leaves the rgb->label loss of the paired ones as it
    was (eval mode, so no statistics couple the samples): it is not decoded by that path."""
    model = create_model(ModelConfig.preset("tiny")).eval()
    paired = make_batch([True, True])
    mixed = make_batch([True, True, False])
    for k in ("rgb", "depth", "label"):
        mixed[k][:2] = paired[k]
    _, a = batched_multipath_loss(model, paired)
    _, b = batched_multipath_loss(model, mixed)
    for p in (("rgb", "label"), ("rgb", "depth"), ("depth", "label")):
        torch.testing.assert_close(b[p], a[p])


def test_missing_modality_is_an_input_error() -> None:
    model = create_model(ModelConfig.preset("tiny"))
    batch = make_batch([True])
    del batch["depth"]
    with pytest.raises(InputError, match="depth"):
        batched_multipath_loss(model, batch)
