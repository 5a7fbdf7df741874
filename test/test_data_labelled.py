# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The labelled-folder dataset: RGB + label PNG + optional depth PNG (mm) + a class map.

Run: pytest test/test_data_labelled.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mmed_core.data import build_dataset, build_source
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.labelled_folder import CLASS_MAP_DIR, load_class_map
from mmed_core.errors import ConfigError, DatasetError

WALL, FLOOR = NYU12_CLASSES.index("wall"), NYU12_CLASSES.index("floor")


def _write(folder: Path, n: int = 3, depth_for: tuple[int, ...] = (1,), jpeg: bool = False):
    """Frames 32x40 whose top half is NYU-40 wall (1), bottom half floor (2), a void stripe."""
    rng = np.random.default_rng(0)
    for sub in ("rgb", "label40", "depth_mm"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        stem = f"{i + 1:04d}"
        rgb = rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / "rgb" / f"{stem}.{'jpg' if jpeg else 'png'}"), rgb)
        label = np.ones((32, 40), np.uint8)
        label[16:] = 2
        label[:, :4] = 0  # void
        label[:, 4:8] = 5  # chair: not one of the 12
        cv2.imwrite(str(folder / "label40" / f"{stem}.png"), label)
        if i in depth_for:
            depth = np.full((32, 40), 2500, np.uint16)
            depth[0, 0] = 0
            cv2.imwrite(str(folder / "depth_mm" / f"{stem}.png"), depth)
    return folder


def test_class_map_nyu40_to_nyu12_is_shipped_and_complete():
    classes, _, lut = load_class_map("nyu40_to_nyu12")
    assert classes == NYU12_CLASSES
    assert lut[1] == WALL and lut[2] == FLOOR and lut[25] == NYU12_CLASSES.index("tv")
    assert lut[0] == IGNORE_INDEX and lut[5] == IGNORE_INDEX  # void, chair
    assert sorted(set(lut.tolist()) - {IGNORE_INDEX}) == list(range(12))
    assert load_class_map(CLASS_MAP_DIR / "nyu40_to_nyu12.yaml")[2][22] == NYU12_CLASSES.index(
        "ceiling"
    )


def test_samples_are_mapped_resized_and_depth_is_metres(tmp_path):
    root = _write(tmp_path / "real")
    ds = build_dataset(
        "labelled", "test", root=root, size=(16, 20), options={"class_map": "nyu40_to_nyu12"}
    )
    assert len(ds) == 3 and ds.info.class_names == NYU12_CLASSES
    s = ds[1]
    assert s["rgb"].shape == (3, 16, 20) and s["label"].shape == (16, 20)
    label = s["label"].numpy()
    assert (label[:8, 4:] == WALL).all() and (label[8:, 4:] == FLOOR).all()
    assert (label[:, :4] == IGNORE_INDEX).all()
    depth = s["depth"].numpy()[0]
    assert depth.max() == pytest.approx(2.5) and (depth > 0).mean() > 0.99
    # A frame without a depth PNG has no valid depth (0), but keeps its labels.
    assert float(ds[0]["depth"].max()) == 0.0 and bool(ds[0]["paired"])
    extra = build_dataset("labelled", "extra", root=root, size=(16, 20))
    assert not bool(extra[0]["paired"]) and (extra[0]["label"] == IGNORE_INDEX).all()


def test_jpeg_rgb_and_identity_labels_without_a_map(tmp_path):
    root = _write(tmp_path / "j", n=2, jpeg=True)
    src = build_source("labelled", "test", root=root)
    rgb, depth, label = src.load(0)
    assert rgb.shape == (32, 40, 3) and depth is None
    # No map: values are taken as the 12 class ids (1 = cabinet, 2 = ceiling, 0 = book).
    assert label[0, 10] == 1 and label[20, 10] == 2 and label[0, 0] == 0


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="needs root"):
        build_source("labelled", "test")
    with pytest.raises(DatasetError, match="rgb/"):
        build_source("labelled", "test", root=tmp_path)
    root = _write(tmp_path / "a", n=2)
    (root / "label40" / "0002.png").unlink()
    with pytest.raises(DatasetError, match="0002"):
        build_source("labelled", "test", root=root)
    root = _write(tmp_path / "b", n=1)
    cv2.imwrite(str(root / "label40" / "0001.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DatasetError, match="label is 8x8"):
        build_source("labelled", "test", root=root).load(0)
    with pytest.raises(ConfigError, match="shipped: .*nyu40_to_nyu12"):
        build_source("labelled", "test", root=root, options={"class_map": "nope"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("wall: 1\n")
    with pytest.raises(ConfigError, match="label ids"):
        build_source("labelled", "test", root=root, options={"class_map": str(bad)})


def test_bag_make_and_eval_accept_a_labelled_folder(tmp_path, capsys):
    pytest.importorskip("rosbags")
    from mmed_ros import bag_cli

    root = _write(tmp_path / "real", n=2)
    out = tmp_path / "bag"
    argv = ["make", str(out), "--dataset", "labelled", "--root", str(root), "--frames", "2"]
    assert bag_cli.main([*argv, "--option", "class_map=nyu40_to_nyu12"]) == 0
    printed = capsys.readouterr().out
    assert "/gt/label: 2" in printed and "/gt/depth: 1" in printed


def test_inspect_a_labelled_folder(tmp_path, capsys):
    from mmed_core.cli.data import main

    root = _write(tmp_path / "real", n=2)
    argv = ["inspect", "labelled", "--root", str(root), "--split", "test", "--size", "16", "20"]
    png = tmp_path / "p.png"
    assert main([*argv, "--option", "class_map=nyu40_to_nyu12", "--preview", str(png)]) == 0
    out = capsys.readouterr().out
    assert "labelled-test: 2 samples" in out and "wall" in out and png.is_file()


def _script(name: str):
    """scripts/NAME.py as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_check_scores_and_draws_a_labelled_folder(tmp_path):
    import json

    from mmed_ros.testing import tiny_checkpoint

    real_check = _script("real_check")
    root = _write(tmp_path / "real", n=2)
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors")
    out = tmp_path / "out"
    assert real_check.main([str(root), "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] == 2 and metrics["frames_with_depth"] == 1
    assert 0 <= metrics["miou"] <= 1 and metrics["depth"]["rel"] >= 0
    grid = cv2.imread(str(out / "grid.png"))
    assert grid.shape[0] > 2 * 100 and grid.shape[1] >= 5 * 100  # 2 rows of 5 tiles + titles
    assert real_check.main([str(tmp_path), "--checkpoint", str(ckpt), "--out", str(out)]) == 2


def test_adapt_check_compares_as_trained_and_leave_one_out_adapted(tmp_path):
    import json

    from mmed_ros.testing import tiny_checkpoint

    adapt_check = _script("adapt_check")
    root = _write(tmp_path / "real", n=3)
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors")
    out = tmp_path / "out"
    argv = [str(root), "--checkpoint", str(ckpt), "--out", str(out), "--boot", "100"]
    assert adapt_check.main(argv) == 0
    report = json.loads((out / "adapt_check.json").read_text())
    (res,) = report["results"]
    assert res["frames"] == 3 and res["adapted_paths"] == ["rgb->label"]
    metrics = {(r["path"], r["metric"]) for r in res["rows"]}
    assert ("rgb->label", "miou") in metrics and ("rgb->depth", "rel") in metrics
    assert "leave-one-out" in (out / "adapt_check.md").read_text()
    assert cv2.imread(str(out / "grid.png")).shape[0] > 3 * 100
    one = _write(tmp_path / "one", n=1)
    assert adapt_check.main([str(one), "--checkpoint", str(ckpt), "--out", str(out)]) == 2


def _lists(root: Path, **splits: str) -> Path:
    (root / "splits").mkdir(exist_ok=True)
    for name, text in splits.items():
        (root / "splits" / f"{name}.txt").write_text(text)
    return root


def test_without_split_lists_every_split_is_every_frame(tmp_path):
    from mmed_core.data.labelled_folder import same_frames_every_split

    root = _write(tmp_path / "all", n=3)
    assert same_frames_every_split(root)
    for split in ("train", "val", "test", "extra"):
        assert build_source("labelled", split, root=root).stems == ["0001", "0002", "0003"]


def test_split_lists_choose_the_frames(tmp_path):
    root = _write(tmp_path / "s", n=5)
    _lists(root, train="0003\n0001\n\n# a comment\n0002\n", val="0004  # held out\n")
    (root / "splits" / "test.txt").write_text("0005.png\n")  # a file name is a stem too
    stems = {s: build_source("labelled", s, root=root).stems for s in ("train", "val", "test")}
    assert stems == {"train": ["0003", "0001", "0002"], "val": ["0004"], "test": ["0005"]}
    # extra: the train frames' RGB, unless extra.txt lists RGB-only frames (no label needed)
    extra = build_source("labelled", "extra", root=root)
    assert extra.stems == stems["train"] and not extra.paired
    cv2.imwrite(str(root / "rgb" / "0006.png"), np.zeros((32, 40, 3), np.uint8))
    _lists(root, extra="0006\n0001\n")
    extra = build_source("labelled", "extra", root=root)
    assert extra.stems == ["0006", "0001"] and extra.load(0)[2] is None
    ds = build_dataset("labelled", "val", root=root, size=(16, 20))
    assert len(ds) == 1 and ds[0]["label"].shape == (16, 20)
    # the cache key follows the listed frames
    keys = {s: build_source("labelled", s, root=root).fingerprint()["listing"] for s in stems}
    assert len(set(keys.values())) == 3


@pytest.mark.parametrize(
    "lists, split, match",
    [
        ({"train": "0001\n", "val": "0002\n"}, "test", r"expected test\.txt.*found train\.txt"),
        ({"train": "0001\n0009\n"}, "train", r"train\.txt: 1 frame\(s\) not in rgb/: 0009"),
        ({"train": "0001\n0002\n0001\n"}, "train", r"train\.txt:3: frame '0001' is listed twice"),
        ({"train": "0001\n0002\n", "val": "0002\n"}, "val", r"train\.txt and val\.txt share"),
        ({"train": "0001\n", "test": "0002\n", "extra": "0002\n"}, "train", "extra may repeat"),
        ({"train": "# nothing yet\n"}, "train", "lists no frame"),
    ],
)
def test_bad_split_lists_are_named(tmp_path, lists, split, match):
    root = _lists(_write(tmp_path / "bad", n=3), **lists)
    with pytest.raises(DatasetError, match=match):
        build_source("labelled", split, root=root)


def test_training_on_a_folder_without_split_lists_says_validation_is_training(tmp_path, capsys):
    import json

    from mmed_core.training.config import load_run_config
    from mmed_core.training.trainer import train, validation_overlap

    root = _write(tmp_path / "real", n=4)
    base = [
        "data.dataset=labelled",
        f"data.root={root}",
        "data.size=[16, 16]",
        "model.preset=tiny",
        "train.epochs=1",
        "train.batch_size=2",
        "train.max_steps_per_epoch=1",
        "train.progress=false",
        "train.tensorboard=false",
        "train.threads=1",
    ]
    run = load_run_config(None, [*base, f"train.out_dir={tmp_path / 'a'}"])
    train(run)
    printed = capsys.readouterr().out
    assert "WARNING: validation reads the training frames" in printed
    assert "splits" in printed and "validated on the training frames" in printed
    validation = json.loads((tmp_path / "a" / "summary.json").read_text())["validation"]
    assert validation["same_frames_as_training"] and "no split lists" in validation["why"]
    # With split lists the frames are held out and nothing is said.
    _lists(root, train="0001\n0002\n0003\n", val="0004\n")
    run = load_run_config(None, [*base, f"train.out_dir={tmp_path / 'b'}"])
    assert validation_overlap(run) is None
    train(run)
    assert "WARNING" not in capsys.readouterr().out
    validation = json.loads((tmp_path / "b" / "summary.json").read_text())["validation"]
    assert validation["split"] == "val" and validation["depth_input"] == "clean"
    assert not validation["same_frames_as_training"] and validation["why"] is None
    # Any dataset: validating on the training split itself is said too.
    same = load_run_config(None, [*base, "data.val_split=train"])
    assert "both 'train'" in validation_overlap(same)


def test_frames_without_depth_are_not_scored_on_paths_from_depth(tmp_path):
    """depth->label (and depth->depth) score only the frames that have a depth PNG, the same
    as a folder of those frames alone; rgb paths score every frame; the tables say so."""
    import shutil

    from mmed_core.evaluation.evaluator import evaluate_checkpoint
    from mmed_core.evaluation.paired import frame_counts
    from mmed_ros.testing import tiny_checkpoint

    root = _write(tmp_path / "real", n=3, depth_for=(1,))
    alone = tmp_path / "alone"
    for sub in ("rgb", "label40", "depth_mm"):
        (alone / sub).mkdir(parents=True)
        shutil.copy(root / sub / "0002.png", alone / sub / "0002.png")
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors")
    opts = {"class_map": "nyu40_to_nyu12"}
    res = {
        name: evaluate_checkpoint(
            ckpt,
            dataset="labelled",
            root=str(folder),
            options=opts,
            out_dir=tmp_path / name,
            figure_samples=0,
        )
        for name, folder in (("all", root), ("alone", alone))
    }
    assert res["all"]["num_samples"] == 3
    assert res["all"]["path_samples"]["depth->label"] == 1
    assert res["all"]["path_samples"]["rgb->label"] == 3
    for path in ("depth->label", "depth->depth"):  # same frame, other batch: float noise only
        got, ref = (res[k]["paths"][path] for k in ("all", "alone"))
        if "iou" in got:
            got, ref = got["iou"] | {"miou": got["miou"]}, ref["iou"] | {"miou": ref["miou"]}
        assert got == pytest.approx(ref, rel=1e-6, nan_ok=True), path
    tables = (tmp_path / "all" / "tables.md").read_text()
    assert "Scored on fewer images" in tables and "depth-to-label 1" in tables
    # the frames hold wall and floor only: the other ten classes are named as absent
    assert res["all"]["paths"]["rgb->label"]["classes_present"] == ["floor", "wall"]
    assert "Mean over the classes present: image-to-label" in tables
    assert "over 2 (absent: book, cabinet, ceiling, table, window" in tables
    assert "Scored on fewer images" not in (tmp_path / "alone" / "tables.md").read_text()

    from mmed_core.data import build_dataset
    from mmed_core.deploy.checkpoint import load_checkpoint

    model, _ = load_checkpoint(ckpt)
    ds = build_dataset("labelled", "test", root=root, size=(32, 32), options=opts)
    counts = frame_counts(model, ds, [("depth", "label"), ("rgb", "label")])
    conf, _ = counts.label["depth->label"]
    assert conf[0].sum() == 0 and conf[2].sum() == 0 and conf[1].sum() > 0
    assert all(c.sum() > 0 for c in counts.label["rgb->label"][0])
