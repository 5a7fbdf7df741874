# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Cityscapes on a tiny tree written here (16-bit disparity PNGs, labelIds, camera JSON).
Run: pytest test/test_data_cityscapes.py"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mmed_core.data import build_dataset
from mmed_core.data.cityscapes import (
    CityscapesSource,
    disparity_from_png,
    inpaint_invalid,
    metric_depth,
)
from mmed_core.data.cityscapes_labels import LABEL_TO_TRAIN
from mmed_core.data.classes import CITYSCAPES19_CLASSES, IGNORE_INDEX
from mmed_core.errors import DatasetError

H, W = 8, 16
BASELINE, FX = 0.2, 2000.0


def _write_sample(root, split, city, k):
    stem = f"{city}_{k:06d}_000019"
    for sub in ("leftImg8bit", "gtFine", "disparity", "camera"):
        (root / sub / split / city).mkdir(parents=True, exist_ok=True)
    rgb = np.full((H, W, 3), 40 * k % 256, np.uint8)
    rgb[0, 0] = (255, 0, 0)
    cv2.imwrite(
        str(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"), rgb[..., ::-1]
    )
    labels = np.full((H, W), 7, np.uint8)  # road
    labels[:, :4] = 26  # car
    labels[0, :] = 0  # unlabeled
    labels[1, :] = 29  # caravan: not a train class
    cv2.imwrite(str(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"), labels)
    disp = np.full((H, W), 513, np.uint16)  # d = (513 - 1) / 256 = 2.0 px
    disp[4, 8] = 0  # invalid
    disp[5, 8] = 1  # d = 0: invalid too
    cv2.imwrite(str(root / "disparity" / split / city / f"{stem}_disparity.png"), disp)
    (root / "camera" / split / city / f"{stem}_camera.json").write_text(
        json.dumps(
            {
                "extrinsic": {"baseline": BASELINE, "pitch": 0.0},
                "intrinsic": {"fx": FX, "fy": FX, "u0": 8, "v0": 4},
            }
        )
    )
    return stem


@pytest.fixture()
def root(tmp_path):
    r = tmp_path / "cityscapes"
    for k in range(2):
        _write_sample(r, "train", "aachen", k)
    for k, city in enumerate(["frankfurt", "frankfurt", "lindau", "munster"]):
        _write_sample(r, "val", city, k)
    extra = r / "leftImg8bit_trainextra" / "train_extra" / "bochum"
    extra.mkdir(parents=True)
    cv2.imwrite(str(extra / "bochum_000000_000019_leftImg8bit.png"), np.zeros((H, W, 3), np.uint8))
    return r


def test_label_table_matches_class_order():
    assert [int(LABEL_TO_TRAIN[i]) for i in (7, 8, 11, 26, 33)] == [0, 1, 2, 13, 18]
    assert sorted(set(LABEL_TO_TRAIN.tolist()) - {IGNORE_INDEX}) == list(range(19))
    assert LABEL_TO_TRAIN[0] == LABEL_TO_TRAIN[29] == LABEL_TO_TRAIN[255] == IGNORE_INDEX
    assert len(CITYSCAPES19_CLASSES) == 19


def test_disparity_decoding_by_hand():
    raw = np.array([[0, 1, 2, 257, 513, 65535]], np.uint16)
    np.testing.assert_allclose(disparity_from_png(raw), [[0, 0, 1 / 256, 1.0, 2.0, 65534 / 256]])


def test_inpainting_fills_holes_and_keeps_valid_pixels():
    d = np.full((9, 9), 3.0, np.float32)
    d[4, 4] = d[4, 5] = 0
    filled = inpaint_invalid(d)
    np.testing.assert_allclose(filled, 3.0, atol=0.01)  # a hole in a flat field: the field value
    ramp = np.tile(np.arange(1, 10, dtype=np.float32), (9, 1))
    holed = ramp.copy()
    holed[4, 4] = 0
    out = inpaint_invalid(holed)
    assert out[4, 4] == pytest.approx(5.0, abs=0.05)  # between its neighbours 4 and 6
    np.testing.assert_array_equal(np.delete(out.ravel(), 40), np.delete(ramp.ravel(), 40))


def test_metric_depth_by_hand():
    np.testing.assert_allclose(
        metric_depth(np.array([[2.0, 0.0, 4.0]], np.float32), BASELINE, FX), [[200.0, 0.0, 100.0]]
    )


def test_source_labels_and_disparity(root):
    rgb, disp, label = CityscapesSource(root, "train").load(0)
    assert rgb.shape == (H, W, 3) and tuple(rgb[0, 0]) == (255, 0, 0)
    assert (label[0] == IGNORE_INDEX).all() and (label[1] == IGNORE_INDEX).all()
    assert (label[2:, :4] == CITYSCAPES19_CLASSES.index("car")).all() and (
        label[2:, 4:] == 0
    ).all()
    np.testing.assert_allclose(disp, 2.0, atol=0.01)  # holes inpainted from a flat 2 px field
    _, raw, _ = CityscapesSource(root, "train", inpaint=False).load(0)
    assert raw[4, 8] == 0 and raw[5, 8] == 0 and raw[0, 0] == 2.0
    _, depth, _ = CityscapesSource(root, "train", depth="metric").load(0)
    np.testing.assert_allclose(depth, BASELINE * FX / 2.0, rtol=1e-4)


def test_val_test_are_seeded_halves_of_official_val(root):
    val, test = CityscapesSource(root, "val"), CityscapesSource(root, "test")
    assert len(val) == len(test) == 2
    assert sorted(val.stems + test.stems) == sorted(
        CityscapesSource(root, "val", seed=0).stems + CityscapesSource(root, "test", seed=0).stems
    )
    assert not set(val.stems) & set(test.stems)
    assert val.stems == CityscapesSource(root, "val").stems


def test_build_dataset_cityscapes_and_extra(root, tmp_path):
    ds = build_dataset(
        "cityscapes",
        "train",
        root=root,
        size=(4, 8),
        cache_dir=tmp_path / "c",
        options={"progress": False},
    )
    assert ds.info.depth_units == "disparity" and len(ds) == 2
    assert ds[0]["depth"].shape == (1, 4, 8) and float(ds[0]["depth"].min()) > 1.9
    extra = build_dataset("cityscapes", "extra", root=root, size=(4, 8))
    assert len(extra) == 1 and not bool(extra[0]["paired"])
    metric = build_dataset("cityscapes", "val", root=root, options={"depth": "metric"})
    assert metric.info.depth_units == "m"


def test_missing_and_corrupt_files_are_named(root):
    disp = next((root / "disparity" / "train").rglob("*_disparity.png"))
    disp.unlink()
    with pytest.raises(DatasetError, match="aachen_000000_000019_disparity.png"):
        CityscapesSource(root, "train")
    disp.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match="_disparity.png.*corrupt"):
        CityscapesSource(root, "train").load(0)
    cv2.imwrite(str(disp), np.zeros((H, W), np.uint8))  # 8-bit instead of 16-bit
    with pytest.raises(DatasetError, match="uint16"):
        CityscapesSource(root, "train").load(0)
    cam = next((root / "camera" / "train").rglob("*.json"))
    cam.write_text("{}")
    cv2.imwrite(str(disp), np.full((H, W), 513, np.uint16))
    with pytest.raises(DatasetError, match="_camera.json.*baseline"):
        CityscapesSource(root, "train", depth="metric").load(0)
