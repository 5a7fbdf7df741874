# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Resizing, the preprocessing cache, image folders and the mmed-data CLI.
Run: pytest test/test_data_cache.py"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmed_core.cli.data import main
from mmed_core.data import build_dataset
from mmed_core.data.base import DatasetInfo
from mmed_core.data.cache import build_cache, cache_folder, cached_dataset, load_cache
from mmed_core.data.folders import ImageFolderSource, list_images
from mmed_core.data.resize import resize_depth, resize_label, resize_rgb
from mmed_core.errors import DatasetError

OPTS = {"n_train": 4, "n_val": 2, "n_test": 2, "n_extra": 2, "progress": False}
INFO = DatasetInfo("folder", ("a",), ((1, 2, 3),), (0.5, 10.0), "m")


def test_depth_resize_averages_valid_pixels_only():
    depth = np.array([[1, 3, 0, 0], [0, 2, 0, 0], [4, 4, 5, 0], [4, 4, 0, 7]], np.float32)
    np.testing.assert_allclose(resize_depth(depth, (2, 2)), [[2.0, 0.0], [4.0, 6.0]], rtol=1e-6)


def test_label_resize_is_nearest_and_rgb_is_area():
    label = np.kron(np.array([[1, 2], [3, 255]], np.uint8), np.ones((4, 4), np.uint8))
    small = resize_label(label, (2, 2))
    np.testing.assert_array_equal(small, [[1, 2], [3, 255]])
    assert set(np.unique(resize_label(label, (3, 5)))) <= {1, 2, 3, 255}
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, :2] = 200
    np.testing.assert_array_equal(resize_rgb(rgb, (1, 2))[0, :, 0], [200, 0])


def test_cache_round_trip_equals_in_memory(tmp_path):
    memory = build_dataset("synthetic", "train", options=OPTS)
    cached = build_dataset("synthetic", "train", cache_dir=tmp_path, options=OPTS)
    assert isinstance(cached.rgb, np.memmap) and len(cached) == 4
    for i in range(4):
        for key in ("rgb", "depth", "label", "paired"):
            assert torch.equal(memory[i][key], cached[i][key])
    manifest = json.loads((tmp_path / "synthetic-train" / "manifest.json").read_text())
    assert manifest["config"]["size"] == [96, 96] and len(manifest["content_hash"]) == 64
    assert manifest["source"]["generator"] == "mmed-synthetic"
    load_cache(tmp_path / "synthetic-train", verify=True)


def test_cache_reused_then_rebuilt_when_config_changes(tmp_path):
    build_dataset("synthetic", "val", cache_dir=tmp_path, options=OPTS)
    rgb = tmp_path / "synthetic-val" / "rgb.npy"
    stamp = rgb.stat().st_mtime_ns
    build_dataset("synthetic", "val", cache_dir=tmp_path, options=OPTS)
    assert rgb.stat().st_mtime_ns == stamp  # same config: reused
    ds = build_dataset("synthetic", "val", size=(48, 64), cache_dir=tmp_path, options=OPTS)
    assert ds[0]["rgb"].shape == (3, 48, 64)  # new size: rebuilt
    ds = build_dataset(
        "synthetic", "val", size=(48, 64), cache_dir=tmp_path, options={**OPTS, "n_val": 3}
    )
    assert len(ds) == 3  # new source: rebuilt
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


class _Exploding:
    """A source that fails half-way, like a crash or a corrupt file during a build."""

    paired, info = True, INFO

    def __len__(self):
        return 4

    def load(self, i):
        if i == 2:
            raise DatasetError("sample 2: boom")
        return (
            np.zeros((8, 8, 3), np.uint8),
            np.ones((8, 8), np.float32),
            np.zeros((8, 8), np.uint8),
        )

    def fingerprint(self):
        return {"kind": "exploding"}


def test_half_built_cache_is_never_used(tmp_path):
    folder = cache_folder(tmp_path, "folder", "train")
    with pytest.raises(DatasetError, match="boom"):
        build_cache(_Exploding(), (8, 8), folder, progress=False)
    assert not folder.exists() and not list(tmp_path.iterdir())
    # A folder with arrays but no manifest (e.g. copied half-way) is rebuilt, not used.
    expected = build_dataset("synthetic", "test", cache_dir=tmp_path, options=OPTS)[1]["rgb"]
    target = tmp_path / "synthetic-test"
    (target / "manifest.json").unlink()
    np.save(target / "rgb.npy", np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(DatasetError, match="manifest"):
        load_cache(target)
    again = build_dataset("synthetic", "test", cache_dir=tmp_path, options=OPTS)
    assert torch.equal(again[1]["rgb"], expected)
    # A manifest whose arrays do not match it: rebuilt too.
    np.save(target / "label.npy", np.zeros((1, 2, 2), np.uint8))
    assert len(build_dataset("synthetic", "test", cache_dir=tmp_path, options=OPTS)) == 2


def _write_images(root):
    (root / "a" / "b").mkdir(parents=True)
    img = np.full((6, 10, 3), (10, 20, 30), np.uint8)  # BGR on disk
    cv2.imwrite(str(root / "x.png"), img)
    cv2.imwrite(str(root / "a" / "y.jpg"), img)
    cv2.imwrite(str(root / "a" / "b" / "z.bmp"), img[..., 0])  # grey
    (root / "notes.txt").write_text("not an image")


def test_folder_is_recursive_and_reads_rgb(tmp_path):
    _write_images(tmp_path)
    src = ImageFolderSource(tmp_path, INFO)
    assert [p.name for p in src.files] == ["z.bmp", "y.jpg", "x.png"]
    rgb, depth, label = src.load(2)
    assert tuple(rgb[0, 0]) == (30, 20, 10) and depth is None and label is None
    assert src.load(0)[0].shape == (6, 10, 3)
    ds = build_dataset("nyudv2", "extra", options={"extra_dir": str(tmp_path)}, size=(3, 5))
    assert len(ds) == 3 and ds[0]["rgb"].shape == (3, 3, 5) and not bool(ds[0]["paired"])


def test_folder_errors_name_the_file_or_folder(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        list_images(tmp_path)
    with pytest.raises(DatasetError, match="nothing"):
        list_images(tmp_path / "absent")
    _write_images(tmp_path)
    (tmp_path / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    src = ImageFolderSource(tmp_path, INFO)
    with pytest.raises(DatasetError, match="broken.png"):
        src.load([p.name for p in src.files].index("broken.png"))
    with pytest.raises(DatasetError, match="1 corrupt image.*broken.png"):
        src.check()
    with pytest.raises(DatasetError, match="broken.png"):
        cached_dataset(src, (4, 4), tmp_path / "cache", "extra", progress=False)


def test_cli_synth_inspect_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "synth"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--n-train",
                "3",
                "--n-val",
                "1",
                "--n-test",
                "1",
                "--n-extra",
                "1",
                "--size",
                "32",
                "32",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        f"synthetic-{s}" for s in ("extra", "test", "train", "val")
    ]
    assert (
        main(["inspect", str(out / "synthetic-train"), "--preview", str(tmp_path / "p.png")]) == 0
    )
    text = capsys.readouterr().out
    assert "3 samples" in text and "wall" in text and "depth: valid" in text
    grid = cv2.imread(str(tmp_path / "p.png"))
    assert grid.shape == (3 * 32, 3 * 32, 3)
    # The dataset name form, and a cache of the synthetic dataset in a new folder.
    assert (
        main(
            ["inspect", "synthetic", "--split", "val", "--size", "16", "16", "--option", "n_val=2"]
        )
        == 0
    )
    assert (tmp_path / "mmed-preview-synthetic-val.png").is_file()
    assert (
        main(
            [
                "cache",
                "synthetic",
                "--cache-dir",
                str(tmp_path / "c"),
                "--split",
                "test",
                "--option",
                "n_test=2",
                "--option",
                "progress=false",
            ]
        )
        == 0
    )
    assert (tmp_path / "c" / "synthetic-test" / "manifest.json").is_file()


def test_cli_reports_errors_and_help(tmp_path, capsys):
    assert (
        main(["cache", "nyudv2", "--cache-dir", str(tmp_path), "--root", str(tmp_path / "no.mat")])
        == 2
    )
    assert "no.mat" in capsys.readouterr().err
    assert main(["inspect", "synthetic", "--option", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "synth" in capsys.readouterr().out
    assert os.environ.get("MMED_NEVER_SET") is None


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(0, 2**31 - 1),
)
def test_depth_resize_never_invents_depths(h, w, oh, ow, seed):
    """Every output is 0 or lies between the smallest and largest valid input depth."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 10.0, (h, w)).astype(np.float32) * (rng.random((h, w)) > 0.4)
    out = resize_depth(depth, (oh, ow))
    assert out.shape == (oh, ow) and (out >= 0).all()
    valid = depth[depth > 0]
    if valid.size:
        inside = out[out > 0]
        assert (inside >= valid.min() - 1e-4).all() and (inside <= valid.max() + 1e-4).all()
    else:
        assert not out.any()


def test_parallel_build_gives_the_same_frames(tmp_path):
    serial = build_dataset("synthetic", "train", options={**OPTS, "n_train": 3})
    parallel = build_dataset("synthetic", "train", options={**OPTS, "n_train": 3, "workers": 2})
    for i in range(3):
        assert torch.equal(serial[i]["rgb"], parallel[i]["rgb"])
        assert torch.equal(serial[i]["label"], parallel[i]["label"])
