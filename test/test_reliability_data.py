# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Data faults: a cache build killed half way and restarted; truncated images and .mat files;
a wrong dataset root. Every failure is a DatasetError/ConfigError naming the file or folder.

    python -m pytest test/test_reliability_data.py

Complements test_data_cache.py (a build that raises, a folder without a manifest) and the
corrupt-file tests of test_data_nyudv2.py / test_data_cityscapes.py (garbage bytes) with a real
SIGKILL and with files cut short, the usual result of an interrupted download or copy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmed_core.data import build_dataset
from mmed_core.data.cache import load_cache
from mmed_core.errors import ConfigError, DatasetError, MmedError

OPTS = {"n_test": 12, "progress": False}
SIZE = (16, 16)

# Child: build the synthetic test split's cache and SIGKILL itself while rendering frame 7.
_CHILD = r"""
import os, signal, sys
from mmed_core.data import build_dataset
from mmed_core.data.synthetic import SyntheticSource
real = SyntheticSource.load
def load(self, i):
    if i == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, i)
SyntheticSource.load = load
build_dataset("synthetic", "test", size=(16, 16), cache_dir=sys.argv[1],
              options={"n_test": 12, "progress": False})
"""


def test_cache_build_killed_half_way_is_rebuilt_on_restart(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cache)],
        capture_output=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # Only a hidden temporary folder is left; nothing under the cache's own name.
    assert not (cache / "synthetic-test").exists()
    leftovers = [p.name for p in cache.iterdir()]
    assert leftovers and all(name.startswith(".synthetic-test.tmp-") for name in leftovers)
    restarted = build_dataset("synthetic", "test", size=SIZE, cache_dir=cache, options=OPTS)
    fresh = build_dataset("synthetic", "test", size=SIZE, options=OPTS)  # in memory, no cache
    assert len(restarted) == len(fresh) == 12
    for i in (0, 7, 11):
        for key in ("rgb", "depth", "label"):
            assert torch.equal(restarted[i][key], fresh[i][key]), (i, key)
    load_cache(cache / "synthetic-test", verify=True)  # content hash matches the manifest


def test_truncated_cache_array_is_detected_and_rebuilt(tmp_path: Path) -> None:
    build_dataset("synthetic", "test", size=SIZE, cache_dir=tmp_path, options=OPTS)
    rgb = tmp_path / "synthetic-test" / "rgb.npy"
    rgb.write_bytes(rgb.read_bytes()[: rgb.stat().st_size // 2])
    with pytest.raises(DatasetError, match="rgb.npy"):
        load_cache(tmp_path / "synthetic-test")
    ds = build_dataset("synthetic", "test", size=SIZE, cache_dir=tmp_path, options=OPTS)
    assert len(ds) == 12 and ds[11]["rgb"].shape == (3, *SIZE)


def _cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02])
def test_truncated_images_are_named(tmp_path: Path, keep: float) -> None:
    from mmed_core.data.folders import ImageFolderSource
    from mmed_core.data.synthetic import SyntheticSource

    info = SyntheticSource("test", SIZE, 1).info
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    _cut(tmp_path / "b.jpg", keep)
    _cut(tmp_path / "a.png", keep)
    src = ImageFolderSource(tmp_path, info)
    for i in range(len(src)):
        try:
            rgb, _, _ = src.load(i)
        except DatasetError as exc:
            assert src.files[i].name in str(exc)
        else:  # a decoder may return the rows it got; then the image is at least whole-sized
            assert rgb.shape == (64, 64, 3)
    with pytest.raises(DatasetError, match=r"a\.png"):
        src.check()


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_nyu_mat_is_a_dataset_error_naming_it(tmp_path: Path, keep: float) -> None:
    from test_data_nyudv2 import write_labeled_mat

    from mmed_core.data.nyudv2 import NyuMat, NyuSource

    path = tmp_path / "labeled.mat"
    write_labeled_mat(path)
    _cut(path, keep)
    with pytest.raises(DatasetError, match="labeled.mat"):
        NyuMat(path)
        source = NyuSource(path, "train")
        for i in range(len(source)):
            source.load(i)


def test_truncated_cityscapes_png_is_named(tmp_path: Path) -> None:
    from test_data_cityscapes import _write_sample

    from mmed_core.data.cityscapes import CityscapesSource

    _write_sample(tmp_path, "train", "aachen", 0)
    for png in sorted(tmp_path.rglob("*.png")):
        whole = png.read_bytes()
        _cut(png, 0.5)
        with pytest.raises(DatasetError, match=png.name):
            CityscapesSource(tmp_path, "train", inpaint=False).load(0)
        png.write_bytes(whole)


@pytest.mark.parametrize(
    "name,root_kind",
    [
        ("nyudv2", "missing"),
        ("nyudv2", "folder"),
        ("nyudv2", "text file"),
        ("cityscapes", "missing"),
        ("cityscapes", "empty folder"),
        ("cityscapes", "text file"),
    ],
)
def test_wrong_dataset_root_names_it(tmp_path: Path, name: str, root_kind: str) -> None:
    root = tmp_path / "dsroot"
    if root_kind == "folder" or root_kind == "empty folder":
        root.mkdir()
    elif root_kind == "text file":
        root.write_text("not a dataset")
    with pytest.raises((DatasetError, ConfigError), match="dsroot"):
        build_dataset(name, "train", root=root, size=SIZE, options={"progress": False})


def test_wrong_root_in_a_training_config_is_refused_before_any_work(tmp_path: Path) -> None:
    from mmed_core.training.config import load_run_config

    with pytest.raises(ConfigError, match="data.root .* does not exist"):
        load_run_config(None, ["data.dataset=nyudv2", f"data.root={tmp_path / 'nope.mat'}"])
    with pytest.raises(MmedError):
        load_run_config(None, ["data.dataset=cityscapes", "data.root=null"])
        build_dataset("cityscapes", "train", root=None)
