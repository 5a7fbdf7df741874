# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The modality registry: how each modality enters the network, is decoded, and is scored.

    python -c "from mmed_core.network.modalities import MODALITIES; print(sorted(MODALITIES))"

The network works in *network units* (paper §3.2): RGB in [0, 255], depth normalised linearly
to [0, 255] over the dataset's depth range, labels as K one-hot channels (void pixels all-zero)
in and K logits out. Datasets and users work in *raw units*: RGB float 0..255 (B,3,H,W), depth
in metres or disparity (B,1,H,W, 0 = invalid), labels as ids (B,H,W, 255 = ignore).
``prepare_inputs`` / ``prepare_targets`` / ``postprocess`` convert between the two.

An entry also owns the modality's edges outside the network, so the inference engine, collate,
the ROS node and the figures iterate the registry instead of naming modalities: ``from_array``
(a numpy image as a camera or file gives it -> raw-unit array and invalid mask),
``interpolation`` (how it is resized: 'area' for images, 'nearest' for ids, 'valid' for depth,
which averages valid pixels only), ``to_array`` (raw-unit output -> the published array),
``encoding`` (its sensor_msgs/Image encoding), ``missing`` (the raw value of a sample that
lacks it) and ``to_display`` (an RGB picture of a raw array, for figures).

Adding a modality is one :func:`register_modality` call (see ``normals`` below).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.errors import ConfigError, InputError

if TYPE_CHECKING:
    from mmed_core.network.config import ModelConfig

__all__ = [
    "Modality",
    "MODALITIES",
    "register_modality",
    "get_modality",
    "prepare_inputs",
    "prepare_targets",
    "postprocess",
    "normalize_depth",
    "denormalize_depth",
    "depth_from_array",
    "input_key",
]


def normalize_depth(depth: torch.Tensor, depth_range: tuple[float, float]) -> torch.Tensor:
    """Raw depth -> [0, 255]; invalid pixels (NaN, <= 0) map to 0. REP 118: +inf (beyond range)
    clamps to the far end of the range and -inf (too close) to the near end."""
    lo, hi = depth_range
    valid = torch.isinf(depth) | (torch.isfinite(depth) & (depth > 0))
    out = (depth.clamp(lo, hi) - lo) * (255.0 / (hi - lo))
    return torch.where(valid, out, torch.zeros_like(out))


def denormalize_depth(y: torch.Tensor, depth_range: tuple[float, float]) -> torch.Tensor:
    lo, hi = depth_range
    return y.clamp(0.0, 255.0) * ((hi - lo) / 255.0) + lo


def _l1(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-sample mean over valid pixels of the channel-summed L1 distance (paper eqs. 3-4)."""
    err = (pred - target).abs().sum(dim=1) * valid  # (B,H,W)
    n = valid.flatten(1).sum(1).clamp_min(1)
    return err.flatten(1).sum(1) / n


def _ce(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-sample pixel cross-entropy over non-void pixels (paper eq. 2)."""
    err = F.cross_entropy(pred, target, reduction="none") * valid
    n = valid.flatten(1).sum(1).clamp_min(1)
    return err.flatten(1).sum(1) / n


ArrayIn = Callable[[np.ndarray, "ModelConfig"], tuple[np.ndarray, "np.ndarray | None"]]


@dataclass(frozen=True)
class Modality:
    """One registry entry. ``channels`` is a number or a function of the config (labels: K).

    Network edge: ``to_network`` / ``to_target`` / ``from_network`` (raw <-> network units).
    Array edge (engine, node, bag tools): ``from_array`` (numpy image -> raw array (H, W, C)
    float32, or (H, W) ids, plus an (H, W) invalid mask or None), ``interpolation``,
    ``to_array`` (raw output (H, W, C) float32, NaN where unknown -> published array) and
    ``encoding``. Data edge: ``missing`` (raw fill of a sample without it). ``to_display``:
    raw array -> (H, W, 3) uint8 for figures.
    """

    name: str
    channels: int | Callable[[ModelConfig], int]
    loss: str  # "l1" or "ce"
    to_network: Callable[[torch.Tensor, ModelConfig], torch.Tensor]
    to_target: Callable[[torch.Tensor, ModelConfig], tuple[torch.Tensor, torch.Tensor]]
    from_network: Callable[[torch.Tensor, ModelConfig], torch.Tensor]
    raw_channels: int | None = None  # channels of the raw tensor (None: ids map (B,H,W))
    encoding: str = "32FC1"
    interpolation: str = "area"
    from_array: ArrayIn | None = None
    to_array: Callable[[np.ndarray], np.ndarray] | None = None
    missing: float | None = None  # None: required in every sample
    to_display: Callable[[np.ndarray, ModelConfig], np.ndarray] | None = None

    @property
    def categorical(self) -> bool:
        """Class ids (one-hot in, K logits out), not a continuous image."""
        return self.raw_channels is None

    def num_channels(self, config: ModelConfig) -> int:
        return self.channels(config) if callable(self.channels) else int(self.channels)

    def array_in(
        self, image: np.ndarray, config: ModelConfig
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """A numpy image (H, W[, C]) -> (raw array, invalid mask or None); InputError if the
        modality has no array conversion or the image does not fit it."""
        arr = np.asarray(image)
        if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputError(
                f"input '{self.name}': expected an image (H, W[, C]) with H, W > 0, "
                f"got shape {arr.shape}"
            )
        if self.from_array is None:
            raise InputError(f"input '{self.name}': this modality has no array conversion")
        return self.from_array(arr, config)

    def array_out(self, raw: np.ndarray) -> np.ndarray:
        """Raw-unit output (H, W, C) float32 (NaN = unknown) -> the array to publish."""
        return self.to_array(raw) if self.to_array is not None else raw

    def loss_per_sample(
        self, pred: torch.Tensor, raw: torch.Tensor, config: ModelConfig
    ) -> torch.Tensor:
        target, valid = self.to_target(raw, config)
        if pred.shape[-2:] != target.shape[-2:]:
            raise InputError(
                f"`{self.name}` prediction is {tuple(pred.shape[-2:])} but target is "
                f"{tuple(target.shape[-2:])}"
            )
        fn = {"l1": _l1, "ce": _ce}[self.loss]
        return fn(pred, target, valid.to(pred.dtype) if self.loss == "l1" else valid.long())


MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> Modality:
    if modality.loss not in ("l1", "ce"):
        raise ConfigError(
            f"Modality `{modality.name}`: loss must be 'l1' or 'ce', got {modality.loss!r}"
        )
    MODALITIES[modality.name] = modality
    return modality


def get_modality(name: str) -> Modality:
    try:
        return MODALITIES[name]
    except KeyError:
        raise ConfigError(f"Unknown modality `{name}`, registered: {sorted(MODALITIES)}") from None


# ---------------------------------------------------------------------------- entries
def _all_valid(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[0], *x.shape[2:], dtype=torch.bool, device=x.device)


def _label_to_network(ids: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    if ids.dim() == 4:  # already one-hot / soft labels
        return ids.float()
    k = config.num_classes
    # Ids outside the classes (void 255, and any other id >= k or < 0) encode as all-zero, as the
    # loss and the metrics ignore them; clamping would call them the last class.
    valid = (ids != IGNORE_INDEX) & (ids >= 0) & (ids < k)
    onehot = F.one_hot(torch.where(valid, ids, torch.zeros_like(ids)).long(), k)
    return (onehot * valid.unsqueeze(-1)).permute(0, 3, 1, 2).float()


def _label_to_target(ids: torch.Tensor, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    ids = ids.long()
    valid = (ids != IGNORE_INDEX) & (ids >= 0) & (ids < config.num_classes)
    return torch.where(valid, ids, torch.zeros_like(ids)), valid


def _channels_in(name: str, arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, channels) float32 from (H, W[, C]); a single channel is repeated."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, channels, channels + 1):
        raise InputError(
            f"input '{name}': expected (H, W, {channels}) (or (H, W) / (H, W, 1)), got shape "
            f"{arr.shape}"
        )
    if arr.shape[2] == 1 and channels > 1:
        arr = np.repeat(arr, channels, axis=2)
    return np.ascontiguousarray(arr[:, :, :channels], dtype=np.float32)


def _rgb_from_array(arr: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, None]:
    return _channels_in("rgb", arr, 3), None


def depth_from_array(arr: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """REP 118 depth (H, W) -> ((H, W, 1) float32 raw units, invalid mask or None).

    NaN, 0 and negative values are "no measurement" (invalid, 0 in the array); +inf ("beyond
    range", a valid reading) becomes the far end of the model's depth range, -inf ("too
    close") the near end.
    """
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(f"input 'depth': expected a single-channel (H, W) image, got {arr.shape}")
    d = np.asarray(arr, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(d) | (np.isfinite(d) & (d <= 0))
    lo, hi = (float(v) for v in config.depth_range)
    out = np.where(bad, np.float32(0), np.clip(np.nan_to_num(d, posinf=hi, neginf=lo), 0, None))
    return out.astype(np.float32)[:, :, None], (bad if bad.any() else None)


def _label_from_array(arr: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, None]:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(f"input 'label': expected (H, W) class ids, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8), None


def _normals_from_array(arr: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    n = _channels_in("normals", arr, 3)
    bad = ~np.isfinite(n).all(axis=2) | (np.abs(n).sum(axis=2) == 0)
    n[bad] = 0
    return n, bad


def _rgb_to_array(raw: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(raw, nan=0.0) + 0.5, 0, 255).astype(np.uint8)


def _normals_to_array(raw: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(raw, axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (raw / norm).astype(np.float32)


def _gray(x: np.ndarray) -> np.ndarray:
    g = np.clip(np.nan_to_num(x, nan=0.0) + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def _depth_display(raw: np.ndarray, config: ModelConfig) -> np.ndarray:
    d = torch.as_tensor(np.asarray(raw, np.float32).reshape(raw.shape[0], raw.shape[1]))
    return _gray(normalize_depth(d, config.depth_range).numpy())


def _label_display(ids: np.ndarray, config: ModelConfig) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(config.palette, np.uint8).reshape(-1, 3)[:255]
    lut[: len(pal)] = pal
    return lut[np.clip(np.asarray(ids), 0, IGNORE_INDEX).astype(np.int64)]


def _normals_display(raw: np.ndarray, config: ModelConfig) -> np.ndarray:
    n = np.nan_to_num(np.asarray(raw, np.float32), nan=0.0)
    return np.clip((n + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8) * (
        np.abs(n).sum(axis=2, keepdims=True) > 0
    )


register_modality(
    Modality(
        name="rgb",
        channels=3,
        raw_channels=3,
        loss="l1",
        to_network=lambda x, c: x.float(),
        to_target=lambda x, c: (x.float(), _all_valid(x)),
        from_network=lambda y, c: y.clamp(0.0, 255.0),
        encoding="rgb8",
        interpolation="area",
        from_array=_rgb_from_array,
        to_array=_rgb_to_array,
        missing=None,
        to_display=lambda x, c: _rgb_to_array(np.asarray(x, np.float32)),
    )
)
register_modality(
    Modality(
        name="depth",
        channels=1,
        raw_channels=1,
        loss="l1",
        to_network=lambda x, c: normalize_depth(x.float(), c.depth_range),
        to_target=lambda x, c: (
            normalize_depth(x.float(), c.depth_range),
            (torch.isfinite(x) & (x > 0)).squeeze(1),
        ),
        from_network=lambda y, c: denormalize_depth(y, c.depth_range),
        encoding="32FC1",
        interpolation="valid",
        from_array=depth_from_array,
        to_array=lambda raw: np.ascontiguousarray(raw[:, :, 0], dtype=np.float32),
        missing=0.0,
        to_display=_depth_display,
    )
)
register_modality(
    Modality(
        name="label",
        channels=lambda c: c.num_classes,
        raw_channels=None,
        loss="ce",
        to_network=_label_to_network,
        to_target=_label_to_target,
        from_network=lambda y, c: y.softmax(dim=1),
        encoding="mono8",
        interpolation="nearest",
        from_array=_label_from_array,
        missing=float(IGNORE_INDEX),
        to_display=_label_display,
    )
)
# Surface normals (unit vectors in [-1, 1]^3; all-zero = invalid), the paper's "more encoders and
# decoders can be added": one entry, no other code changes.
register_modality(
    Modality(
        name="normals",
        channels=3,
        raw_channels=3,
        loss="l1",
        to_network=lambda x, c: (x.float() + 1.0) * 127.5,
        to_target=lambda x, c: ((x.float() + 1.0) * 127.5, x.abs().sum(1) > 0),
        from_network=lambda y, c: F.normalize(y / 127.5 - 1.0, dim=1),
        encoding="32FC3",
        interpolation="linear",
        from_array=_normals_from_array,
        to_array=_normals_to_array,
        missing=0.0,
        to_display=_normals_display,
    )
)


# ---------------------------------------------------------------------------- batch helpers
def input_key(name: str) -> str:
    """The batch key of modality ``name``'s *input* when it differs from its target: a training
    batch may hold ``depth_input`` (e.g. Kinect-like depth) beside the clean ``depth`` that the
    losses score, or ``rgb_input`` (photometric jitter) beside ``rgb``. Encoders read
    ``batch[input_key(m)]`` when present, else ``batch[m]`` (``mmed_core.network.losses``)."""
    return f"{name}_input"


def check_raw(name: str, x: torch.Tensor, config: ModelConfig) -> None:
    """Raise InputError unless ``x`` is a plausible raw tensor of modality ``name``."""
    mod = get_modality(name)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"input `{name}` must be a torch.Tensor, got {type(x).__name__}")
    if mod.raw_channels is None:  # ids (B,H,W) or one-hot (B,K,H,W)
        k = config.num_classes
        if not (x.dim() == 3 or (x.dim() == 4 and x.shape[1] == k)):
            raise InputError(
                f"input `{name}` must be ids (B,H,W) or one-hot (B,{k},H,W), "
                f"got shape {tuple(x.shape)}"
            )
    elif x.dim() != 4 or x.shape[1] != mod.raw_channels:
        raise InputError(
            f"input `{name}` must have shape (B,{mod.raw_channels},H,W), got {tuple(x.shape)}"
        )
    if x.is_floating_point() and name != "depth" and not torch.isfinite(x).all():
        raise InputError(f"input `{name}` contains NaN or inf values")


def prepare_inputs(
    raw: Mapping[str, torch.Tensor], config: ModelConfig
) -> dict[str, torch.Tensor]:
    """Raw units -> network units for every given modality."""
    out = {}
    for name, x in raw.items():
        check_raw(name, x, config)
        out[name] = get_modality(name).to_network(x, config)
    return out


def prepare_targets(
    raw: Mapping[str, torch.Tensor], config: ModelConfig
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {name: get_modality(name).to_target(x, config) for name, x in raw.items()}


def postprocess(name: str, y: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """Network output -> raw units (label: class probabilities; depth: dataset units)."""
    return get_modality(name).from_network(y, config)
