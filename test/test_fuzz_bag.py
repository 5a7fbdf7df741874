# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the bag reader of ``mmed-bag eval``: truncated and garbled rosbag2 files.

    python -m pytest test/test_fuzz_bag.py
    HYPOTHESIS_PROFILE=long python -m pytest test/test_fuzz_bag.py

A small valid bag (mcap and sqlite3) is damaged at random: the storage file cut short or
overwritten with junk somewhere, metadata.yaml cut, garbled or replaced by any YAML. Only
mmed's own errors (BagError, ConversionError, ...) may come out of ``evaluate_bag``, and an
estimates bag it was asked to write must not be left half written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from fuzz_support import PROJECT_ERRORS, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

from mmed_ros import bag_cli
from mmed_ros.testing import tiny_checkpoint

PATHS = [("rgb", "label"), ("rgb", "depth"), ("depth", "label")]


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz_bags")
    out = {}
    for storage in ("mcap", "sqlite3"):
        out[storage] = root / storage
        bag_cli.write_synthetic_bag(out[storage], frames=2, size=(8, 8), storage=storage)
    return out


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from mmed_core.deploy.inference import InferenceEngine

    ckpt = tiny_checkpoint(
        tmp_path_factory.mktemp("fuzz_bag_ckpt") / "m.safetensors", input_size=(8, 8)
    )
    return InferenceEngine.from_checkpoint(ckpt, device="cpu")


def _storage_file(bag: Path) -> Path:
    return next(p for p in bag.iterdir() if p.name != "metadata.yaml")


def _evaluate_damaged(bag: Path, engine, damage) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "bag"
        shutil.copytree(bag, copy)
        damage(copy)
        out = Path(tmp) / "estimates"
        try:
            results = bag_cli.evaluate_bag(copy, engine, paths=PATHS, out=out)
        except PROJECT_ERRORS:
            assert not out.exists(), "a half-written estimates bag was left behind"
            assert [p.name for p in Path(tmp).iterdir()] == ["bag"], list(Path(tmp).iterdir())
        else:
            assert set(results["frames"]) == {"rgb", "depth"}


@fuzz_settings(40)
@given(
    storage=st.sampled_from(["mcap", "sqlite3"]),
    at=st.floats(0.0, 1.0),
    junk=st.binary(min_size=1, max_size=64),
    truncate=st.booleans(),
)
# Found by this test: rosbags' sqlite3 reader raised UnicodeDecodeError / TypeError.
@example(storage="sqlite3", at=0.546875, junk=b"\x80", truncate=False)
@example(storage="sqlite3", at=0.5625, junk=b"\x80", truncate=False)
def test_damaged_storage_files_raise_only_bag_errors(
    bags: dict, engine, storage: str, at: float, junk: bytes, truncate: bool
) -> None:
    def damage(copy: Path) -> None:
        f = _storage_file(copy)
        data = f.read_bytes()
        cut = int(at * len(data))
        f.write_bytes(data[:cut] if truncate else data[:cut] + junk + data[cut + len(junk) :])

    _evaluate_damaged(bags[storage], engine, damage)


yaml_junk = st.sampled_from(
    [
        "",
        "{",
        "rosbag2_bagfile_information: 5",
        "[1, 2]",
        "null",
        "\x00",
        "rosbag2_bagfile_information: {version: 99}",
    ]
) | st.text(max_size=40)


@fuzz_settings(40)
@given(
    storage=st.sampled_from(["mcap", "sqlite3"]),
    at=st.floats(0.0, 1.0),
    junk=yaml_junk,
    mode=st.sampled_from(["truncate", "insert", "replace"]),
)
def test_damaged_metadata_raises_only_bag_errors(
    bags: dict, engine, storage: str, at: float, junk: str, mode: str
) -> None:
    def damage(copy: Path) -> None:
        meta = copy / "metadata.yaml"
        text = meta.read_text()
        cut = int(at * len(text))
        meta.write_text(
            {"truncate": text[:cut], "insert": text[:cut] + junk + text[cut:], "replace": junk}[
                mode
            ]
        )

    _evaluate_damaged(bags[storage], engine, damage)


@fuzz_settings(30)
@given(storage=st.sampled_from(["mcap", "sqlite3"]), which=st.sampled_from(["storage", "meta"]))
def test_missing_bag_files_raise_only_bag_errors(
    bags: dict, engine, storage: str, which: str
) -> None:
    def damage(copy: Path) -> None:
        (copy / "metadata.yaml" if which == "meta" else _storage_file(copy)).unlink()

    _evaluate_damaged(bags[storage], engine, damage)


# ---------------------------------------------------------------------------- bag_player types
@fuzz_settings(200)
@given(
    st.sampled_from(
        [
            "this/msg/X",
            "antigravity/msg/X",
            "os/msg/X",
            "rclpy/msg/Node",
            "sensor_msgs/msg/Nope",
            "sensor_msgs/srv/Image",
            "../msg/X",
            "sensor_msgs.msg/msg/Image",
            "/msg/Image",
            "a/msg/b/c",
        ]
    )
    | st.text(max_size=30)
)
def test_message_types_named_by_a_bag_import_only_message_packages(msgtype: str) -> None:
    # Importing 'this.msg' would run the 'this' module (it prints the Zen of Python): a crafted
    # bag must not pick modules for mmed-bag play to import.
    import importlib.util
    import sys

    from mmed_ros.bag_player import message_class

    package = msgtype.split("/")[0]
    was_loaded = package in sys.modules
    try:
        cls = message_class(msgtype)
    except PROJECT_ERRORS:
        cls = None
    if not was_loaded and package in sys.modules:  # the bag made us import `package`
        spec = importlib.util.find_spec(package)
        assert spec and any(
            Path(p, "msg", "__init__.py").is_file() for p in spec.submodule_search_locations or []
        ), f"{msgtype!r} imported {package!r}, which is not a ROS message package"
    if cls is not None:
        assert hasattr(cls, "get_fields_and_field_types")


def test_real_message_types_still_resolve() -> None:
    from sensor_msgs.msg import Image

    from mmed_ros.bag_player import message_class

    assert message_class("sensor_msgs/msg/Image") is Image
