# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Inference engine: a checkpoint on a device, numpy images in and out at their own resolution.

    python -c "from mmed_core.deploy.inference import InferenceEngine as E; import numpy as np; \
e = E.from_checkpoint('runs/demo/best.safetensors'); \
print(e.infer({'rgb': np.zeros((480, 640, 3), np.uint8)}, [('rgb', 'label')]))"

It never imports rclpy: the ROS node, the bag tool and scripts share it. Each call resizes every
input to the model's input size (OpenCV), encodes each input once, decodes the requested
paths and resizes the outputs back: class ids with nearest neighbour (so no invented classes
at borders), confidence, depth and RGB bilinearly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.deploy.backends import select_backend
from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import ConfigError, InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import postprocess, prepare_inputs

__all__ = ["Prediction", "InferenceEngine", "resolve_device", "resolve_precision", "PRECISIONS"]

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


@dataclass(frozen=True)
class Prediction:
    """One path's output at the input resolution.

    ``array``: label -> class ids (H, W) uint8, 255 = unknown; depth -> (H, W) float32 in the
    dataset's units (``config.depth_units``), NaN where unknown; rgb -> (H, W, 3) uint8.
    ``confidence``: label only, the max softmax probability (H, W) float32.
    ``probabilities``: label only and only when asked, (K, H, W) float32.
    """

    src: str
    dst: str
    array: np.ndarray
    confidence: np.ndarray | None = None
    probabilities: np.ndarray | None = None


def resolve_device(device: str, *, cpu_fallback: bool = False) -> tuple[torch.device, str | None]:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> (torch.device, warning or None).

    A CUDA device that is not there is an error, unless ``cpu_fallback`` asks for the CPU
    instead; the returned warning then says so, for the caller to log.
    """
    text = str(device).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu"), None
    if text == "cpu":
        return torch.device("cpu"), None
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        index = int(text[5:]) if ":" in text else 0
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index < count:
            return torch.device("cuda", index), None
        why = (
            f"device '{device}': CUDA is not available (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda})"
            if count == 0
            else f"device '{device}': only {count} CUDA device(s) present"
        )
        if cpu_fallback:
            return torch.device("cpu"), why + "; falling back to the CPU as configured"
        raise ConfigError(why + "; use device 'cpu' or 'auto', or enable the CPU fallback")
    raise ConfigError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """'fp32' | 'fp16' | 'bf16' -> dtype; refuses bf16 on a GPU without bf16 support."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    dtype = PRECISIONS[precision]
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"precision 'bf16': {torch.cuda.get_device_name(device)} does not "
            "support bfloat16; use 'fp16' or 'fp32'"
        )
    return dtype


class InferenceEngine:
    """A model in eval mode on one device and precision, with numpy in/out."""

    def __init__(
        self,
        model: torch.nn.Module,
        card: Mapping[str, Any] | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config: ModelConfig = model.config
        self.card = dict(card or {})
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(self.device, dtype).eval()
        self.paths: tuple[tuple[str, str], ...] = tuple(self.config.paths())
        self._probe()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "auto",
        precision: str = "fp32",
        cpu_fallback: bool = False,
        warn: Any = None,
    ) -> InferenceEngine:
        """Load ``path`` (x.safetensors + x.json) onto ``device`` in ``precision``.

        Raises CheckpointError (missing / tampered / incompatible file) or ConfigError (device
        or precision unavailable). ``warn(msg)`` receives the CPU-fallback notice, if any.
        """

        torch_device, warning = resolve_device(device, cpu_fallback=cpu_fallback)
        if warning and warn is not None:
            warn(warning)
        dtype = resolve_precision(precision, torch_device)
        model, card = load_checkpoint(path, map_location="cpu")
        return cls(model, card, device=torch_device, dtype=dtype)

    def use_backend(self, backend: str, paths: Iterable[tuple[str, str]]) -> None:
        """Run ``paths`` on ``backend`` (eager, torchscript, onnxruntime, compile) from now on.

        The backend computes exactly these paths (a compiled graph has no optional outputs), so
        the node passes its own paths, not all N x N. Its outputs are checked against eager
        when it is built (ExportError if they differ, ConfigError if it is not installed).
        """
        if backend == "eager":
            return
        wanted = self.check_paths(paths)
        if backend == "onnxruntime" and self.dtype != torch.float32:
            raise ConfigError(
                f"backend 'onnxruntime' runs fp32 only, precision is {self.dtype}; "
                "use backend 'eager' or 'torchscript' for fp16/bf16"
            )

        self.model = select_backend(self.model, wanted, backend)
        self.paths = tuple(wanted)

    def _probe(self) -> None:
        """One tiny forward pass, so an unsupported device/precision fails at start, not later."""
        h, w = self.config.input_size
        src = self.paths[0][0] if self.paths else "rgb"
        samples = {
            "rgb": np.zeros((h, w, 3), np.uint8),
            "depth": np.ones((h, w), np.float32),
            "label": np.zeros((h, w), np.uint8),
        }
        sample = samples.get(src)
        if sample is None:
            return
        try:
            self.infer({src: sample}, [p for p in self.paths if p[0] == src][:1])
        except RuntimeError as exc:  # e.g. "not implemented for 'Half'" on some CPU kernels
            name = {v: k for k, v in PRECISIONS.items()}.get(self.dtype, str(self.dtype))
            raise ConfigError(
                f"precision '{name}' is not supported on device '{self.device}' "
                f"({exc}); use 'fp32'"
            ) from exc

    # ------------------------------------------------------------------ public API
    def describe(self) -> str:
        """One-line summary of the model card (logged by the node at start)."""
        c = self.config
        return (
            f"method={c.method} dataset={self.card.get('dataset', c.dataset)} "
            f"input_size={c.input_size[0]}x{c.input_size[1]} paths="
            f"{','.join(f'{s}->{d}' for s, d in self.paths)} classes={list(c.class_names)} "
            f"depth={c.depth_units} {list(c.depth_range)} device={self.device} "
            f"dtype={str(self.dtype).replace('torch.', '')} "
            f"created={self.card.get('created', '?')}"
        )

    def check_paths(self, paths: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Return ``paths`` as a list, or raise ConfigError naming one this model lacks."""
        wanted = [tuple(p) for p in paths]
        for p in wanted:
            if p not in self.paths:
                raise ConfigError(
                    f"path {p[0]}->{p[1]}: not in this model; it has "
                    f"{[f'{s}->{d}' for s, d in self.paths]}"
                )
        return wanted  # type: ignore[return-value]

    @torch.inference_mode()
    def infer(
        self,
        inputs: Mapping[str, np.ndarray],
        paths: Iterable[tuple[str, str]],
        *,
        min_confidence: float = 0.0,
        probabilities: bool = False,
        mask_invalid: bool = True,
    ) -> dict[tuple[str, str], Prediction]:
        """Run ``paths`` on ``inputs`` (modality -> image at any resolution).

        rgb: (H, W, 3) uint8 (or (H, W) grey); depth: (H, W) float in dataset units, NaN/inf/
        <= 0 = invalid; label: (H, W) uint8 ids, 255 = unknown. Each source may have its own
        resolution; its outputs come back at that resolution. Label pixels less confident than
        ``min_confidence`` become 255; with ``mask_invalid``, pixels whose depth input was
        invalid become 255 / NaN in every output of that source.
        """
        wanted = self.check_paths(paths)
        for src, _ in wanted:
            if src not in inputs:
                raise InputError(f"path {src}->?: needs input '{src}', given {sorted(inputs)}")
        sources = list(dict.fromkeys(s for s, _ in wanted))
        net_in, sizes, invalid = {}, {}, {}
        for src in sources:
            net_in[src], sizes[src], invalid[src] = self._prepare(src, inputs[src])

        # prepare_inputs works in float32 on the CPU; the model runs in self.dtype on its device.
        net_in = {
            k: v.to(self.device, self.dtype)
            for k, v in prepare_inputs(net_in, self.config).items()
        }
        raw = self.model(net_in, paths=wanted)
        out = {}
        for (src, dst), y in raw.items():
            y = postprocess(dst, y.float(), self.config)
            out[(src, dst)] = self._finish(
                src,
                dst,
                y,
                sizes[src],
                invalid[src] if mask_invalid else None,
                min_confidence,
                probabilities,
            )
        return out

    # ------------------------------------------------------------------ helpers
    def _prepare(
        self, src: str, image: np.ndarray
    ) -> tuple[torch.Tensor, tuple[int, int], np.ndarray | None]:
        """numpy image -> raw-unit tensor at the model size, its (H, W), and its invalid mask."""
        arr = np.asarray(image)
        h_model, w_model = self.config.input_size
        if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputError(
                f"input '{src}': expected an image (H, W[, C]) with H, W > 0, "
                f"got shape {arr.shape}"
            )
        size = (int(arr.shape[0]), int(arr.shape[1]))
        invalid = None
        if src == "rgb":
            if arr.ndim == 2:
                arr = np.repeat(arr[:, :, None], 3, axis=2)
            if arr.ndim != 3 or arr.shape[2] not in (3, 4):
                raise InputError(f"input 'rgb': expected (H, W, 3) uint8, got shape {arr.shape}")
            arr = np.ascontiguousarray(arr[:, :, :3], dtype=np.float32)
            arr = cv2.resize(
                arr,
                (w_model, h_model),
                interpolation=cv2.INTER_AREA if size[0] > h_model else cv2.INTER_LINEAR,
            )
            return torch.from_numpy(arr).permute(2, 0, 1)[None], size, None
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim != 2:
            raise InputError(
                f"input '{src}': expected a single-channel (H, W) image, got shape {arr.shape}"
            )
        if src == "depth":
            arr = np.asarray(arr, dtype=np.float32)
            bad = ~np.isfinite(arr) | (arr <= 0)
            invalid = bad if bad.any() else None
            # Nearest keeps invalid pixels invalid instead of blending them into neighbours.
            small = cv2.resize(
                np.where(bad, 0, arr).astype(np.float32),
                (w_model, h_model),
                interpolation=cv2.INTER_NEAREST,
            )
            return torch.from_numpy(small)[None, None], size, invalid
        if src == "label":
            small = cv2.resize(
                np.ascontiguousarray(arr, dtype=np.uint8),
                (w_model, h_model),
                interpolation=cv2.INTER_NEAREST,
            )
            return torch.from_numpy(small.astype(np.int64))[None], size, None
        raise InputError(
            f"input '{src}': no numpy conversion for this modality; the engine "
            "handles 'rgb', 'depth' and 'label'"
        )

    def _finish(
        self,
        src: str,
        dst: str,
        y: torch.Tensor,
        size: tuple[int, int],
        invalid: np.ndarray | None,
        min_confidence: float,
        probabilities: bool,
    ) -> Prediction:
        h, w = size
        if dst == "label":
            probs = y[0]
            conf_t, ids_t = probs.max(dim=0)
            ids = ids_t.to(torch.uint8).cpu().numpy()
            conf = conf_t.cpu().numpy().astype(np.float32)
            ids = cv2.resize(ids, (w, h), interpolation=cv2.INTER_NEAREST)
            conf = cv2.resize(conf, (w, h), interpolation=cv2.INTER_LINEAR)
            if min_confidence > 0:
                ids[conf < min_confidence] = IGNORE_INDEX
            if invalid is not None:
                ids[invalid] = IGNORE_INDEX
            full = None
            if probabilities:
                p = probs.cpu().numpy().astype(np.float32).transpose(1, 2, 0)
                full = np.stack(
                    [
                        cv2.resize(
                            np.ascontiguousarray(p[:, :, k]),
                            (w, h),
                            interpolation=cv2.INTER_LINEAR,
                        )
                        for k in range(p.shape[2])
                    ]
                )
            return Prediction(src, dst, ids, conf, full)
        if dst == "depth":
            d = cv2.resize(
                y[0, 0].cpu().numpy().astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
            )
            if invalid is not None:
                d[invalid] = np.nan
            return Prediction(src, dst, d)
        if dst == "rgb":
            rgb = y[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
            rgb = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
            if invalid is not None:
                rgb[invalid] = 0
            return Prediction(src, dst, rgb)
        raise InputError(
            f"output '{dst}': no numpy conversion for this modality; the engine "
            "returns 'rgb', 'depth' and 'label'"
        )
