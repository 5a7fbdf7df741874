# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Model shapes, paths, gradients and bad input (one parametrised class per method, SMP-style)."""

from __future__ import annotations

import pytest
import torch

from mmed_core.errors import ConfigError, InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss
from mmed_core.network.mmed import MultiModalEncoderDecoder
from mmed_core.network.modalities import prepare_inputs

METHODS = [
    ("mmed", {}),
    ("enc-dec", {"targets": ("depth",)}),
    ("enc-dec-u", {"targets": ("label",)}),
    ("enc-decs", {}),
    ("mae", {"mae_grid": (8, 8), "mae_hidden": 32, "mae_latent": 16}),
]


def raw_batch(b: int = 2, h: int = 32, w: int = 32, k: int = 12) -> dict[str, torch.Tensor]:
    return {
        "rgb": torch.rand(b, 3, h, w) * 255,
        "depth": torch.rand(b, 1, h, w) * 9 + 0.5,
        "label": torch.randint(0, k, (b, h, w)),
    }


@pytest.mark.parametrize("method,kw", METHODS, ids=[m for m, _ in METHODS])
class TestEveryMethod:
    def test_all_paths_shapes(self, method: str, kw: dict) -> None:
        cfg = ModelConfig.preset("tiny", method=method, **kw)
        model = create_model(cfg).eval()
        inputs = prepare_inputs({m: raw_batch()[m] for m in cfg.encoder_modalities}, cfg)
        out = model(inputs)
        assert set(out) == set(cfg.paths())
        for (_, dst), y in out.items():
            channels = cfg.num_classes if dst == "label" else {"rgb": 3, "depth": 1}[dst]
            assert y.shape == (2, channels, 32, 32)

    def test_gradients_reach_every_encoder_and_decoder(self, method: str, kw: dict) -> None:
        cfg = ModelConfig.preset("tiny", method=method, **kw)
        model = create_model(cfg)
        loss, per_path = multipath_loss(model, raw_batch())
        loss.backward()
        assert set(per_path) == set(cfg.paths())
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reached {name}"

    def test_output_size_is_rescaled(self, method: str, kw: dict) -> None:
        cfg = ModelConfig.preset("tiny", method=method, **kw)
        model = create_model(cfg).eval()
        out = model(prepare_inputs({"rgb": raw_batch()["rgb"]}, cfg), size=(48, 40))
        assert all(y.shape[-2:] == (48, 40) for y in out.values())


def test_shared_latent_any_decoder_takes_any_encoder() -> None:
    cfg = ModelConfig.preset("tiny")
    model = create_model(cfg).eval()
    inputs = prepare_inputs(raw_batch(), cfg)
    lat = {m: model.encode(m, inputs[m]) for m in cfg.modalities}
    shapes = {tuple(e.latent.shape) for e in lat.values()}
    assert shapes == {(2, cfg.latent_channels, 8, 8)}  # C x H/4 x W/4, same for every encoder
    assert {e.size for e in lat.values()} == {(32, 32)}
    skip_shapes = {tuple(t.shape for t in e.skips) for e in lat.values()}
    assert len(skip_shapes) == 1
    out = model(inputs, outputs={"label", "depth"})
    assert set(out) == {(s, d) for s in cfg.modalities for d in ("label", "depth")}
    # The forward result equals decoding the separately encoded latent: one encoding per input.
    torch.testing.assert_close(out[("depth", "label")], model.decode("label", lat["depth"]))


def test_readme_call_signature() -> None:
    cfg = ModelConfig.preset("tiny")
    model = create_model(cfg).eval()
    x = torch.rand(1, 3, 32, 32) * 255
    out = model({"rgb": x}, outputs={"label", "depth"})
    assert set(out) == {("rgb", "label"), ("rgb", "depth")}


def test_encode_called_once_per_input(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ModelConfig.preset("tiny")
    model = create_model(cfg).eval()
    calls: list[str] = []
    orig = MultiModalEncoderDecoder.encode
    monkeypatch.setattr(
        MultiModalEncoderDecoder, "encode", lambda self, n, x: calls.append(n) or orig(self, n, x)
    )
    model(prepare_inputs(raw_batch(), cfg))
    assert sorted(calls) == ["depth", "label", "rgb"]


def test_unpool_copies_each_value_into_its_cell() -> None:
    from mmed_core.network.mmed import unpool

    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert unpool(x)[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_encoder_layout_matches_paper() -> None:
    cfg = ModelConfig.preset("tiny")
    model = create_model(cfg)
    enc = model.encoders["rgb"]
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 7 and len(bns) == 7
    assert all(
        c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs
    )
    dec = model.decoders["label"]
    dconvs = [m for m in dec.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(dconvs) == 7 and dec.skip and not model.decoders["depth"].skip
    assert not isinstance(list(dec.children())[-1], torch.nn.Sequential)  # last layer: plain Conv


def test_fourth_modality_is_one_registry_entry_and_trains() -> None:
    cfg = ModelConfig.preset("tiny", modalities=("rgb", "depth", "label", "normals"))
    model = create_model(cfg)
    batch = raw_batch()
    n = torch.randn(2, 3, 32, 32)
    batch["normals"] = n / n.norm(dim=1, keepdim=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        opt.zero_grad()
        loss, per_path = multipath_loss(model, batch)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert len(per_path) == 16 and ("normals", "label") in per_path
    assert loss.item() < first


def structured_batch(b: int = 2, h: int = 16) -> dict[str, torch.Tensor]:
    """Block scenes whose modalities determine each other (uniform noise is incompressible)."""
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(0, 12, (b, h // 4, h // 4), generator=g)
    label = blocks.repeat_interleave(4, 1).repeat_interleave(4, 2)
    palette = torch.tensor(ModelConfig().palette, dtype=torch.float32)
    return {
        "rgb": palette[label].permute(0, 3, 1, 2),
        "depth": (1.0 + 0.5 * label.float()).unsqueeze(1),
        "label": label,
    }


def test_overfits_one_batch_quickly() -> None:
    """A small model overfits one fixed sample on CPU in seconds: the all-paths loss falls by
    more than 90% (about 97% after 300 Adam steps; 90% leaves room for float noise)."""
    cfg = ModelConfig.preset("tiny")
    model = create_model(cfg)
    batch = structured_batch(b=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss, _ = multipath_loss(model, batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-10:]) < 0.1 * losses[0], (losses[0], losses[-10:])


# ---------------------------------------------------------------------------- bad input
@pytest.fixture()
def tiny() -> torch.nn.Module:
    return create_model(ModelConfig.preset("tiny")).eval()


def test_wrong_channel_count_names_input(tiny: torch.nn.Module) -> None:
    with pytest.raises(InputError, match=r"`rgb` must be \(B,3,H,W\).*\(1, 4, 32, 32\)"):
        tiny({"rgb": torch.zeros(1, 4, 32, 32)})


def test_size_not_divisible_by_4_suggests_padding(tiny: torch.nn.Module) -> None:
    with pytest.raises(InputError, match=r"\(30, 33\) is not divisible by 4.*\(32, 36\)"):
        tiny({"rgb": torch.zeros(1, 3, 30, 33)})
    out = tiny({"rgb": torch.zeros(1, 3, 30, 33)}, pad=True)
    assert out[("rgb", "label")].shape[-2:] == (30, 33)


def test_mismatched_batch_sizes(tiny: torch.nn.Module) -> None:
    with pytest.raises(InputError, match="batch sizes differ"):
        tiny({"rgb": torch.zeros(2, 3, 32, 32), "depth": torch.zeros(3, 1, 32, 32)})


def test_unknown_modality(tiny: torch.nn.Module) -> None:
    with pytest.raises(InputError, match="no encoder for input `thermal`"):
        tiny({"thermal": torch.zeros(1, 1, 32, 32)})
    with pytest.raises(InputError, match="no decoder for output `normals`"):
        tiny({"rgb": torch.zeros(1, 3, 32, 32)}, outputs={"normals"})
    with pytest.raises(ConfigError, match="Unknown modality `thermal`.*registered"):
        ModelConfig(modalities=("rgb", "thermal"))


def test_nan_input_is_rejected(tiny: torch.nn.Module) -> None:
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(InputError, match="`rgb` contains NaN"):
        tiny({"rgb": x})


def test_bad_config_values_are_named() -> None:
    with pytest.raises(ConfigError, match="Wrong method `unet`.*mmed"):
        ModelConfig(method="unet")
    with pytest.raises(ConfigError, match="input_size"):
        ModelConfig(input_size=(95, 96))
    with pytest.raises(ConfigError, match="single-task"):
        ModelConfig(method="enc-dec")
    with pytest.raises(ConfigError, match=r"Unknown model config key\(s\) \['widht'\]"):
        ModelConfig.from_dict({"widht": 3})
