# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Training augmentation and the Kinect-like depth input (mmed_core.data.augment), the separate
inputs in collate and the losses, and the trainer's use of them (training set only, resumable).

python -m pytest test/test_data_augment.py
"""

from __future__ import annotations

import json
import pickle
import signal
import tracemalloc

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_train_support import factory, tiny_run
from torch.utils.data import ConcatDataset

from mmed_core.data.augment import AUGMENTS, AugmentConfig, TrainTransform, augment_sample
from mmed_core.data.base import DatasetInfo
from mmed_core.data.cache import build_cache, load_cache
from mmed_core.data.classes import NYU12_PALETTE
from mmed_core.data.collate import collate
from mmed_core.errors import ConfigError, InputError
from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss
from mmed_core.training.trainer import build_datasets, train

PALETTE = torch.tensor(NYU12_PALETTE, dtype=torch.float32)


def _sample(h: int = 32, w: int = 40, seed: int = 0) -> dict[str, torch.Tensor]:
    """Blocks of classes; RGB is the class colour and depth a function of the class, so each
    modality can be read from any other."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 12, (h // 8, w // 8), generator=g).repeat_interleave(8, 0)
    label = label.repeat_interleave(8, 1)
    label[0, :5] = 255
    rgb = PALETTE[label.clamp(max=11)].permute(2, 0, 1).contiguous()
    depth = (1.0 + 0.5 * label.clamp(max=11).float())[None]
    normals = torch.zeros(3, h, w)
    normals[0] = torch.linspace(-1, 1, w)  # x component grows to the right
    normals[2] = -1
    return {
        "rgb": rgb,
        "depth": depth,
        "label": label,
        "normals": normals,
        "paired": torch.tensor(True),
    }


def _consistent(s: dict[str, torch.Tensor]) -> None:
    """Depth and label say the same everywhere; RGB agrees away from class edges (bilinear)."""
    label = s["label"]
    known = label != 255
    torch.testing.assert_close(
        s["depth"][0][known], 1.0 + 0.5 * label[known].float(), rtol=0, atol=0
    )
    same = torch.ones_like(known)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            same &= label == label.roll((dy, dx), (0, 1))
    same[[0, -1]] = False
    same[:, [0, -1]] = False
    inside = same & known
    assert inside.sum() > 50
    torch.testing.assert_close(
        s["rgb"].permute(1, 2, 0)[inside], PALETTE[label[inside]], rtol=0, atol=1e-3
    )


def test_flip_and_zoom_move_every_modality_alike():
    base = _sample()
    flipped = augment_sample(base, AugmentConfig(flip=1.0), np.random.default_rng(0))
    for key in ("rgb", "depth", "label"):
        assert torch.equal(flipped[key], base[key].flip(-1)), key
    assert torch.equal(flipped["normals"][0], -base["normals"][0].flip(-1))  # mirrored x
    assert torch.equal(flipped["normals"][2], base["normals"][2])
    for seed in range(5):
        zoomed = augment_sample(
            base, AugmentConfig(flip=0.5, zoom=(1.2, 1.5)), np.random.default_rng(seed)
        )
        assert zoomed["rgb"].shape == base["rgb"].shape
        assert zoomed["label"].dtype == torch.int64
        assert not torch.equal(zoomed["label"], base["label"])
        assert set(zoomed["label"].unique().tolist()) <= set(base["label"].unique().tolist())
        _consistent(zoomed)
        assert "rgb_input" not in zoomed  # no photometric jitter asked


def test_jitter_goes_to_the_rgb_input_only():
    base = _sample()
    cfg = AUGMENTS["standard"]
    assert cfg is not None
    out = augment_sample(base, cfg, np.random.default_rng(3))
    _consistent(out)  # targets: geometry only
    assert not torch.equal(out["rgb_input"], out["rgb"])
    assert float(out["rgb_input"].min()) >= 0 and float(out["rgb_input"].max()) <= 255
    # one colour map for the whole image: pixels of one colour stay of one colour
    pixels_in, pixels = out["rgb_input"].flatten(1).T, out["rgb"].flatten(1).T
    seen = 0
    for colour in PALETTE:
        same = (pixels - colour).abs().sum(1) < 1e-3
        if same.any():
            seen += 1
            assert float((pixels_in[same] - pixels_in[same][0]).abs().max()) < 1e-3
    assert seen >= 3


def test_randconv_scrambles_colours_of_the_rgb_input_only_and_keeps_standard_draws():
    """randconv: the targets move as under `standard` with the same draws; the RGB input of a
    convolved sample is no longer one colour per class (texture and colour scrambled, shapes
    kept), stays in 0..255 and keeps each channel's mean about where it was."""
    base = _sample()
    rc, std = AUGMENTS["randconv"], AUGMENTS["standard"]
    assert rc is not None and std is not None and rc.randconv > 0 and std.randconv == 0
    convolved = 0
    for seed in range(12):
        out = augment_sample(base, rc, np.random.default_rng(seed))
        ref = augment_sample(base, std, np.random.default_rng(seed))
        _consistent(out)
        for key in ("rgb", "depth", "label"):  # the same flip/zoom: randconv draws after them
            assert torch.equal(out[key], ref[key]), (seed, key)
        x = out["rgb_input"]
        assert float(x.min()) >= 0 and float(x.max()) <= 255
        if torch.equal(x, ref["rgb_input"]):
            continue  # this sample drew no convolution
        convolved += 1
        means = x.flatten(1).mean(1) - ref["rgb_input"].flatten(1).mean(1)
        assert float(means.abs().max()) < 40
    assert 2 <= convolved <= 10  # about half of 12


def test_randconv_mixes_neighbouring_pixels():
    """A wide kernel on a two-colour image gives colours that are in neither half."""
    rgb = torch.zeros(3, 32, 32)
    rgb[:, :, 16:] = 200.0
    rgb[0, :, :16] = 120.0
    cfg = AugmentConfig(randconv=1.0, randconv_kernels=(7,))
    from mmed_core.data.augment import _randconv

    y = _randconv(rgb, cfg, np.random.default_rng(0))
    colours = {tuple(c) for c in y.flatten(1).T.round().int().tolist()}
    assert len(colours) > 4 and y.shape == rgb.shape


def test_augment_preview_draws_a_grid(tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    import cv2

    path = Path(__file__).resolve().parents[1] / "scripts" / "augment_preview.py"
    spec = importlib.util.spec_from_file_location("augment_preview", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "p.png"
    argv = ["x", "--frames", "2", "--draws", "3", "--size", "24", "32", "--zoom", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    assert module.main() == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (2 * 24 + 4, 4 * 32 + 3 * 4, 3)


def test_draws_depend_on_seed_epoch_and_index_only():
    ds = factory("synthetic", "train", size=(32, 32))
    a = TrainTransform(ds, "standard", "kinect", seed=1)
    b = TrainTransform(ds, "standard", "kinect", seed=1)
    first = [b[i] for i in (5, 2, 7)]  # another order
    for i, s in zip((5, 2, 7), first):
        for key, value in a[i].items():
            assert torch.equal(value, s[key]), (i, key)
    copy = pickle.loads(pickle.dumps(a))  # as DataLoader workers get it
    assert torch.equal(copy[5]["rgb_input"], a[5]["rgb_input"])
    other_seed = TrainTransform(ds, "standard", "kinect", seed=2)[5]
    a.set_epoch(1)
    other_epoch = a[5]
    for other in (other_seed, other_epoch):
        assert not torch.equal(other["rgb_input"], first[0]["rgb_input"])
        assert not torch.equal(other["depth_input"], first[0]["depth_input"])


def test_kinect_input_differs_while_the_target_stays_clean():
    ds = factory("synthetic", "train", size=(32, 32))
    t = TrainTransform(ds, "none", "kinect", seed=0)
    for i in range(4):
        clean, s = ds[i], t[i]
        assert torch.equal(s["depth"], clean["depth"])  # the target
        assert torch.equal(s["rgb"], clean["rgb"]) and torch.equal(s["label"], clean["label"])
        assert "rgb_input" not in s
        inp = s["depth_input"]
        assert inp.shape == clean["depth"].shape
        holes = inp == 0
        assert holes.any() and not (clean["depth"] == 0).any()
        err = (inp - clean["depth"])[~holes].abs()
        assert 0 < float(err.mean()) < 0.3  # noisy, still the same scene


def test_unpaired_samples_and_collate():
    train_ds = factory("synthetic", "train", size=(32, 32))
    extra = factory("synthetic", "extra", size=(32, 32), options={"n_extra": 4})
    t = TrainTransform(ConcatDataset([train_ds, extra]), "standard", "kinect", seed=0)
    unpaired = t[len(train_ds) + 1]
    assert not bool(unpaired["paired"])
    assert (unpaired["depth_input"] == 0).all() and (unpaired["label"] == 255).all()
    batch = collate([t[0], unpaired, train_ds[1]])  # the last without separate inputs
    assert batch["depth_input"].shape == batch["depth"].shape
    assert torch.equal(batch["depth_input"][2], batch["depth"][2])  # its target stands in
    assert torch.equal(batch["rgb_input"][2], batch["rgb"][2])
    assert batch["paired"].tolist() == [True, False, True]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(ModelConfig.preset("tiny", input_size=(32, 32))).eval()


def test_losses_encode_the_separate_input_and_score_the_clean_target():
    ds = factory("synthetic", "train", size=(32, 32))
    batch = collate([ds[i] for i in range(4)])
    model = _model()
    with torch.no_grad():
        _, plain = multipath_loss(model, batch)
        same = {**batch, "depth_input": batch["depth"].clone()}
        _, with_same = multipath_loss(model, same)
        noisy = {**batch, "depth_input": batch["depth"] * 1.3}
        _, with_noisy = multipath_loss(model, noisy)
        _, batched = batched_multipath_loss(model, noisy)
    assert all(torch.equal(plain[p], with_same[p]) for p in plain)
    for (src, dst), value in with_noisy.items():
        changed = not torch.equal(value, plain[(src, dst)])
        assert changed == (src == "depth"), (src, dst)
    for p in with_noisy:
        torch.testing.assert_close(batched[p], with_noisy[p])
    with pytest.raises(InputError, match="depth_input"):
        multipath_loss(model, {**batch, "depth_input": batch["depth"][:, :, :16]})


def test_off_by_default_and_validation_never_augmented(tmp_path):
    plain = tiny_run(tmp_path / "a")
    assert plain.data.augment == "none" and plain.data.depth_input == "clean"
    train_ds, _, val_ds, _ = build_datasets(plain, factory)
    assert not isinstance(train_ds, TrainTransform)  # bit-identical batches: no wrapper at all
    assert not isinstance(val_ds, TrainTransform)
    assert set(collate([train_ds[0]])) == {"rgb", "depth", "label", "paired"}
    reference = factory("synthetic", "val", size=(32, 32))
    run = tiny_run(tmp_path / "b", "data.augment=standard")
    train_ds, _, val_ds, _ = build_datasets(run, factory)
    assert isinstance(train_ds, TrainTransform)
    assert not isinstance(val_ds, TrainTransform)  # augmentation: the training set only
    assert set(val_ds[0]) == set(reference[0])
    for key, value in val_ds[0].items():
        assert torch.equal(value, reference[0][key])


def test_kinect_validation_reads_fixed_sensor_like_depth_and_clean_targets(tmp_path):
    from mmed_core.data.augment import with_depth_input

    reference = factory("synthetic", "val", size=(32, 32))
    run = tiny_run(tmp_path, "data.augment=standard", "data.depth_input=kinect", "train.seed=3")
    train_ds, _, val_ds, _ = build_datasets(run, factory)
    first = [val_ds[i] for i in range(len(val_ds))]
    train_ds.set_epoch(5)  # training draws anew each epoch; validation never changes
    for i, s in enumerate(first):
        ref = reference[i]
        for key in ("rgb", "depth", "label", "paired"):  # no augmentation, clean targets
            assert torch.equal(s[key], ref[key]), key
        assert "rgb_input" not in s  # no colour jitter either
        noisy, clean = s["depth_input"], ref["depth"]
        assert noisy.shape == clean.shape and not torch.equal(noisy, clean)
        assert (noisy == 0).any()  # holes, as the sensor gives
        assert torch.equal(val_ds[i]["depth_input"], noisy)  # the same draw whenever asked
    # the draw of mmed-eval --depth-input kinect --seed <train.seed> on the same split
    evaluated = with_depth_input(reference, "kinect", seed=3)
    assert all(torch.equal(evaluated[i]["depth_input"], first[i]["depth_input"]) for i in (0, 1))
    other_seed = tiny_run(tmp_path, "data.depth_input=kinect", "train.seed=4")
    _, _, val_other, _ = build_datasets(other_seed, factory)
    assert not torch.equal(val_other[0]["depth_input"], first[0]["depth_input"])


def test_mixed_input_reads_kinect_depth_for_about_half_and_validates_on_kinect(tmp_path):
    from mmed_core.data.augment import MIXED_KINECT_P, with_depth_input

    ds = factory("synthetic", "train", size=(32, 32))
    mixed = TrainTransform(ds, "none", "mixed", seed=0)
    kinds = []
    for epoch in (0, 1, 2):
        mixed.set_epoch(epoch)
        for i in range(len(ds)):
            s = mixed[i]
            assert torch.equal(s["depth"], ds[i]["depth"])  # the target stays clean
            kinds.append("depth_input" in s)
            if kinds[-1]:
                assert (s["depth_input"] == 0).any()  # a sensor-like draw, with holes
    share = sum(kinds) / len(kinds)
    assert abs(share - MIXED_KINECT_P) < 0.25, share
    # the choice is drawn per sample and epoch
    assert len(set(kinds[: len(ds)])) == 2 and kinds[: len(ds)] != kinds[len(ds) : 2 * len(ds)]
    # batches mix both: collate lets a clean sample's depth stand in as its input
    batch = collate([mixed[i] for i in range(4)])
    assert batch["depth_input"].shape == batch["depth"].shape
    # validation reads the Kinect-like depth, the draw of mmed-eval --depth-input kinect
    run = tiny_run(tmp_path, "data.depth_input=mixed", "train.seed=3")
    _, _, val_ds, _ = build_datasets(run, factory)
    evaluated = with_depth_input(factory("synthetic", "val", size=(32, 32)), "kinect", seed=3)
    assert torch.equal(val_ds[0]["depth_input"], evaluated[0]["depth_input"])
    with pytest.raises(ConfigError, match=r"--depth-input must be one of \['clean', 'kinect'\]"):
        with_depth_input(ds, "mixed", where="--depth-input")


def test_kinect_run_records_its_validation_input_and_old_states_keep_clean(tmp_path, capsys):
    opts = ("train.epochs=1", "data.depth_input=kinect", "train.max_steps_per_epoch=1")
    train(tiny_run(tmp_path / "k", *opts), dataset_factory=factory)
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["validation"]["depth_input"] == "kinect"
    assert summary["validation"]["depth_input_seed"] == 0
    card = json.loads((tmp_path / "k" / "best.json").read_text())
    assert card["validation"]["depth_input"] == "kinect"
    state = json.loads((tmp_path / "k" / "state.json").read_text())
    assert state["val_depth_input"] == "kinect"
    # validation differs from a clean one: it scored the noisy input
    train(tiny_run(tmp_path / "c", *opts[::2]), dataset_factory=factory)
    clean = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert clean["validation"]["depth_input"] == "clean"
    assert clean["validation"]["depth_input_seed"] is None
    assert summary["final"]["val_depth2label"] != clean["final"]["val_depth2label"]
    # A state written before validation read data.depth_input resumes validating on clean.
    del state["val_depth_input"]
    (tmp_path / "k" / "state.json").write_text(json.dumps(state))
    capsys.readouterr()
    more = (*opts[:2], "train.epochs=2", "train.max_steps_per_epoch=1")
    train(tiny_run(tmp_path / "k", *more[1:]), dataset_factory=factory, resume=True)
    assert "goes on validating on clean depth" in capsys.readouterr().out
    resumed = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert resumed["validation"]["depth_input"] == "clean" and resumed["epochs_done"] == 2
    assert json.loads((tmp_path / "k" / "state.json").read_text())["val_depth_input"] == "clean"


@pytest.mark.parametrize(
    "override, match",
    [("data.augment=mirror", "data.augment"), ("data.depth_input=noisy", "data.depth_input")],
)
def test_bad_values_are_named(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        tiny_run(tmp_path, override)


def test_kinect_needs_metric_depth(tmp_path):
    def disparity(name, split, **kw):
        ds = factory(name, split, **kw)
        ds.info = ds.info._replace(depth_units="disparity")
        return ds

    with pytest.raises(ConfigError, match="metric"):
        build_datasets(tiny_run(tmp_path, "data.depth_input=kinect"), disparity)


def _interrupt_at(step: int):
    def hook(epoch: int, global_step: int) -> None:
        if global_step == step:
            signal.raise_signal(signal.SIGINT)

    return hook


def test_augmented_run_resumes_exactly(tmp_path):
    opts = (
        "train.epochs=2",
        "data.extra=true",
        "data.augment=standard",
        "data.depth_input=kinect",
    )
    full = train(tiny_run(tmp_path / "full", *opts), dataset_factory=factory)
    cut = train(
        tiny_run(tmp_path / "cut", *opts), dataset_factory=factory, on_step=_interrupt_at(5)
    )
    assert cut.status == "interrupted"
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step_in_epoch"] == 5
    done = train(tiny_run(tmp_path / "cut", *opts), dataset_factory=factory, resume=True)
    assert done.global_step == full.global_step
    a = load_file(str(tmp_path / "full" / "last.safetensors"))
    b = load_file(str(tmp_path / "cut" / "last.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # and the augmentation did change training: not the weights of a plain run
    plain = train(tiny_run(tmp_path / "plain", *opts[:2]), dataset_factory=factory)
    assert plain.global_step == full.global_step
    c = load_file(str(tmp_path / "plain" / "last.safetensors"))
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_dataloader_workers_get_the_same_draws(tmp_path):
    opts = ("train.epochs=2", "data.augment=standard", "data.depth_input=kinect")
    train(tiny_run(tmp_path / "w0", *opts), dataset_factory=factory)
    train(tiny_run(tmp_path / "w2", *opts, "train.num_workers=2"), dataset_factory=factory)
    a = load_file(str(tmp_path / "w0" / "last.safetensors"))
    b = load_file(str(tmp_path / "w2" / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # set_epoch reaches the worker processes


class _Blocks:
    """A cheap native-size source (no rendering) for the cache tests."""

    paired, info = True, DatasetInfo("blocks", ("a",), ((1, 2, 3),), (0.5, 10.0), "m")

    def __init__(self, n: int, size: tuple[int, int]) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def load(self, index: int):
        rng = np.random.default_rng(index)
        h, w = self.size
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        depth = rng.uniform(0.5, 5.0, (h, w)).astype(np.float32)
        label = rng.integers(0, 12, (h, w), dtype=np.uint8)
        return rgb, depth, label

    def fingerprint(self) -> dict:
        return {"blocks": self.n, "size": list(self.size)}


def test_augmenting_a_memory_mapped_cache_reads_one_sample_at_a_time(tmp_path):
    build_cache(_Blocks(6, (24, 32)), (24, 32), tmp_path / "c", progress=False)
    cached = load_cache(tmp_path / "c")
    before = np.array(cached.rgb)
    t = TrainTransform(cached, "standard", "kinect", seed=0)
    for i in range(len(t)):
        s = t[i]
        assert s["rgb"].shape == (3, 24, 32) and s["depth_input"].shape == (1, 24, 32)
    assert isinstance(cached.rgb, np.memmap) and not cached.rgb.flags.writeable
    assert np.array_equal(np.asarray(cached.rgb), before)


@pytest.mark.parametrize("workers, n, size", [(1, 200, (128, 128)), (2, 1200, (64, 64))])
def test_cache_build_streams_frame_by_frame(tmp_path, workers, n, size):
    """Building a cache never holds the data set in memory: the arrays are memory maps filled
    one sample at a time (with workers: at most 2 chunks per worker ahead of the writer).
    26-39 MB of frames, peak under a third of it."""
    total = n * size[0] * size[1] * (3 + 4 + 1)
    tracemalloc.start()
    try:
        build_cache(_Blocks(n, size), size, tmp_path / "c", progress=False, workers=workers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 25e6 and peak < total / 3, (total, peak)
    cached = load_cache(tmp_path / "c", verify=True)
    last = _Blocks(n, size).load(n - 1)
    assert np.array_equal(cached.rgb[n - 1], last[0]) and np.array_equal(cached.label[-1], last[2])
