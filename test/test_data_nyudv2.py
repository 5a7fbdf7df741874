# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""NYUDv2 labeled .mat (v7.3/HDF5), splits.mat and class mappings, on tiny fixtures written here
in the real formats. Run: pytest test/test_data_nyudv2.py"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import scipy.io

from mmed_core.data import build_dataset
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.nyudv2 import NyuMat, NyuSource
from mmed_core.data.splits import seeded_split
from mmed_core.errors import ConfigError, DatasetError

N, H, W = 6, 4, 5
# Fine names as in the real file (label k = NAMES[k-1]); includes both book spellings and
# 'television'.
NAMES = ["book", "wall", "books", "television", "chair", "floor", "tv stand", "Sofa"]
BOOK, WALL, TV, FLOOR, SOFA = (
    NYU12_CLASSES.index(c) for c in ("book", "wall", "tv", "floor", "sofa")
)


def pattern(n: int, c: int, y: int, x: int) -> int:
    return (n * 40 + c * 13 + y * 7 + x * 3) % 256


def write_labeled_mat(path, *, names=NAMES, drop: str | None = None, images_shape=None) -> dict:
    """A v7.3 .mat as MATLAB writes it: HDF5 with a 512-byte header, arrays transposed
    (N,.., W, H), names as object references to uint16 char arrays."""
    img = np.zeros((N, H, W, 3), np.uint8)
    for n in range(N):
        for c in range(3):
            for y in range(H):
                for x in range(W):
                    img[n, y, x, c] = pattern(n, c, y, x)
    depth = np.arange(N * H * W, dtype=np.float32).reshape(N, H, W) / 10 + 0.5
    label = np.zeros((N, H, W), np.uint16)
    label[:, 0, :] = 2  # wall
    label[:, 1, 0] = 1  # book
    label[:, 1, 1] = 3  # books
    label[:, 1, 2] = 4  # television
    label[:, 1, 3] = 5  # chair -> ignored
    label[:, 2, :] = 6  # floor
    label[:, 3, 4] = 8  # "Sofa" (case) -> sofa
    with h5py.File(path, "w", userblock_size=512) as f:
        if drop != "images":
            f.create_dataset(
                "images",
                data=img.transpose(0, 3, 2, 1)
                if images_shape is None
                else np.zeros(images_shape, np.uint8),
            )
        if drop != "depths":
            f.create_dataset("depths", data=depth.transpose(0, 2, 1))
        f.create_dataset("rawDepths", data=np.where(depth > 2, depth, 0).transpose(0, 2, 1))
        if drop != "labels":
            f.create_dataset("labels", data=label.transpose(0, 2, 1))
        refs = f.create_group("#refs#")
        ref_type = h5py.special_dtype(ref=h5py.Reference)
        names_ds = f.create_dataset("names", (1, len(names)), dtype=ref_type)
        for k, name in enumerate(names):
            chars = refs.create_dataset(
                f"n{k}", data=np.array([[ord(ch)] for ch in name], np.uint16)
            )
            names_ds[0, k] = chars.ref
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test".ljust(116))
    return {"rgb": img, "depth": depth, "label": label}


@pytest.fixture()
def mat(tmp_path):
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    return path, write_labeled_mat(path)


def test_transposes_put_pixels_where_matlab_had_them(mat):
    path, truth = mat
    nyu = NyuMat(path)
    assert (nyu.count, nyu.height, nyu.width) == (N, H, W)
    img = nyu.image(2)
    assert img.shape == (H, W, 3)
    assert img[1, 3, 2] == pattern(2, 2, 1, 3)  # row 1, column 3, blue
    np.testing.assert_array_equal(img, truth["rgb"][2])
    np.testing.assert_allclose(nyu.depth(4), truth["depth"][4])
    assert nyu.depth(0, "rawDepths")[0, 0] == 0 < nyu.depth(0)[0, 0]  # raw depth keeps holes
    assert nyu.names == NAMES


def test_fine_names_map_to_the_paper_classes(mat):
    path, _ = mat
    rgb, depth, label = NyuSource(path, "train").load(0)
    assert (label[0] == WALL).all() and (label[2] == FLOOR).all()
    assert label[1, 0] == BOOK and label[1, 1] == BOOK and label[1, 2] == TV
    assert label[1, 3] == IGNORE_INDEX and label[1, 4] == IGNORE_INDEX  # chair, unlabeled (0)
    assert label[3, 4] == SOFA and label.dtype == np.uint8


def test_user_mapping_file_yaml_and_json(mat, tmp_path):
    path, _ = mat
    yml = tmp_path / "map.yaml"
    yml.write_text("wall: structure\nfloor: structure\nchair: furniture\nbook: null\n")
    src = NyuSource(path, "train", class_mapping=str(yml))
    assert src.info.class_names == ("structure", "furniture")
    _, _, label = src.load(0)
    assert (label[0] == 0).all() and label[1, 3] == 1 and label[1, 0] == IGNORE_INDEX
    js = tmp_path / "map.json"
    js.write_text(json.dumps(["not", "a", "mapping"]))
    with pytest.raises(ConfigError, match="map.json"):
        NyuSource(path, "train", class_mapping=str(js))


def test_class_mapping40_mat(mat, tmp_path):
    """classMapping40.mat as the real one: v5, className/allClassName cells, mapClass 1-based."""
    path, _ = mat
    classes = ["wall", "floor", "chair", "books", "otherprop"]
    fine_map = {
        "book": 4,
        "wall": 1,
        "books": 4,
        "television": 5,
        "chair": 3,
        "floor": 2,
        "tv stand": 5,
        "Sofa": 5,
    }
    cell = lambda items: np.array([[np.array([s]) for s in items]], dtype=object)  # noqa: E731
    mapping = tmp_path / "classMapping40.mat"
    scipy.io.savemat(
        mapping,
        {
            "className": cell(classes),
            "allClassName": cell(list(fine_map)),
            "mapClass": np.array([list(fine_map.values())], np.uint8),
        },
    )
    src = NyuSource(path, "train", class_mapping=str(mapping))
    assert src.info.class_names == tuple(classes)
    _, _, label = src.load(0)
    assert (label[0] == 0).all() and label[1, 0] == 3 and label[1, 3] == 2 and label[1, 2] == 4


def test_official_splits_mat_is_one_based(mat, tmp_path):
    path, _ = mat
    splits = tmp_path / "splits.mat"
    # Same layout as the real file: uint16 column vectors, 1-based.
    scipy.io.savemat(
        splits,
        {
            "trainNdxs": np.array([[1], [3], [5]], np.uint16),
            "testNdxs": np.array([[2], [4], [6]], np.uint16),
        },
    )
    train = NyuSource(path, "train", splits_mat=str(splits))
    np.testing.assert_array_equal(train.indices, [0, 2, 4])
    val = NyuSource(path, "val", splits_mat=str(splits)).indices
    test = NyuSource(path, "test", splits_mat=str(splits)).indices
    assert sorted(np.concatenate([val, test]).tolist()) == [1, 3, 5] and len(val) == 2
    bad = tmp_path / "bad_splits.mat"
    scipy.io.savemat(
        bad, {"trainNdxs": np.array([[0], [7]], np.uint16), "testNdxs": np.array([[1]], np.uint16)}
    )
    with pytest.raises(DatasetError, match="bad_splits.mat.*1-based"):
        NyuSource(path, "train", splits_mat=str(bad))


def test_seeded_split_is_the_papers():
    parts = [seeded_split(1449, s, seed=0) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [868, 290, 290]
    assert len(set(np.concatenate(parts).tolist())) == 1448
    np.testing.assert_array_equal(parts[0], seeded_split(1449, "train", seed=0))
    assert not np.array_equal(parts[0], seeded_split(1449, "train", seed=1))
    small = [seeded_split(6, s, seed=0) for s in ("train", "val", "test")]
    assert sum(map(len, small)) == 6 and all(len(p) for p in small)


def test_build_dataset_nyudv2_cached(mat, tmp_path):
    path, truth = mat
    ds = build_dataset(
        "nyudv2",
        "train",
        root=path,
        size=(H, W),
        cache_dir=tmp_path / "cache",
        options={"progress": False},
    )
    s = ds[0]
    i = int(NyuSource(path, "train").indices[0])
    np.testing.assert_array_equal(s["rgb"].numpy().transpose(1, 2, 0), truth["rgb"][i])
    np.testing.assert_allclose(s["depth"][0].numpy(), truth["depth"][i])
    assert ds.info.depth_units == "m" and ds.info.class_names == NYU12_CLASSES


@pytest.mark.parametrize("kind", ["missing_key", "bad_shape", "garbage", "absent"])
def test_bad_files_name_the_file(tmp_path, kind):
    path = tmp_path / "broken.mat"
    if kind == "missing_key":
        write_labeled_mat(path, drop="labels")
        match = "broken.mat.*labels"
    elif kind == "bad_shape":
        write_labeled_mat(path, images_shape=(N, 4, W, H))
        match = r"broken.mat.*\(N, 3, W, H\)"
    elif kind == "garbage":
        path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 300)
        match = "broken.mat.*HDF5"
    else:
        match = "broken.mat.*not found"
    with pytest.raises(DatasetError, match=match):
        NyuMat(path)


def test_extra_split_needs_a_folder(mat):
    path, _ = mat
    with pytest.raises(ConfigError, match="extra_dir"):
        build_dataset("nyudv2", "extra", root=path)
