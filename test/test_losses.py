# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The multi-path objective: paired vs unpaired samples, void pixels, per-path terms."""

from __future__ import annotations

import torch

from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss


def batch(paired: list[bool], h: int = 16) -> dict[str, torch.Tensor]:
    b = len(paired)
    g = torch.Generator().manual_seed(1)
    return {
        "rgb": torch.rand(b, 3, h, h, generator=g) * 255,
        "depth": torch.rand(b, 1, h, h, generator=g) * 9 + 0.5,
        "label": torch.randint(0, 12, (b, h, h), generator=g),
        "paired": torch.tensor(paired),
    }


def grads(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {
        n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
        for n, p in model.named_parameters()
        if n.startswith(prefix)
    }


def test_unpaired_only_batch_trains_only_self_encoding() -> None:
    model = create_model(ModelConfig.preset("tiny"))
    loss, per_path = multipath_loss(model, batch([False, False]))
    assert set(per_path) == {("rgb", "rgb")}
    loss.backward()
    for prefix in ("decoders.depth", "decoders.label", "encoders.depth", "encoders.label"):
        assert all(g.abs().sum() == 0 for g in grads(model, prefix).values()), prefix


def test_unpaired_sample_leaves_cross_modal_decoders_untouched() -> None:
    """Adding an unpaired sample to a batch changes no cross-modal decoder gradient (eval-mode
    BatchNorm, so batch statistics do not couple the samples)."""
    torch.manual_seed(0)
    model = create_model(ModelConfig.preset("tiny")).eval()
    paired = batch([True, True])
    mixed = batch([True, True, False])
    for k in ("rgb", "depth", "label"):
        mixed[k][:2] = paired[k]
    multipath_loss(model, paired)[0].backward()
    ref = {p: grads(model, f"decoders.{p}") for p in ("depth", "label")}
    model.zero_grad()
    multipath_loss(model, mixed)[0].backward()
    for p in ("depth", "label"):
        for name, g in grads(model, f"decoders.{p}").items():
            torch.testing.assert_close(g, ref[p][name], msg=name)


def test_void_pixels_are_ignored() -> None:
    model = create_model(ModelConfig.preset("tiny")).eval()
    b = batch([True])
    _, a = multipath_loss(model, b, paths=(("rgb", "label"),))
    b2 = {k: v.clone() for k, v in b.items()}
    b2["label"][0, :8] = 255  # half the pixels void
    b3 = {k: v.clone() for k, v in b2.items()}
    b3["label"][0, :8] = 0  # ... whatever class they would have had is irrelevant
    b3["label"][0, :8] = 255
    _, c = multipath_loss(model, b2, paths=(("rgb", "label"),))
    assert not torch.isclose(a[("rgb", "label")], c[("rgb", "label")])
    b4 = {k: v.clone() for k, v in b2.items()}
    b4["depth"][0, 0, :8] = 0  # invalid depth is ignored too
    _, d1 = multipath_loss(model, b2, paths=(("rgb", "depth"),))
    _, d2 = multipath_loss(model, b4, paths=(("rgb", "depth"),))
    assert not torch.isclose(d1[("rgb", "depth")], d2[("rgb", "depth")])


def test_loss_is_sum_of_paths_and_weights_apply() -> None:
    model = create_model(ModelConfig.preset("tiny")).eval()
    b = batch([True, True])
    total, per_path = multipath_loss(model, b)
    torch.testing.assert_close(total, sum(per_path.values()))
    total_w, _ = multipath_loss(model, b, weights={"label": 10.0})
    label_sum = sum(v for (s, d), v in per_path.items() if d == "label")
    torch.testing.assert_close(total_w, total + 9 * label_sum)


def test_label_loss_matches_hand_computed_cross_entropy() -> None:
    from mmed_core.network.modalities import get_modality

    cfg = ModelConfig.preset("tiny", class_names=("a", "b"))
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])  # (1,2,1,2)
    ids = torch.tensor([[[0, 255]]])
    loss = get_modality("label").loss_per_sample(logits, ids, cfg)
    expected = -torch.log_softmax(torch.tensor([2.0, 0.0]), 0)[0]
    torch.testing.assert_close(loss, expected.reshape(1))


def test_a_frame_without_depth_is_no_depth_source_or_target() -> None:
    """A paired frame whose depth map holds no measurement (a labelled frame without a depth
    PNG) trains no path from or to depth; its RGB and labels still count."""
    from mmed_core.network.losses import presence_masks

    b = batch([True, True])
    b["depth"][1] = 0.0
    present = presence_masks(b, ("rgb", "depth", "label"))
    assert present["depth"].tolist() == [True, False]
    assert present["label"].tolist() == [True, True]
    b["label"][0] = 255  # void only: no label either
    assert presence_masks(b, ("label",))["label"].tolist() == [False, True]

    torch.manual_seed(0)
    model = create_model(ModelConfig.preset("tiny")).eval()
    one = {k: v[:1] for k, v in batch([True]).items()}
    two = {k: torch.cat([one[k], batch([True])[k]]) for k in one}
    two["depth"][1] = 0.0
    _, ref = multipath_loss(model, one)
    _, got = multipath_loss(model, two)
    for p in (("depth", "label"), ("depth", "rgb"), ("depth", "depth"), ("rgb", "depth")):
        torch.testing.assert_close(got[p], ref[p], msg=str(p))
