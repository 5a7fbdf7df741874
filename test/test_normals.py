# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The registry's example modality `normals` end to end: data (derived from depth + K by the
trainer and the evaluator themselves when the model has the modality), a tiny model that trains
with it, the evaluator's angular error, the inference engine, the figure, mmed-train / mmed-eval
from the command line, and perception_node publishing it on `~/rgb/normals` (32FC3) over DDS.

    python -m pytest test/test_normals.py
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_support import factory, tiny_run

from mmed_core.cli.eval import main as eval_main
from mmed_core.cli.train import main as train_main
from mmed_core.data.collate import collate
from mmed_core.data.normals import WithNormals, normals_from_depth, with_normals
from mmed_core.data.synthetic import intrinsics
from mmed_core.deploy.inference import InferenceEngine
from mmed_core.errors import ConfigError
from mmed_core.evaluation.evaluator import evaluate_checkpoint
from mmed_core.evaluation.metrics import NormalsMetrics
from mmed_core.training.trainer import train
from mmed_ros.testing import one_torch_thread

MODS = "model.modalities=[rgb, depth, label, normals]"


def test_normals_of_planes_point_at_the_camera() -> None:
    k = intrinsics(20, 30)
    wall = normals_from_depth(np.full((20, 30), 2.0), k)
    np.testing.assert_allclose(
        wall[5:15, 5:25], np.broadcast_to([0.0, 0.0, -1.0], (10, 20, 3)), atol=1e-6
    )
    v = np.arange(20, dtype=np.float64)[:, None] - k[1, 2]
    floor = np.where(v > 1, k[1, 1] / np.maximum(v, 1e-9), 0.0) * np.ones((1, 30))  # y = 1 m
    n = normals_from_depth(floor, k)
    np.testing.assert_allclose(
        n[16:19, 5:25], np.broadcast_to([0.0, -1.0, 0.0], (3, 20, 3)), atol=1e-6
    )  # up
    assert not n[:10].any()  # no depth: invalid (all zero)
    holes = np.full((6, 6), 2.0)
    holes[3, 3] = np.nan
    h = normals_from_depth(holes, intrinsics(6, 6))
    assert not h[3, 3].any() and not h[2, 3].any() and h[0, 0].any()  # the gap and neighbours


def test_normals_metrics_angles() -> None:
    gt = np.zeros((1, 3, 2, 2), np.float32)
    gt[:, 2] = -1
    pred = gt.copy()
    pred[0, 0, 0, 0] = -1.0  # 45 degrees off at one pixel
    pred[0, :, 1, 1] = np.nan  # unknown prediction: counts as 180
    m = NormalsMetrics()
    m.update(pred, gt)
    out = m.compute()
    assert out["mean_angle"] == pytest.approx((45 + 180) / 4)
    assert out["within_11"] == pytest.approx(0.5) and out["within_30"] == pytest.approx(0.5)
    assert np.isnan(NormalsMetrics().compute()["mean_angle"])


def test_collate_fills_missing_normals_as_invalid() -> None:
    a = {"rgb": torch.zeros(3, 4, 5), "depth": torch.ones(1, 4, 5), "label": torch.zeros(4, 5)}
    b = dict(a, normals=torch.ones(3, 4, 5))
    batch = collate([a, b])
    assert batch["normals"].shape == (2, 3, 4, 5)
    assert not batch["normals"][0].any() and batch["normals"][1].all()
    assert "normals" not in collate([a, a])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("normals") / "run"
    with one_torch_thread():
        # the plain stand-in dataset (no normals): the trainer derives them from its depth
        train(tiny_run(out, "train.epochs=1", MODS), dataset_factory=factory)
    yield out / "best.safetensors"


def test_a_model_with_normals_trains_evaluates_and_infers(trained: Path) -> None:
    with one_torch_thread():
        result = evaluate_checkpoint(trained, dataset_factory=factory, figure_samples=2)
        engine = InferenceEngine.from_checkpoint(trained, device="cpu")
        rgb = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
        out = engine.infer({"rgb": rgb}, [("rgb", "normals")])
    scored = result["paths"]["rgb->normals"]
    assert 0 <= scored["mean_angle"] <= 180 and 0 <= scored["within_30"] <= 1
    assert (trained.parent / "eval-test" / "figure.png").is_file()
    n = out[("rgb", "normals")].array
    assert n.shape == (20, 28, 3) and n.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(n, axis=2), 1.0, atol=1e-4)


def test_with_normals_derives_keeps_or_names_what_is_missing() -> None:
    ds = factory("synthetic", "val", size=(16, 16))
    derived = with_normals(ds, "here")
    assert isinstance(derived, WithNormals) and derived[0]["normals"].shape == (3, 16, 16)
    assert with_normals(derived, "here") is derived  # the dataset's own normals are kept

    disparity = factory("cityscapes", "val", size=(16, 16))
    disparity.info = disparity.info._replace(depth_units="disparity")
    with pytest.raises(ConfigError, match=r"here: .*metric depth \(metres\).*'disparity'"):
        with_normals(disparity, "here")
    no_depth = [{k: v for k, v in ds[0].items() if k != "depth"}]
    with pytest.raises(ConfigError, match=r"here: .*samples have no depth \(keys \['label'"):
        with_normals(no_depth, "here")


def test_mmed_train_and_eval_with_normals_from_the_command_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = [
        MODS,
        "model.preset=tiny",
        "data.size=[32, 32]",
        "data.options={n_train: 8, n_val: 4, n_test: 4, n_extra: 0, seed: 0, progress: false}",
        "train.batch_size=4",
        "train.epochs=1",
        "train.progress=false",
        "train.tensorboard=false",
        "train.threads=1",
        f"train.out_dir={out}",
    ]
    assert train_main(args) == 0
    assert eval_main(["--checkpoint", str(out / "best.safetensors"), "--figure-samples", "0"]) == 0
    assert "rgb->normals" in (out / "eval-test" / "metrics.json").read_text()
    capsys.readouterr()


@pytest.mark.ros
def test_perception_node_publishes_normals(trained: Path, tmp_path: Path) -> None:
    pytest.importorskip("rclpy")
    from sensor_msgs.msg import Image

    from mmed_ros.testing import NodeRecorder, Probe, image_msg, start_module, stop_process

    ns, out = "/pn", "/pn/perception"
    probe = Probe("mmed_normals_probe")
    log = tmp_path / "node.log"
    args = ["--ros-args", "-r", f"__ns:={ns}", "-p", f"weights:={trained}", "-p", "device:=cpu"]
    args += ["-p", "rgb_topic:=cam/image", "-p", "paths:=[rgb->normals,rgb->label]"]
    args += ["-p", "qos_reliability:=reliable"]
    proc = start_module("mmed_ros.perception_node", args, log=log)
    rec = NodeRecorder(proc, log, probe, out, {"rgb/normals": Image})
    pub = probe.node.create_publisher(Image, f"{ns}/cam/image", 10)
    try:
        ready = probe.spin_until(
            lambda: (
                proc.poll() is not None
                or (
                    probe.node.count_subscribers(f"{ns}/cam/image") > 0
                    and probe.node.count_publishers(f"{out}/rgb/normals") > 0
                )
            ),
            60.0,
        )
        assert ready and proc.poll() is None, rec.text()
        rgb = np.random.default_rng(1).integers(0, 256, (12, 18, 3), dtype=np.uint8)
        end = time.monotonic() + 30.0
        while time.monotonic() < end and not rec.messages("rgb/normals"):
            pub.publish(image_msg(rgb, "rgb8", 5_000_000_000, "cam"))
            probe.spin_until(lambda: bool(rec.messages("rgb/normals")), 0.5)
        msgs = rec.messages("rgb/normals")
        assert msgs, rec.text()
        m = msgs[0]
        assert (m.encoding, m.height, m.width, m.step) == ("32FC3", 12, 18, 18 * 12)
        n = np.frombuffer(bytes(m.data), np.float32).reshape(12, 18, 3)
        np.testing.assert_allclose(np.linalg.norm(n, axis=2), 1.0, atol=1e-4)
    finally:
        code = stop_process(proc)
        probe.close()
        assert code == 0, rec.text()
