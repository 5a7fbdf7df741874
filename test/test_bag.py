# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed-bag make + eval round trip through real rosbag2 files (rosbags; no ROS install)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from mmed_ros import bag_cli
from mmed_ros.testing import one_torch_thread, tiny_checkpoint


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bags")


@pytest.fixture(scope="module")
def ckpt(workdir: Path) -> Path:
    return tiny_checkpoint(workdir / "tiny.safetensors")


@pytest.fixture(scope="module")
def made(workdir: Path) -> Path:
    out = workdir / "synthetic"
    assert (
        bag_cli.main(
            ["make", str(out), "--frames", "4", "--size", "24", "32", "--distro", "humble"]
        )
        == 0
    )
    return out


def read_all(bag: Path) -> dict[str, list]:
    from rosbags.highlevel import AnyReader

    from mmed_ros.bag_cli import typestore_for

    msgs: dict[str, list] = {}
    with AnyReader([bag], default_typestore=typestore_for("humble")[0]) as reader:
        for conn, _, raw in reader.messages():
            msgs.setdefault(conn.topic, []).append(reader.deserialize(raw, conn.msgtype))
    return msgs


def test_make_writes_a_standard_rosbag2(made: Path) -> None:
    meta = yaml.safe_load((made / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == "mcap"
    assert (made / meta["relative_file_paths"][0]).is_file()
    assert not [p for p in made.parent.iterdir() if p.name.startswith(".synthetic")]
    counts = {
        t["topic_metadata"]["name"]: (t["topic_metadata"]["type"], t["message_count"])
        for t in meta["topics_with_message_count"]
    }
    assert counts == {
        "/camera/color/image_raw": ("sensor_msgs/msg/Image", 4),
        "/camera/color/camera_info": ("sensor_msgs/msg/CameraInfo", 4),
        "/camera/depth/image_raw": ("sensor_msgs/msg/Image", 4),
        "/camera/depth/camera_info": ("sensor_msgs/msg/CameraInfo", 4),
        "/gt/label": ("sensor_msgs/msg/Image", 4),
        "/gt/depth": ("sensor_msgs/msg/Image", 4),
    }
    msgs = read_all(made)
    rgb, label = msgs["/camera/color/image_raw"][1], msgs["/gt/label"][1]
    assert (rgb.encoding, rgb.height, rgb.width, rgb.step) == ("rgb8", 24, 32, 96)
    assert rgb.header.stamp == label.header.stamp and rgb.header.frame_id == "camera_optical_frame"
    assert msgs["/camera/color/camera_info"][0].k[0] > 0


def test_make_refuses_to_overwrite_and_sqlite3_16uc1_works(
    made: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert bag_cli.main(["make", str(made), "--frames", "1"]) == 1
    assert "already exists" in capsys.readouterr().err
    out = workdir / "sqlite"
    assert (
        bag_cli.main(
            [
                "make",
                str(out),
                "--frames",
                "2",
                "--size",
                "8",
                "12",
                "--storage",
                "sqlite3",
                "--depth-encoding",
                "16UC1",
                "--distro",
                "jazzy",
            ]
        )
        == 0
    )
    assert list(out.glob("*.db3"))
    depth = read_all(out)["/camera/depth/image_raw"][0]
    assert depth.encoding == "16UC1" and depth.step == 24


def test_eval_prints_metrics_and_writes_estimates(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    out, js = workdir / "estimates", workdir / "metrics.json"
    code = bag_cli.main(
        [
            "eval",
            str(made),
            "--weights",
            str(ckpt),
            "--device",
            "cpu",
            "--out",
            str(out),
            "--json",
            str(js),
            "--paths",
            "rgb->label,rgb->depth,depth->label",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "| Rel (per img) | log10 (per img) | RMSE (per img) | Rel (pooled) |" in text
    assert "| δ<1.25 | δ<1.25² | δ<1.25³ |" in text and "mIoU" in text
    results = json.loads(js.read_text())
    assert results["frames"] == {"depth": 4, "rgb": 4}
    assert results["rgb"]["depth_pairs"] == 4 and results["rgb"]["label_pairs"] == 4
    assert results["depth"]["label_pairs"] == 4 and results["depth"]["depth"] is None
    assert 0 <= results["rgb"]["segmentation"]["miou"] <= 1
    msgs = read_all(out)
    assert len(msgs["/camera/color/image_raw"]) == 4  # inputs copied
    for topic, enc in (
        ("/perception/rgb/label", "mono8"),
        ("/perception/rgb/depth", "32FC1"),
        ("/perception/rgb/label_color", "rgb8"),
        ("/perception/depth/label", "mono8"),
    ):
        assert [m.encoding for m in msgs[topic]] == [enc] * 4, topic
        assert (msgs[topic][0].height, msgs[topic][0].width) == (24, 32)
    assert (
        msgs["/perception/rgb/label"][2].header.stamp
        == msgs["/camera/color/image_raw"][2].header.stamp
    )
    ids = np.frombuffer(bytes(msgs["/perception/rgb/label"][0].data), np.uint8)
    assert ids.max() < 12


def test_eval_errors_are_one_clear_line(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert bag_cli.main(["eval", str(workdir / "missing"), "--weights", str(ckpt)]) == 1
    assert "metadata.yaml" in capsys.readouterr().err
    assert bag_cli.main(["eval", str(made), "--weights", str(workdir / "none.safetensors")]) == 1
    assert "not found" in capsys.readouterr().err
    assert bag_cli.main(["eval", str(made), "--weights", str(ckpt), "--paths", "rgb->x"]) == 1
    assert "--paths" in capsys.readouterr().err
    out = workdir / "never"
    assert (
        bag_cli.main(
            ["eval", str(made), "--weights", str(ckpt), "--rgb-topic", "/nope", "--out", str(out)]
        )
        == 1
    )
    assert "/nope" in capsys.readouterr().err
    assert not out.exists() and not list(workdir.glob(".never.*"))  # nothing half-written
    broken = workdir / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 8}\n")
    assert bag_cli.main(["eval", str(broken), "--weights", str(ckpt)]) == 1
    assert "cannot be read" in capsys.readouterr().err


def test_bag_module_does_not_import_rclpy() -> None:
    import subprocess

    code = (
        "import sys, mmed_ros.bag_cli, mmed_ros.evaluation, mmed_ros.conversions, "
        "mmed_ros.pipeline, mmed_core.deploy.inference; assert 'rclpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_make_from_a_dataset_split(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    out = workdir / "split"
    assert (
        bag_cli.main(
            [
                "make",
                str(out),
                "--dataset",
                "synthetic",
                "--split",
                "val",
                "--frames",
                "2",
                "--size",
                "16",
                "24",
            ]
        )
        == 0
    )
    msgs = read_all(out)
    assert len(msgs["/gt/label"]) == 2 and msgs["/camera/color/image_raw"][0].width == 24
    assert bag_cli.main(["make", str(workdir / "nyu"), "--dataset", "nyudv2"]) == 1
    assert "root" in capsys.readouterr().err
    assert not (workdir / "nyu").exists()


@pytest.fixture(scope="module")
def compressed_bag(workdir: Path) -> Path:
    out = workdir / "compressed"
    args = ["make", str(out), "--frames", "3", "--size", "24", "32"]
    args += ["--rgb-format", "jpeg", "--depth-format", "compressedDepth"]
    assert bag_cli.main(args) == 0
    return out


def test_compressed_bag_is_evaluated_with_camera_info_in_the_estimates(
    compressed_bag: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    msgs = read_all(compressed_bag)
    rgb = msgs["/camera/color/image_raw/compressed"][0]
    assert rgb.format == "rgb8; jpeg compressed bgr8"
    depth = msgs["/camera/depth/image_raw/compressedDepth"][0]
    assert depth.format == "32FC1; compressedDepth png"
    out, js = workdir / "compressed_estimates", workdir / "compressed.json"
    code = bag_cli.main(
        [
            "eval",
            str(compressed_bag),
            "--weights",
            str(ckpt),
            "--device",
            "cpu",
            "--paths",
            "rgb->label,depth->label",
            "--rgb-topic",
            "/camera/color/image_raw/compressed",
            "--depth-topic",
            "/camera/depth/image_raw/compressedDepth",
            "--resize",
            "letterbox",
            "--out",
            str(out),
            "--json",
            str(js),
        ]
    )
    assert code == 0, capsys.readouterr().err
    results = json.loads(js.read_text())
    assert results["frames"] == {"depth": 3, "rgb": 3} and results["notes"] == []
    assert results["rgb"]["label_pairs"] == 3 and results["depth"]["label_pairs"] == 3
    est = read_all(out)
    infos = est["/perception/rgb/camera_info"]
    assert len(infos) == 3 and (infos[0].width, infos[0].height) == (32, 24)
    src_info = msgs["/camera/color/camera_info"][0]
    np.testing.assert_allclose(infos[0].k, src_info.k)
    assert infos[1].header.stamp == est["/perception/rgb/label"][1].header.stamp
    assert len(est["/perception/depth/camera_info"]) == 3


def test_eval_scores_a_depth_input_that_is_also_the_ground_truth(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    js = workdir / "same_topic.json"
    args = ["eval", str(made), "--weights", str(ckpt), "--device", "cpu", "--json", str(js)]
    args += ["--paths", "depth->label,depth->depth", "--depth-topic", "/gt/depth"]
    assert bag_cli.main(args) == 0, capsys.readouterr().err
    results = json.loads(js.read_text())
    assert results["frames"] == {"depth": 4}
    assert results["depth"]["label_pairs"] == 4 and results["depth"]["depth_pairs"] == 4


def test_ground_truth_at_another_resolution_is_noted_or_resized(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    js = workdir / "network_size.json"
    args = ["eval", str(made), "--weights", str(ckpt), "--device", "cpu", "--json", str(js)]
    args += ["--paths", "rgb->label,rgb->depth", "--output-size", "network"]
    assert bag_cli.main(args) == 0
    err = capsys.readouterr().err
    assert "rgb->label: 0 of 4 frames scored" in err and "--resize-truth" in err
    assert json.loads(js.read_text())["rgb"]["label_pairs"] == 0
    assert bag_cli.main([*args, "--resize-truth"]) == 0
    results = json.loads(js.read_text())
    assert results["rgb"]["label_pairs"] == 4 and results["rgb"]["depth_pairs"] == 4
    assert results["notes"] == []


def test_play_skips_message_types_that_are_not_installed() -> None:
    from types import SimpleNamespace

    from mmed_ros.bag_player import _publishers
    from mmed_ros.errors import BagError

    class FakeNode:
        def create_publisher(self, cls, topic, qos):
            return (cls, topic)

    pytest.importorskip("sensor_msgs.msg")
    conns = [
        SimpleNamespace(id=1, topic="/img", msgtype="sensor_msgs/msg/Image"),
        SimpleNamespace(id=2, topic="/vendor", msgtype="no_such_vendor_msgs/msg/Blob"),
    ]
    notes: list[str] = []
    pubs, kept = _publishers(FakeNode(), conns, None, notes.append)
    assert list(pubs) == [1] and [c.topic for c in kept] == ["/img"]
    assert len(notes) == 1 and "/vendor" in notes[0] and "no_such_vendor_msgs" in notes[0]
    with pytest.raises(BagError, match="none of the bag's message types"):
        _publishers(FakeNode(), conns[1:], None, notes.append)


def test_adapt_writes_a_checkpoint_adapted_to_the_bags_camera(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    from mmed_core.deploy.checkpoint import load_checkpoint

    out = workdir / "adapted.safetensors"
    argv = ["adapt", str(made), "--weights", str(ckpt), "--out", str(out), "--device", "cpu"]
    assert bag_cli.main(argv) == 0
    assert "to 4 frames" in capsys.readouterr().out
    _, card = load_checkpoint(out)
    rec = card["adaptation"]
    assert rec["frames"] == 4 and rec["paths"] == [["rgb", "label"]]
    assert "/camera/color/image_raw" in rec["source"] and card["note"] == "untrained test model"
    # rgb + depth: frames are the pairs of equal stamps; every 2nd one
    both = workdir / "adapted-rgbd.safetensors"
    argv2 = [*argv[:4], "--out", str(both), "--paths", "rgb->label,depth->label", "--every", "2"]
    assert bag_cli.main(argv2) == 0
    assert "to 2 frames" in capsys.readouterr().out
    assert load_checkpoint(both)[1]["adaptation"]["paths"] == [
        ["rgb", "label"],
        ["depth", "label"],
    ]


def test_adapt_names_bad_input_and_writes_nothing(
    made: Path, ckpt: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    out = workdir / "never.safetensors"
    base = ["adapt", str(made), "--weights", str(ckpt), "--out", str(out), "--device", "cpu"]
    cases = [
        (["--rgb-topic", "/nope"], "topic(s) ['/nope'] not found"),
        (["--paths", "label->label"], "have no topic in a bag"),
        (["--every", "0"], "every: expected >= 1"),
        (["--paths", "rgb-label"], "--paths"),
    ]
    for extra, message in cases:
        assert bag_cli.main([*base, *extra]) == 1
        assert message in capsys.readouterr().err
    assert bag_cli.main(["adapt", str(workdir), "--weights", str(ckpt), "--out", str(out)]) == 1
    assert "expected a rosbag2 directory" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()
    out.write_bytes(b"keep")
    assert bag_cli.main(base) == 1 and "add --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
