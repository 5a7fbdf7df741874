# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The perception node's parameters: one table for declaration, validation and docs.

ROS-free on purpose: the node turns each :class:`ParamSpec` into a ``ParameterDescriptor``, the
validation runs in plain pytest, and ``docs/ROS.md``'s parameter table is rendered from
:data:`PERCEPTION_PARAMS` (a test fails when they drift)::

    python -c "from mmed_ros.params import parameter_table; print(parameter_table())"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmed_core.network.modalities import MODALITIES as _REGISTRY

__all__ = [
    "ParamSpec",
    "PERCEPTION_PARAMS",
    "EVALUATOR_PARAMS",
    "MODALITIES",
    "parse_path",
    "parse_paths",
    "validate_params",
    "cross_check",
    "empty_overrides",
    "parameter_table",
]

# Every registered modality (mmed_core.network.modalities), e.g. rgb, depth, label, normals;
# whether a checkpoint has a path is checked when it is loaded.
MODALITIES: tuple[str, ...] = tuple(_REGISTRY)
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
RELIABILITIES: tuple[str, ...] = ("best_effort", "reliable")
INPUT_RELIABILITIES: tuple[str, ...] = ("auto", "best_effort", "reliable")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_PATH_RE = re.compile(r"^\s*(\w+)\s*->\s*(\w+)\s*$")

Validator = Callable[[Any], str | None]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, default (its type is the parameter's type), docs and checks."""

    name: str
    default: Any
    description: str
    read_only: bool = True  # most settings rebuild the model or the graph: start-up only
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    check: Validator | None = None  # extra rule; returns the reason a value is rejected

    def validate(self, value: Any) -> str | None:
        """Reason ``value`` is not acceptable for this parameter, or None when it is."""
        if self.choices and value not in self.choices:
            return f"{self.name}: expected one of {list(self.choices)}, got {value!r}"
        if self.min_value is not None and value < self.min_value:
            return f"{self.name}: expected >= {self.min_value}, got {value!r}"
        if self.max_value is not None and value > self.max_value:
            return f"{self.name}: expected <= {self.max_value}, got {value!r}"
        return self.check(value) if self.check else None


def parse_path(text: str) -> tuple[str, str]:
    """'rgb->label' -> ('rgb', 'label'); raises ValueError naming the bad entry."""
    match = _PATH_RE.match(str(text))
    if not match or match.group(1) not in _REGISTRY or match.group(2) not in _REGISTRY:
        raise ValueError(
            f"path {text!r}: expected 'SRC->DST' with SRC and DST in {list(_REGISTRY)}"
        )
    return match.group(1), match.group(2)


def parse_paths(texts: Sequence[str]) -> list[tuple[str, str]]:
    """Parse a list of 'SRC->DST' strings, keeping order and dropping duplicates."""
    out: list[tuple[str, str]] = []
    for text in texts:
        path = parse_path(text)
        if path not in out:
            out.append(path)
    return out


def _check_paths(value: Any) -> str | None:
    if not value:
        return "paths: expected at least one 'SRC->DST' entry, got an empty list"
    try:
        parse_paths(value)
    except ValueError as exc:
        return f"paths: {exc}"
    return None


def _check_device(value: Any) -> str | None:
    if not _DEVICE_RE.match(str(value)):
        return f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}"
    return None


def _check_topic(name: str, may_be_empty: bool) -> Validator:
    def check(value: Any) -> str | None:
        if value == "" and may_be_empty:
            return None
        if not re.match(r"^[~/]?[A-Za-z_][\w/]*$", str(value)) or "//" in str(value):
            return f"{name}: expected a ROS topic name, got {value!r}"
        return None

    return check


PERCEPTION_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "weights",
        "",
        "Checkpoint (.safetensors with its .json model card) to load.",
        check=lambda v: None if v else "weights: expected a checkpoint path, got ''",
    ),
    ParamSpec(
        "device",
        "auto",
        "Torch device: auto (cuda if present, else cpu), cpu, cuda, cuda:N.",
        check=_check_device,
    ),
    ParamSpec(
        "precision",
        "fp32",
        "Inference precision; fp16/bf16 only where the device supports it.",
        choices=PRECISIONS,
    ),
    ParamSpec(
        "backend",
        "eager",
        "Execution backend of the network: eager PyTorch, "
        "torchscript, onnxruntime (fp32 only; fastest on CPU, see docs/BENCHMARKS.md) or "
        "compile (torch.compile). Checked against eager at start.",
        choices=("eager", "torchscript", "onnxruntime", "compile"),
    ),
    ParamSpec(
        "cpu_fallback",
        False,
        "Run on the CPU instead of failing when the CUDA device asked for is missing.",
    ),
    ParamSpec(
        "paths",
        ["rgb->label", "rgb->depth", "depth->label"],
        "Conversion paths SRC->DST; paths whose source topic is empty are skipped.",
        check=_check_paths,
    ),
    ParamSpec(
        "rgb_topic",
        "rgb/image_raw",
        "RGB image input (rgb8, bgr8, rgba8, bgra8, mono8); empty = no RGB input.",
        check=_check_topic("rgb_topic", True),
    ),
    ParamSpec(
        "depth_topic",
        "",
        "Depth image input (32FC1 m or 16UC1 mm, REP 118); empty = no depth input.",
        check=_check_topic("depth_topic", True),
    ),
    ParamSpec(
        "label_topic",
        "",
        "Class-id image input (mono8) for label->X paths; empty = none.",
        check=_check_topic("label_topic", True),
    ),
    ParamSpec(
        "camera_info_suffix",
        "camera_info",
        "camera_info topic of each input: its image topic's last name replaced by this.",
        check=_check_topic("camera_info_suffix", False),
    ),
    ParamSpec(
        "qos_reliability",
        "auto",
        "Input reliability: auto = what the publishers offer (reliable when all of them offer "
        "it, else best_effort), re-checked every qos_recheck_period s.",
        choices=INPUT_RELIABILITIES,
    ),
    ParamSpec("qos_depth", 5, "Input queue depth (keep-last).", min_value=1, max_value=100),
    ParamSpec(
        "output_reliability",
        "reliable",
        "Output reliability; reliable also serves best-effort subscribers.",
        choices=RELIABILITIES,
    ),
    ParamSpec(
        "output_depth",
        10,
        "Output queue depth (keep-last): frames a slow reliable subscriber may lag behind.",
        min_value=1,
        max_value=100,
    ),
    ParamSpec(
        "publish_color",
        True,
        "Publish the colourised mask of label outputs (rgb8).",
        read_only=False,
    ),
    ParamSpec(
        "publish_overlay",
        False,
        "Publish the mask blended over the RGB input (rgb source only).",
        read_only=False,
    ),
    ParamSpec(
        "publish_confidence",
        False,
        "Publish the max-softmax confidence of label outputs (32FC1).",
        read_only=False,
    ),
    ParamSpec(
        "overlay_alpha",
        0.5,
        "Mask weight in the overlay.",
        read_only=False,
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "min_confidence",
        0.0,
        "Label pixels less confident than this become 255 (unknown).",
        read_only=False,
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "max_image_pixels",
        33_177_600,
        "Larger input images are rejected (8K = 33177600).",
        min_value=1,
        max_value=2**31 - 1,
    ),
    # -- formats and geometry (transports, resize, output size) --
    ParamSpec(
        "rgb_transport",
        "raw",
        "How rgb_topic arrives: raw (sensor_msgs/Image) or compressed (CompressedImage "
        "jpeg/png on <rgb_topic>/compressed, as image_transport publishes it).",
        choices=("raw", "compressed"),
    ),
    ParamSpec(
        "depth_transport",
        "raw",
        "How depth_topic arrives: raw, compressedDepth (CompressedImage on "
        "<depth_topic>/compressedDepth: 16UC1 png or 32FC1 quantised inverse depth) or "
        "compressed (16-bit png on <depth_topic>/compressed).",
        choices=("raw", "compressedDepth", "compressed"),
    ),
    ParamSpec(
        "label_transport",
        "raw",
        "How label_topic arrives: raw or compressed (png only: jpeg would invent class ids).",
        choices=("raw", "compressed"),
    ),
    ParamSpec(
        "resize",
        "stretch",
        "How an input is fitted to the network's input size: stretch (aspect ratio changes), "
        "letterbox (scaled to fit and padded; padding comes out unknown) or crop (scaled to "
        "cover, centre cut; the cut borders come out unknown at input size).",
        read_only=False,
        choices=("stretch", "letterbox", "crop"),
    ),
    ParamSpec(
        "output_size",
        "input",
        "Size of the outputs: input (the input image's resolution) or network (the network's "
        "input size, no resize back: smaller messages); camera_info matches either.",
        read_only=False,
        choices=("input", "network"),
    ),
    ParamSpec(
        "diagnostics_period",
        1.0,
        "Seconds between /diagnostics messages.",
        min_value=0.1,
        max_value=60.0,
    ),
    # --- runtime behaviour on a robot (issue 11: transport, health, RGB-D sync, lifecycle)
    ParamSpec(
        "autostart",
        True,
        "Configure and activate at start; false = wait for lifecycle transitions "
        "(ros2 lifecycle set).",
    ),
    ParamSpec(
        "qos_recheck_period",
        2.0,
        "Seconds between checks of the input publishers' QoS (qos_reliability auto) and of "
        "silent topics.",
        min_value=0.1,
        max_value=60.0,
    ),
    ParamSpec(
        "expected_rate",
        0.0,
        "Input rate (Hz) each source should arrive at; /diagnostics warns below 90% of it. "
        "0 = no expectation.",
        read_only=False,
        min_value=0.0,
        max_value=1000.0,
    ),
    ParamSpec(
        "silence_warn",
        3.0,
        "Seconds without a message on a subscribed topic before /diagnostics warns (naming "
        "the topic and the QoS its publishers offer).",
        read_only=False,
        min_value=0.1,
        max_value=3600.0,
    ),
    ParamSpec(
        "silence_error",
        10.0,
        "Seconds without a message before the warning becomes an error (>= silence_warn).",
        read_only=False,
        min_value=0.1,
        max_value=3600.0,
    ),
    ParamSpec(
        "rgbd_sync",
        True,
        "With both rgb and depth inputs: process them as pairs of the same instant (stamps "
        "within sync_slop); unpaired frames are dropped and counted. While one source is "
        "silent (silence_warn) the other is processed alone.",
    ),
    ParamSpec(
        "sync_slop",
        0.015,
        "Largest stamp difference (s) of an RGB-D pair; keep it below half the frame period.",
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "sync_queue",
        5,
        "Frames per source waiting for their partner; older ones are dropped as no_partner.",
        min_value=1,
        max_value=100,
    ),
)

EVALUATOR_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "depth_estimate_topic",
        "perception/rgb/depth",
        "Estimated depth (32FC1 m); empty = no depth metrics.",
        check=_check_topic("depth_estimate_topic", True),
    ),
    ParamSpec(
        "depth_truth_topic",
        "gt/depth",
        "Ground-truth depth (32FC1 m or 16UC1 mm).",
        check=_check_topic("depth_truth_topic", True),
    ),
    ParamSpec(
        "label_estimate_topic",
        "perception/rgb/label",
        "Estimated class ids (mono8); empty = no segmentation metrics.",
        check=_check_topic("label_estimate_topic", True),
    ),
    ParamSpec(
        "label_truth_topic",
        "gt/label",
        "Ground-truth class ids (mono8, 255 ignored).",
        check=_check_topic("label_truth_topic", True),
    ),
    ParamSpec(
        "weights",
        "",
        "Checkpoint whose model card gives the class names; empty = use class_names.",
    ),
    ParamSpec(
        "class_names",
        [""],
        "Class names in id order (sets the number of classes); [''] = the 12 NYUDv2 classes.",
    ),
    ParamSpec(
        "stamp_tolerance",
        0.001,
        "Largest stamp difference (s) that still matches.",
        min_value=0.0,
        max_value=10.0,
    ),
    ParamSpec(
        "max_pending", 100, "Unmatched messages kept per topic.", min_value=1, max_value=10000
    ),
    ParamSpec(
        "report_period",
        0.0,
        "Seconds between periodic reports; 0 = only on the service and at shutdown.",
        min_value=0.0,
        max_value=3600.0,
    ),
    ParamSpec("output_json", "", "Also write the final metrics to this JSON file (atomically)."),
    ParamSpec("qos_reliability", "reliable", "Subscription reliability.", choices=RELIABILITIES),
    ParamSpec(
        "resize_truth",
        False,
        "Resize ground truth of another resolution to the estimate's (nearest for labels, "
        "valid-pixel averaging for depth) instead of skipping the pair.",
    ),
)


def cross_check(values: Mapping[str, Any]) -> list[str]:
    """Reasons a set of perception parameters is inconsistent (rules across parameters)."""
    reasons = []
    warn, error = values.get("silence_warn"), values.get("silence_error")
    if warn is not None and error is not None and error < warn:
        reasons.append(
            f"silence_error: expected >= silence_warn ({warn}), got {error} "
            "(an error that comes before the warning)"
        )
    return reasons


def empty_overrides(args: Sequence[str]) -> list[str]:
    """Names in ``-p NAME:=`` overrides without a value (rcl rejects them with an unreadable
    error; an empty string is written ``-p "NAME:=''"``)."""
    bad, it = [], iter(args)
    for arg in it:
        if arg in ("-p", "--param"):
            rule = next(it, "")
            if rule.endswith(":=") and rule.count(":=") == 1:
                bad.append(rule[:-2])
    return bad


def validate_params(specs: Sequence[ParamSpec], values: Mapping[str, Any]) -> list[str]:
    """Reasons why ``values`` (name -> value) are rejected; empty when all are fine."""
    by_name = {spec.name: spec for spec in specs}
    reasons = []
    for name, value in values.items():
        spec = by_name.get(name)
        if spec is None:
            reasons.append(f"{name}: unknown parameter; known: {sorted(by_name)}")
            continue
        reason = spec.validate(value)
        if reason:
            reasons.append(reason)
    return reasons


def _fmt_default(value: Any) -> str:
    if isinstance(value, str):
        return f"`'{value}'`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(f"'{v}'" for v in value) + "]`"
    return f"`{value}`"


def parameter_table(specs: Sequence[ParamSpec] = PERCEPTION_PARAMS) -> str:
    """Markdown table of ``specs`` (the one in docs/ROS.md is checked against this)."""
    lines = ["| parameter | default | runtime change | description |", "| --- | --- | --- | --- |"]
    for spec in specs:
        extra = ""
        if spec.choices:
            extra = " One of " + ", ".join(f"`{c}`" for c in spec.choices) + "."
        elif spec.min_value is not None:
            extra = f" Range [{spec.min_value}, {spec.max_value}]."
        lines.append(
            f"| `{spec.name}` | {_fmt_default(spec.default)} | "
            f"{'no' if spec.read_only else 'yes'} | {spec.description}{extra} |"
        )
    return "\n".join(lines)
