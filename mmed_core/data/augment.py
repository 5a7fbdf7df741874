# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Training-time transforms of the samples: augmentation and a sensor-like depth *input*.

    mmed-train --config config/train_indoor.yaml data.augment=standard data.depth_input=kinect
    python -m pytest test/test_data_augment.py

:class:`TrainTransform` wraps the training set (the trainer does it for ``data.augment`` other
than ``none`` or ``data.depth_input: kinect``); validation never gets the augmentation, but with
``data.depth_input: kinect`` it reads the fixed draws of :func:`with_depth_input`, so model
selection scores the input the model is trained for:

- ``data.augment`` (:data:`AUGMENTS`): ``none`` (the paper's recipe; no wrapper at all, so runs
  are bit-identical to before), ``flip`` (horizontal flip, p = 0.5), ``standard`` (flip, a
  random zoom of 1-1.25x cropped back to the training size, photometric jitter). A flip or zoom
  moves every modality of a sample alike (RGB bilinear; depth, labels and other modalities
  nearest, so ids are never blended and holes never spread); a flip also mirrors the x
  component of surface normals. The zoom keeps depth values as they are: in this simple model a
  zoom is a camera with a longer focal length at the same place, which sees the same metric
  depth at each point; only the size-to-distance relation of objects changes by the zoom
  factor, which is why the range stays small. The photometric jitter (brightness, contrast,
  saturation +-20%, hue +-0.03 turn) goes into a separate ``rgb_input``: the encoders read the
  jittered image, the RGB decoders' target stays the un-jittered one (a decoder cannot predict
  a random jitter from depth or labels). ``randconv``: ``standard``, and on half the samples a
  random convolution of the RGB input blended with it (RandConv, Xu et al., ICLR 2021: random
  kernel of size 1-7, so colours and textures change while shapes stay), also in
  ``rgb_input`` only.
- ``data.depth_input`` (:data:`DEPTH_INPUTS`): ``clean`` (the depth is input and target) or
  ``kinect``: the depth encoder reads :func:`mmed_core.data.synthetic.kinect_depth` of the
  depth, in ``depth_input`` (noise growing with distance, disparity quantisation, holes = 0,
  which the depth encoder takes as "no measurement"), while every depth loss scores the clean
  depth. It is drawn before the flip/zoom, which then move it with the rest of the sample.
  Metric datasets only (``info.depth_units == "m"``).

Every random draw of a sample comes from a generator seeded with ``(seed, epoch, index)``, so a
given ``train.seed`` gives the same samples whatever the order, the number of DataLoader workers
or a resume mid-epoch; each epoch draws anew. Samples are read one at a time from the wrapped
dataset (a memory-mapped cache is never copied whole).

:func:`with_depth_input` gives the same Kinect-like depth input to an evaluation set
(``mmed-eval --depth-input kinect --seed S``): one fixed draw per ``(seed, index)``, so the
scores are reproducible and do not depend on the batch size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmed_core.data.base import WrappedDataset
from mmed_core.data.synthetic import kinect_depth
from mmed_core.errors import ConfigError
from mmed_core.network.modalities import MODALITIES, input_key

__all__ = [
    "AUGMENTS",
    "DEPTH_INPUTS",
    "TRAIN_DEPTH_INPUTS",
    "MIXED_KINECT_P",
    "validation_depth_input",
    "AugmentConfig",
    "TrainTransform",
    "augment_sample",
    "sample_rng",
    "with_depth_input",
]


@dataclass(frozen=True)
class AugmentConfig:
    """One augmentation level: what :func:`augment_sample` may draw."""

    flip: float = 0.0  # probability of a horizontal flip
    zoom: tuple[float, float] = (1.0, 1.0)  # scale range of the crop-and-resize (1 = none)
    brightness: float = 0.0  # gain drawn in 1 +- brightness
    contrast: float = 0.0  # contrast factor in 1 +- contrast (around the mean luma)
    saturation: float = 0.0  # chroma factor in 1 +- saturation
    hue: float = 0.0  # hue rotation in +- hue turns (YIQ)
    randconv: float = 0.0  # probability of a random convolution of the RGB input (RandConv)
    randconv_kernels: tuple[int, ...] = (1, 3, 5, 7)  # its kernel sizes, one drawn per sample

    @property
    def photometric(self) -> bool:
        return any((self.brightness, self.contrast, self.saturation, self.hue))


#: ``data.augment`` values and what they draw (``none``: no transform at all).
_STANDARD = AugmentConfig(
    flip=0.5, zoom=(1.0, 1.25), brightness=0.2, contrast=0.2, saturation=0.2, hue=0.03
)
AUGMENTS: dict[str, AugmentConfig | None] = {
    "none": None,
    "flip": AugmentConfig(flip=0.5),
    "standard": _STANDARD,
    "randconv": dataclasses.replace(_STANDARD, randconv=0.5),
}
#: What an evaluation's depth encoder reads: ``clean`` (input = target) | ``kinect``
#: (kinect_depth input); ``mmed-eval --depth-input``.
DEPTH_INPUTS = ("clean", "kinect")
#: ``data.depth_input`` values: those, and ``mixed``: each training sample reads the Kinect-like
#: depth with probability :data:`MIXED_KINECT_P` (drawn per sample and epoch), clean otherwise.
TRAIN_DEPTH_INPUTS = (*DEPTH_INPUTS, "mixed")
MIXED_KINECT_P = 0.5


def validation_depth_input(depth_input: str) -> str:
    """What validation reads for ``data.depth_input``: the same, and for ``mixed`` the
    Kinect-like depth (a deployed model reads a sensor's depth)."""
    return "kinect" if depth_input == "mixed" else depth_input


# Streams of the per-sample generator, so the kinect draws do not depend on the augmentation.
_AUGMENT_STREAM, _KINECT_STREAM = 0xA06, 0x41C7
# RGB <-> YIQ (NTSC): saturation scales I and Q, hue rotates them.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_LUMA = torch.tensor(_YIQ[0], dtype=torch.float32)


def sample_rng(seed: int, epoch: int, index: int, stream: int) -> np.random.Generator:
    """The generator of one sample's draws in one epoch (independent of order and workers)."""
    return np.random.default_rng([seed % 2**63, epoch, index, stream])


def _zoom_index(n: int, start: int, length: int) -> torch.Tensor:
    """Nearest source index of each of ``n`` output pixels over ``length`` pixels from
    ``start`` (pixel centres aligned, as ``align_corners=False``)."""
    pos = (torch.arange(n, dtype=torch.float64) + 0.5) * (length / n)
    return start + pos.floor().long().clamp_(0, length - 1)


def _geometric(
    x: torch.Tensor, name: str, flip: bool, box: tuple[int, int, int, int] | None
) -> torch.Tensor:
    """Flip and zoom one modality's tensor ((C, H, W) or (H, W) ids)."""
    h, w = x.shape[-2:]
    if box is not None:
        top, left, ch, cw = box
        if name == "rgb":
            crop = x[..., top : top + ch, left : left + cw].float()[None]
            x = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)[0]
        else:
            x = x.index_select(-2, _zoom_index(h, top, ch))
            x = x.index_select(-1, _zoom_index(w, left, cw))
    if flip:
        x = x.flip(-1)
        if name == "normals":  # x right: a mirror turns it round
            x = x.clone()
            x[0] = -x[0]
    return x.contiguous()


def _jitter(rgb: torch.Tensor, cfg: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation and hue of an RGB (3, H, W) float 0..255 image."""
    b = rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    c = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    s = rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    theta = 2 * np.pi * rng.uniform(-cfg.hue, cfg.hue)
    x = rgb.float() * float(b)
    mean = float((_LUMA[:, None, None] * x).sum(0).mean())
    x = (x - mean) * float(c) + mean
    rot = np.array(
        [[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]]
    )
    m = np.linalg.inv(_YIQ) @ np.diag([1.0, s, s]) @ rot @ _YIQ
    x = torch.einsum("ij,jhw->ihw", torch.as_tensor(m, dtype=torch.float32), x)
    return x.clamp_(0.0, 255.0)


def _randconv(rgb: torch.Tensor, cfg: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    """A random convolution of an RGB (3, H, W) 0..255 image, mixed with it (RandConv, Xu et
    al., ICLR 2021): kernel size k from ``cfg.randconv_kernels``, weights N(0, 1/(3 k^2)), on
    the per-channel standardised image with reflected borders; each output channel is brought
    back to the mean and spread of the input's channel, then blended with the input by a
    weight drawn in [0, 1). Shapes stay, local colour and texture are scrambled: the network
    cannot lean on the renderer's textures and colours."""
    x = rgb.float() / 255.0
    k = int(rng.choice(cfg.randconv_kernels))
    w = rng.normal(0.0, 1.0 / np.sqrt(3 * k * k), size=(3, 3, k, k))
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True).clamp_min(1e-3)
    z = ((x - mean) / std)[None]
    if k > 1:
        z = F.pad(z, (k // 2,) * 4, mode="reflect")
    y = F.conv2d(z, torch.as_tensor(w, dtype=torch.float32))[0]
    y = (y - y.mean(dim=(1, 2), keepdim=True)) / y.std(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    y = y * std + mean
    alpha = float(rng.random())
    return ((alpha * x + (1 - alpha) * y).clamp_(0.0, 1.0) * 255.0).contiguous()


def augment_sample(
    sample: dict[str, Any], cfg: AugmentConfig, rng: np.random.Generator
) -> dict[str, Any]:
    """``sample`` flipped / zoomed (every registered modality alike) with ``rgb_input`` jittered
    if ``cfg`` says so; one draw from ``rng`` for all its modalities."""
    out = dict(sample)
    h, w = torch.as_tensor(sample["rgb"]).shape[-2:]
    flip = bool(rng.random() < cfg.flip)
    scale = float(rng.uniform(*cfg.zoom))
    box = None
    if scale > 1.0:
        ch, cw = max(1, round(h / scale)), max(1, round(w / scale))
        box = (int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw)
    if flip or box is not None:
        for key, value in sample.items():
            name = key[: -len("_input")] if key.endswith("_input") else key
            if name in MODALITIES and value is not None:
                out[key] = _geometric(torch.as_tensor(value), name, flip, box)
    if cfg.photometric:
        source = out.get(input_key("rgb"), out["rgb"])
        out[input_key("rgb")] = _jitter(torch.as_tensor(source), cfg, rng)
    # drawn only where configured, so the other levels' draws stay what they were
    if cfg.randconv > 0 and rng.random() < cfg.randconv:
        source = out.get(input_key("rgb"), out["rgb"])
        out[input_key("rgb")] = _randconv(torch.as_tensor(source), cfg, rng)
    return out


def _kinect(sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``sample`` with ``depth_input`` = kinect_depth of its depth (seen with its un-jittered
    RGB, for the holes on dark surfaces)."""
    depth = torch.as_tensor(sample["depth"], dtype=torch.float32)
    rgb = torch.as_tensor(sample["rgb"], dtype=torch.float32).permute(1, 2, 0).numpy()
    noisy = kinect_depth(depth.reshape(depth.shape[-2:]).numpy(), rgb, rng)
    return {**sample, input_key("depth"): torch.from_numpy(noisy).reshape(depth.shape)}


class TrainTransform(WrappedDataset):
    """The training set with ``augment`` and ``depth_input`` applied (module docstring).

    Call :meth:`set_epoch` before each epoch (the trainer does). Attributes of the wrapped
    dataset (``info``, ...) pass through.
    """

    def __init__(
        self,
        dataset: Any,
        augment: str = "none",
        depth_input: str = "clean",
        *,
        seed: int = 0,
    ) -> None:
        if augment not in AUGMENTS:
            raise ConfigError(f"data.augment must be one of {list(AUGMENTS)}, got {augment!r}")
        if depth_input not in TRAIN_DEPTH_INPUTS:
            raise ConfigError(
                f"data.depth_input must be one of {list(TRAIN_DEPTH_INPUTS)}, got {depth_input!r}"
            )
        self.dataset, self.augment, self.depth_input = dataset, augment, depth_input
        self.config = AUGMENTS[augment]
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the transforms of ``epoch`` (each epoch sees new ones)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range ({n} samples)")
        index %= n
        sample = dict(self.dataset[index])
        if self.depth_input != "clean":
            rng = sample_rng(self.seed, self.epoch, index, _KINECT_STREAM)
            # kinect draws nothing more, so its runs stay what they were before mixed existed
            if self.depth_input == "kinect" or rng.random() < MIXED_KINECT_P:
                sample = _kinect(sample, rng)
        if self.config is not None:
            rng = sample_rng(self.seed, self.epoch, index, _AUGMENT_STREAM)
            sample = augment_sample(sample, self.config, rng)
        return sample


def with_depth_input(
    dataset: Any, depth_input: str, *, seed: int = 0, where: str = "depth_input"
) -> Any:
    """``dataset`` as an evaluation set whose encoders read ``depth_input`` (:data:`DEPTH_INPUTS`):
    ``clean`` gives ``dataset`` itself; ``kinect`` wraps it so each sample carries
    ``depth_input`` = :func:`~mmed_core.data.synthetic.kinect_depth` of its depth (the draw of
    :class:`TrainTransform`'s epoch 0, seeded with ``(seed, index)`` only; no augmentation) while
    ``depth`` stays the clean target. ``where`` names the setting in errors (e.g.
    ``--depth-input``). Kinect-like input needs metric depth (``info.depth_units == "m"``)."""
    if depth_input not in DEPTH_INPUTS:
        raise ConfigError(f"{where} must be one of {list(DEPTH_INPUTS)}, got {depth_input!r}")
    if depth_input == "clean":
        return dataset
    info = getattr(dataset, "info", None)
    units = getattr(info, "depth_units", None)
    if units != "m":
        name = getattr(info, "name", "?")
        raise ConfigError(
            f"{where}=kinect simulates a metric depth sensor, but dataset `{name}` gives depth "
            f"in {units!r}; use {where}=clean"
        )
    return TrainTransform(dataset, "none", depth_input, seed=seed)
