# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Inference engine: a checkpoint on a device, numpy images in and out at their own resolution.

    python -c "from mmed_core.deploy.inference import InferenceEngine as E; import numpy as np; \
e = E.from_checkpoint('runs/demo/best.safetensors'); \
print(e.infer({'rgb': np.zeros((480, 640, 3), np.uint8)}, [('rgb', 'label')]))"

It never imports rclpy: the ROS node, the bag tool and scripts share it. Each call fits every
input to the model's input size (stretch, letterbox or crop: mmed_core.deploy.geometry) with
its modality's interpolation from the registry (area for RGB, valid-pixel averaging for
depth, nearest for ids), encodes each input once, decodes the requested paths and returns
the outputs at the input's or the network's size: class ids with nearest neighbour (so no
invented classes at borders), confidence and continuous outputs bilinearly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.deploy.adapt import Recalibration, recalibrate_batchnorm
from mmed_core.deploy.backends import BackendModel, select_backend
from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.deploy.geometry import OUTPUT_SIZES, Fit
from mmed_core.errors import ConfigError, InputError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import MODALITIES, get_modality, postprocess, prepare_inputs

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
    dataset's units (``config.depth_units``), NaN where unknown; rgb -> (H, W, 3) uint8;
    normals -> (H, W, 3) float32 unit vectors (each modality's ``to_array``).
    ``confidence``: label only, the max softmax probability (H, W) float32, NaN where the label
    is 255.
    ``probabilities``: label only and only when asked, (K, H, W) float32.
    """

    src: str
    dst: str
    array: np.ndarray
    confidence: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    fit: Fit | None = None  # how the source was fitted to the network (geometry, intrinsics)


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
        model: MultiModalModel,
        card: Mapping[str, Any] | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config: ModelConfig = model.config
        self.card = dict(card or {})
        self.device = torch.device(device)
        self.dtype = dtype
        self.model: MultiModalModel | BackendModel = model.to(self.device, dtype).eval()
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

        if not isinstance(self.model, MultiModalModel):
            raise ConfigError(
                f"backend {backend!r}: this engine runs on a backend already; "
                "load another engine for another backend"
            )
        self.model = select_backend(self.model, wanted, backend)
        self.paths = tuple(wanted)

    def _probe(self) -> None:
        """One tiny forward pass, so an unsupported device/precision fails at start, not later."""
        h, w = self.config.input_size
        src = self.paths[0][0] if self.paths else "rgb"
        mod = MODALITIES.get(src)
        if mod is None or mod.from_array is None:
            return
        channels = () if mod.categorical or mod.raw_channels == 1 else (mod.raw_channels,)
        sample = np.zeros((h, w, *channels), np.uint8 if mod.categorical else np.float32)
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
            f"created={self.card.get('created', '?')}" + self._adaptation_note()
        )

    def _adaptation_note(self) -> str:
        rec = self.card.get("adaptation")
        if not isinstance(rec, Mapping):
            return ""
        paths = ",".join(f"{s}->{d}" for s, d in rec.get("paths", []))
        return f" adapted_frames={rec.get('frames', '?')} adapted_paths={paths}"

    @property
    def trained_depth_input(self) -> str:
        """What the depth encoder read in training (the card's ``data.depth_input``): ``clean``
        (the dataset's depth; also for cards from before the option), ``kinect`` or ``mixed``."""
        return str((self.card.get("data") or {}).get("depth_input", "clean"))

    def sensor_depth_note(self, paths: Iterable[tuple[str, str]]) -> str | None:
        """A line for a user feeding a sensor's depth to ``paths`` of a model trained on clean
        synthetic depth (its depth->label falls a lot on holes and noise); None otherwise."""
        from_depth = [f"{s}->{d}" for s, d in paths if s == "depth"]
        synthetic = self.card.get("dataset", self.config.dataset) == "synthetic"
        if not from_depth or not synthetic or self.trained_depth_input != "clean":
            return None
        return (
            f"{', '.join(from_depth)}: this model's depth encoder was trained on clean "
            "synthetic depth; a depth sensor's holes and noise lower its accuracy a lot "
            "(models/README.md, 'Depth input from a real sensor'); a model trained with "
            "data.depth_input=mixed or kinect reads sensor depth"
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

    def adapt(
        self,
        frames: Iterable[Mapping[str, np.ndarray]],
        paths: Iterable[tuple[str, str]],
        *,
        resize: str = "stretch",
        batch_size: int = 16,
    ) -> Recalibration:
        """Re-estimate the BatchNorm statistics of ``paths`` from unlabelled ``frames`` (each a
        mapping source -> image as :meth:`infer` takes it, fitted with ``resize`` as inference
        fits it); see :mod:`mmed_core.deploy.adapt`. Changes this engine's model in place."""
        wanted = self.check_paths(paths)
        if not isinstance(self.model, MultiModalModel):
            raise ConfigError(
                "adapt: this engine runs on an exported backend; adapt the eager model "
                "(before use_backend) and export it again"
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size: expected >= 1, got {batch_size}")
        sources = list(dict.fromkeys(s for s, _ in wanted))

        def batches() -> Iterable[dict[str, torch.Tensor]]:
            pending: list[dict[str, torch.Tensor]] = []
            for k, frame in enumerate(frames):
                absent = [s for s in sources if s not in frame]
                if absent:
                    raise InputError(
                        f"adapt: frame {k} lacks {absent}, which the paths "
                        f"{[f'{s}->{d}' for s, d in wanted]} read (it has {sorted(frame)})"
                    )
                pending.append(
                    {s: self._prepare(s, frame[s], resize, "network")[0] for s in sources}
                )
                if len(pending) == batch_size:
                    yield {s: torch.cat([p[s] for p in pending]) for s in sources}
                    pending = []
            if pending:
                yield {s: torch.cat([p[s] for p in pending]) for s in sources}

        return recalibrate_batchnorm(self.model, batches(), wanted)

    @torch.inference_mode()
    def infer(
        self,
        inputs: Mapping[str, np.ndarray],
        paths: Iterable[tuple[str, str]],
        *,
        min_confidence: float = 0.0,
        probabilities: bool = False,
        mask_invalid: bool = True,
        resize: str = "stretch",
        output_size: str = "input",
    ) -> dict[tuple[str, str], Prediction]:
        """Run ``paths`` on ``inputs`` (modality -> image at any resolution).

        rgb: (H, W, 3) uint8 (or (H, W) grey); depth: (H, W) float in dataset units (REP 118:
        NaN / 0 / negative = no measurement, +inf = beyond range -> far end of the depth range,
        -inf = too close -> near end); label: (H, W) uint8 ids, 255 = unknown; other
        registered modalities as their ``from_array`` takes them. Each source may have its own
        resolution. ``resize`` fits it to the network (stretch, letterbox, crop: see
        mmed_core.deploy.geometry); ``output_size`` 'input' returns outputs at the source's
        resolution, 'network' at the network's (``Prediction.fit`` maps between them). Label
        pixels less confident than ``min_confidence`` become 255; with ``mask_invalid``,
        pixels whose input was invalid (or that show no part of the image) become 255 / NaN in
        every output of that source, and label confidence is NaN wherever the label is 255.
        """
        wanted = self.check_paths(paths)
        if output_size not in OUTPUT_SIZES:
            raise ConfigError(
                f"output_size: expected one of {list(OUTPUT_SIZES)}, got {output_size!r}"
            )
        for src, _ in wanted:
            if src not in inputs:
                raise InputError(f"path {src}->?: needs input '{src}', given {sorted(inputs)}")
        sources = list(dict.fromkeys(s for s, _ in wanted))
        net_in, fits, invalid = {}, {}, {}
        for src in sources:
            net_in[src], fits[src], invalid[src] = self._prepare(
                src, inputs[src], resize, output_size
            )

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
                fits[src],
                output_size,
                invalid[src] if mask_invalid else None,
                min_confidence,
                probabilities,
            )
        return out

    # ------------------------------------------------------------------ helpers
    def _prepare(
        self, src: str, image: np.ndarray, resize: str, output_size: str
    ) -> tuple[torch.Tensor, Fit, np.ndarray | None]:
        """numpy image -> raw-unit tensor in the network frame, its Fit, and the invalid mask
        in the output frame (None when every pixel is valid)."""
        mod = get_modality(src)
        arr = np.asarray(image)
        if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputError(
                f"input '{src}': expected an image (H, W[, C]) with H, W > 0, "
                f"got shape {arr.shape}"
            )
        fit = Fit.compute(resize, arr.shape[:2], self.config.input_size)
        raw, bad = mod.array_in(arr, self.config)
        fill = IGNORE_INDEX if mod.categorical else 0
        net, net_bad = fit.to_network(raw, mod.interpolation, fill, bad)
        if mod.categorical:
            tensor = torch.from_numpy(net.astype(np.int64))[None]
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(net, np.float32)).permute(2, 0, 1)[None]
        if output_size == "network":
            uncovered = ~fit.covered()
            out_bad = uncovered if net_bad is None else (net_bad | uncovered)
            invalid = out_bad if out_bad.any() else None
        else:
            invalid = bad
        return tensor, fit, invalid

    def _finish(
        self,
        src: str,
        dst: str,
        y: torch.Tensor,
        fit: Fit,
        output_size: str,
        invalid: np.ndarray | None,
        min_confidence: float,
        probabilities: bool,
    ) -> Prediction:
        mod = get_modality(dst)
        if mod.categorical:
            probs = y[0]
            conf_t, ids_t = probs.max(dim=0)
            ids = fit.from_network(
                ids_t.to(torch.uint8).cpu().numpy(), "nearest", IGNORE_INDEX, output_size
            )
            conf = fit.from_network(
                conf_t.cpu().numpy().astype(np.float32), "linear", np.nan, output_size
            )
            ids = np.array(ids, copy=True)
            conf = np.array(conf, dtype=np.float32, copy=True)
            if min_confidence > 0:
                with np.errstate(invalid="ignore"):
                    ids[conf < min_confidence] = IGNORE_INDEX
            if invalid is not None:
                ids[invalid] = IGNORE_INDEX
            conf[ids == IGNORE_INDEX] = np.nan
            full = None
            if probabilities:
                p = probs.cpu().numpy().astype(np.float32).transpose(1, 2, 0)
                full = np.stack(
                    [
                        fit.from_network(
                            np.ascontiguousarray(p[:, :, k]), "linear", np.nan, output_size
                        )
                        for k in range(p.shape[2])
                    ]
                )
            return Prediction(src, dst, ids, conf, full, fit)
        raw = y[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
        raw = np.array(fit.from_network(raw, "linear", np.nan, output_size), copy=True)
        if raw.ndim == 2:
            raw = raw[:, :, None]
        if invalid is not None:
            raw[invalid] = np.nan
        return Prediction(src, dst, mod.array_out(raw), fit=fit)
