# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed-predict: a model on a user's own image files, outputs at each image's resolution."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmed_core.cli import predict as predict_cli
from mmed_core.cli.predict import collect_images, main
from mmed_core.deploy.checkpoint import save_checkpoint
from mmed_core.errors import InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    save_checkpoint(path, create_model(ModelConfig.preset("tiny", input_size=(32, 32))).eval())
    return path


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    """rgb/a.png (40x30), rgb/sub/b.jpg (64x48) and depth/ in millimetres, same names."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for rel, (h, w) in (("a.png", (30, 40)), ("sub/b.jpg", (48, 64))):
        f = root / "rgb" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(f), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        d = (root / "depth" / rel).with_suffix(".png")
        d.parent.mkdir(parents=True, exist_ok=True)
        mm = rng.integers(500, 6000, (h, w)).astype(np.uint16)
        mm[0, :5] = 0  # no measurement
        cv2.imwrite(str(d), mm)
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main([*args, "--device", "cpu"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_outputs_at_each_images_resolution(checkpoint, photos, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    rc, stdout, err = _run(
        capsys,
        str(photos / "rgb"),
        "--checkpoint",
        str(checkpoint),
        "--depth",
        str(photos / "depth"),
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "2 images, paths rgb->label, rgb->depth, depth->label" in stdout
    assert "note: depth->label: this model's depth encoder was trained on clean" in err
    res = json.loads((out / "predictions.json").read_text())
    assert set(res["images"]) == {"a", "sub__b"}
    assert res["paths"] == ["rgb->label", "rgb->depth", "depth->label"]
    for name, (h, w) in (("a", (30, 40)), ("sub__b", (48, 64))):
        ids = cv2.imread(str(out / f"{name}.rgb-label.png"), cv2.IMREAD_UNCHANGED)
        assert ids.shape == (h, w) and ids.dtype == np.uint8
        assert set(np.unique(ids)) <= set(range(len(res["classes"]))) | {255}
        depth = cv2.imread(str(out / f"{name}.rgb-depth.png"), cv2.IMREAD_UNCHANGED)
        assert depth.shape == (h, w) and depth.dtype == np.uint16
        entry = res["images"][name]["outputs"]
        # millimetres, inside the model's depth range; the median agrees with the file
        lo, hi = (1000 * v for v in (0.5, 10.0))
        assert lo - 1 <= depth[depth > 0].min() and depth.max() <= hi + 1
        assert entry["rgb->depth"]["median"] == pytest.approx(np.median(depth) / 1000, abs=2e-3)
        assert sum(entry["rgb->label"]["class_share"].values()) == pytest.approx(1, abs=1e-3)
        colour = cv2.imread(str(out / f"{name}.depth-label.color.png"))
        assert colour.shape == (h, w, 3)
        # depth->label: the pixels without a measurement are unknown
        from_depth = cv2.imread(str(out / f"{name}.depth-label.png"), cv2.IMREAD_UNCHANGED)
        assert (from_depth[0, :5] == 255).all()
    assert cv2.imread(str(out / "preview.png")).shape[1] > 3 * 160
    assert res["encodings"]["depth"].startswith("16-bit millimetres")


def test_a_full_folder_is_not_overwritten_and_bad_input_is_named(
    checkpoint, photos, tmp_path, capsys
) -> None:
    out = tmp_path / "out"
    args = [str(photos / "rgb"), "--checkpoint", str(checkpoint), "--out", str(out)]
    assert _run(capsys, *args)[0] == 0
    before = (out / "predictions.json").read_bytes()
    rc, _, err = _run(capsys, *args)
    assert rc == 2 and "already holds files" in err and "--force" in err
    assert (out / "predictions.json").read_bytes() == before
    assert _run(capsys, *args, "--force", "--preview", "0")[0] == 0
    assert "preview" not in json.loads((out / "predictions.json").read_text())

    # A damaged second image: the error names it, the first image's outputs are written.
    (photos / "rgb" / "sub" / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    out2 = tmp_path / "out2"
    rc, _, err = _run(
        capsys, str(photos / "rgb"), "--checkpoint", str(checkpoint), "--out", str(out2)
    )
    assert rc == 2 and "b.jpg" in err, err
    assert (out2 / "a.rgb-label.png").is_file() and not (out2 / "predictions.json").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--path", "depth->label"], "reads depth: give the depth images with --depth"),
        (["--path", "rgb->normals"], "not in this model"),
        (["--depth-scale", "0"], "--depth-scale: expected metres per unit > 0, got 0.0"),
        (["--depth-max", "0.1"], "--depth-max: expected more than the model's nearest depth"),
        (["--depth", "nowhere"], "--depth nowhere: expected an image file or a folder"),
    ],
)
def test_bad_options_are_named(checkpoint, photos, tmp_path, capsys, extra, message) -> None:
    rc, _, err = _run(
        capsys,
        str(photos / "rgb"),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(tmp_path / "o"),
        *extra,
    )
    assert rc == 2 and message in err, err


def test_inputs_and_their_depth_are_matched_by_name(photos, tmp_path) -> None:
    frames = collect_images([str(photos / "rgb")], str(photos / "depth"))
    assert [(f.name, f.depth.name if f.depth else None) for f in frames] == [
        ("a", "a.png"),
        ("sub__b", "b.png"),
    ]
    (photos / "depth" / "a.png").unlink()
    with pytest.raises(InputError, match=r"no depth image for 1 of 2 images .*\['a'\]"):
        collect_images([str(photos / "rgb")], str(photos / "depth"))
    with pytest.raises(InputError, match="one depth file for 2 images"):
        collect_images([str(photos / "rgb")], str(photos / "depth" / "sub" / "b.png"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"notes\.txt: expected an image file .* got a \.txt"):
        collect_images([str(tmp_path / "notes.txt")])
    twin = tmp_path / "twin"
    twin.mkdir()
    cv2.imwrite(str(twin / "a.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="output name 'a' is also"):
        collect_images([str(photos / "rgb"), str(twin / "a.png")])


def test_without_checkpoint_the_shipped_model_or_a_clear_error(
    photos, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("mmed_core.deploy.checkpoint.shipped_model", lambda: None)
    rc, _, err = _run(capsys, str(photos / "rgb"), "--out", str(tmp_path / "o"))
    assert rc == 2 and "no --checkpoint given and the shipped model" in err
    assert predict_cli.DEFAULT_PATHS[0] == ("rgb", "label")


def test_a_path_to_another_modality_is_refused_before_any_image(photos, tmp_path, capsys) -> None:
    cfg = ModelConfig.preset(
        "tiny", input_size=(32, 32), modalities=("rgb", "depth", "label", "normals")
    )
    ckpt = tmp_path / "n.safetensors"
    save_checkpoint(ckpt, create_model(cfg).eval())
    out = tmp_path / "o"
    rc, _, err = _run(
        capsys,
        str(photos / "rgb"),
        "--checkpoint",
        str(ckpt),
        "--path",
        "rgb->normals",
        "--out",
        str(out),
    )
    assert rc == 2 and "writes label, depth and rgb outputs" in err, err
    assert not out.exists()
