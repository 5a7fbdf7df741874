# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Execution backends for fixed conversion paths: eager, torch.compile, TorchScript, ONNX Runtime.

    python -m benchmarks.bench_backends          # speed of each backend, outputs checked equal

:func:`select_backend` is the entry point for the inference engine (one runner per source,
called exactly like the model). A *runner* computes a fixed tuple of (source, target) paths, e.g.
rgb->{label, depth}, from network-unit inputs at the model's input size, and is called like the
model itself::

    runner = make_runner(model, [("rgb", "label"), ("rgb", "depth")], backend="torchscript")
    out = runner({"rgb": x})            # {("rgb", "label"): logits, ("rgb", "depth"): depth}

so the inference engine can swap ``self.model(net_in, paths=wanted)`` for a runner. Each runner
is checked against eager on a random input when it is built (``check=True``) and raises
:class:`~mmed_core.errors.ExportError` if it disagrees beyond the tolerance. ``onnxruntime``
is imported only when that backend is asked for.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from mmed_core.errors import ConfigError, ExportError, InputError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.modalities import get_modality

__all__ = [
    "BACKENDS",
    "TOLERANCES",
    "FixedPaths",
    "PathRunner",
    "BackendModel",
    "make_runner",
    "select_backend",
    "example_inputs",
    "check_close",
    "trace",
    "onnx_bytes",
    "onnx_function",
    "output_names",
    "require_onnxruntime",
]

Path = tuple[str, str]

#: Backend names, in the order the benchmark compares them.
BACKENDS: tuple[str, ...] = ("eager", "compile", "torchscript", "onnxruntime")

#: (rtol, atol) of each backend against eager, on outputs scaled to unit maximum. Fused kernels
#: (compile, ONNX Runtime) reorder float sums; network units reach 255, hence relative terms.
TOLERANCES: dict[str, tuple[float, float]] = {
    "eager": (0.0, 0.0),
    "compile": (1e-3, 1e-4),
    "torchscript": (1e-4, 1e-5),
    "onnxruntime": (1e-3, 1e-4),
}


class FixedPaths(nn.Module):
    """The model restricted to ``paths``: positional network-unit inputs (one per source, in
    order of first appearance) -> a tuple of outputs in ``paths`` order, at the input size.

    This is what gets traced and exported: no dicts, no input checks, no data-dependent
    branches, so TorchScript and ONNX see one static graph.
    """

    def __init__(self, model: MultiModalModel, paths: Iterable[Path]) -> None:
        super().__init__()
        self.model = model
        self.paths: tuple[Path, ...] = tuple((str(s), str(d)) for s, d in paths)
        if not self.paths:
            raise ConfigError("paths: expected at least one (source, target) pair, got none")
        for s, d in self.paths:
            if s not in model.encoders or d not in model.decoders:
                raise ConfigError(
                    f"path {s}->{d}: not in this model; it has "
                    f"{[f'{a}->{b}' for a, b in model.config.paths()]}"
                )
        self.sources: tuple[str, ...] = tuple(dict.fromkeys(s for s, _ in self.paths))

    @property
    def config(self) -> Any:
        return self.model.config

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        encoded = {src: self.model.encode(src, x) for src, x in zip(self.sources, inputs)}
        return tuple(self.model.decode(dst, encoded[src]) for src, dst in self.paths)


def example_inputs(
    config: Any,
    sources: Sequence[str],
    batch: int = 1,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> tuple[torch.Tensor, ...]:
    """Random network-unit inputs (values in [0, 255]) of the model's input size."""
    g = torch.Generator().manual_seed(seed)
    h, w = config.input_size
    return tuple(
        (torch.rand(batch, get_modality(s).num_channels(config), h, w, generator=g) * 255).to(
            device, dtype
        )
        for s in sources
    )


class PathRunner:
    """A built backend: ``runner(inputs, paths=None) -> {path: tensor}`` like the model's forward.

    ``paths`` may name a subset of the fixed paths (the rest is computed and dropped); inputs
    must have the batch size and input size the runner was built for (TorchScript / ONNX
    graphs are static).
    """

    def __init__(
        self,
        backend: str,
        fixed: FixedPaths,
        fn: Callable[..., Sequence[torch.Tensor]],
        batch: int,
    ) -> None:
        self.backend = backend
        self.fixed = fixed
        self.paths = fixed.paths
        self.sources = fixed.sources
        self.config = fixed.config
        self.batch = batch
        self._fn = fn

    def __call__(
        self, inputs: Mapping[str, torch.Tensor], paths: Iterable[Path] | None = None
    ) -> dict[Path, torch.Tensor]:
        wanted = self.paths if paths is None else tuple(cast(Path, tuple(p)) for p in paths)
        extra = [p for p in wanted if p not in self.paths]
        if extra:
            raise InputError(
                f"paths {extra}: this {self.backend} runner was built for "
                f"{list(self.paths)} only; build another runner for them"
            )
        missing = [s for s in self.sources if s not in inputs]
        if missing:
            raise InputError(
                f"{self.backend} runner: needs inputs {list(self.sources)}, missing {missing}"
            )
        xs = [inputs[s] for s in self.sources]
        outs = self._fn(*xs)
        result = dict(zip(self.paths, outs))
        return {p: result[p] for p in wanted}

    def run(self, *inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        """Positional fast path (the benchmarks): inputs in ``self.sources`` order."""
        return self._fn(*inputs)

    def __repr__(self) -> str:
        return f"PathRunner({self.backend}, paths={list(self.paths)}, batch={self.batch})"


def require_onnxruntime() -> Any:
    """Import onnxruntime or raise a ConfigError that says how to get it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            "backend 'onnxruntime' needs the `onnxruntime` package (and `onnx` to "
            f"export): pip install onnx onnxruntime ({exc})"
        ) from exc
    return onnxruntime


@contextlib.contextmanager
def _quiet_tracer() -> Iterator[None]:
    # The tracer warns about Python-side shape checks; FixedPaths has none that depend on data.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def trace(fixed: FixedPaths, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """TorchScript by tracing (the forward has no data-dependent control flow)."""
    with torch.no_grad(), _quiet_tracer(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.trace(fixed.eval(), example, check_trace=False)


def onnx_bytes(fixed: FixedPaths, example: tuple[torch.Tensor, ...], *, opset: int = 17) -> bytes:
    """Export ``fixed`` to an in-memory ONNX model (the TorchScript-based exporter: the dynamo
    one needs `onnxscript`, which mmed does not require)."""
    try:
        import onnx  # noqa: F401  (torch.onnx needs it; fail with our message first)
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export needs the `onnx` package: pip install onnx ({exc})"
        ) from exc
    buf = io.BytesIO()
    names = output_names(fixed.paths)
    with torch.no_grad(), _quiet_tracer(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            fixed.eval(),
            example,
            buf,  # type: ignore[arg-type]  # a file object is documented; the hint says path
            dynamo=False,
            input_names=list(fixed.sources),
            output_names=names,
            opset_version=opset,
            do_constant_folding=True,
        )
    return buf.getvalue()


def output_names(paths: Iterable[Path]) -> list[str]:
    """ONNX output names: ``rgb_label`` for rgb->label."""
    return [f"{s}_{d}" for s, d in paths]


def onnx_function(
    model_bytes: bytes, sources: Sequence[str], device: torch.device, threads: int | None = None
) -> Callable[..., list[torch.Tensor]]:
    """An ONNX Runtime session as a function of torch tensors (inputs in ``sources`` order)."""
    ort = require_onnxruntime()
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    # ORT's idle workers spin-wait by default, stealing the cores from whatever torch/OpenCV
    # runs next (pre/post-processing, other nodes): measured 4x slower torch ops after it.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    session = ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)

    def run(*xs: torch.Tensor) -> list[torch.Tensor]:
        feeds = {
            s: x.detach().to("cpu", torch.float32).contiguous().numpy()
            for s, x in zip(sources, xs)
        }
        return [torch.from_numpy(y).to(device) for y in session.run(None, feeds)]

    return run


def make_runner(
    model: MultiModalModel,
    paths: Iterable[Path],
    backend: str = "eager",
    *,
    batch: int = 1,
    check: bool = True,
    onnx_path: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> PathRunner:
    """Build ``backend`` for ``paths`` of ``model`` (in eval mode, on its current device/dtype).

    ``onnx_path``: an ``.onnx`` file from ``mmed-export onnx`` to load instead of exporting in
    memory. ``threads``: ONNX Runtime intra-op threads (default: torch's thread count). With
    ``check`` the runner's outputs are compared with eager on a random input (``TOLERANCES``).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend: expected one of {list(BACKENDS)}, got {backend!r}")
    model.eval()
    fixed = FixedPaths(model, paths).eval()
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    example = example_inputs(fixed.config, fixed.sources, batch, device=device, dtype=dtype)
    if backend == "eager":
        fn: Callable[..., Sequence[torch.Tensor]] = torch.no_grad()(fixed)
    elif backend == "compile":
        fn = torch.no_grad()(torch.compile(fixed, dynamic=False))
    elif backend == "torchscript":
        # TorchScript is deprecated in torch 2.13, still fastest here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            fn = torch.no_grad()(
                torch.jit.optimize_for_inference(torch.jit.freeze(trace(fixed, example)))
            )
    else:
        require_onnxruntime()  # before the export, so a missing package fails fast
        if dtype != torch.float32:
            raise ConfigError(
                f"backend 'onnxruntime': runs float32 models only, the model is {dtype}"
            )
        if onnx_path:
            with open(onnx_path, "rb") as f:
                data = f.read()
        else:
            data = onnx_bytes(fixed, example)
        # Default to torch's thread count, so OMP_NUM_THREADS / set_num_threads bind ORT too.
        fn = onnx_function(data, fixed.sources, device, threads or torch.get_num_threads())
    runner = PathRunner(backend, fixed, fn, batch)
    if check and backend != "eager":
        check_close(backend, runner.run(*example), torch.no_grad()(fixed)(*example), fixed.paths)
    return runner


class BackendModel:
    """One runner per source, callable like the model: ``bm(inputs, paths=...)``.

    What the inference engine swaps in for its eager model (``self.model = select_backend(
    model, self.paths, "onnxruntime")``): frames arrive one source at a time, so each source
    gets a runner for its own paths and any subset of them can be asked per call.
    """

    def __init__(self, runners: Mapping[str, PathRunner]) -> None:
        self.runners = dict(runners)
        first = next(iter(self.runners.values()))
        self.backend = first.backend
        self.config = first.config
        self.paths: tuple[Path, ...] = tuple(p for r in self.runners.values() for p in r.paths)

    def __call__(
        self, inputs: Mapping[str, torch.Tensor], paths: Iterable[Path] | None = None
    ) -> dict[Path, torch.Tensor]:
        wanted = [cast(Path, tuple(p)) for p in (self.paths if paths is None else paths)]
        out: dict[Path, torch.Tensor] = {}
        for src in dict.fromkeys(s for s, _ in wanted):
            if src not in self.runners:
                raise InputError(
                    f"source `{src}`: this {self.backend} model was built for sources "
                    f"{list(self.runners)} only"
                )
            out.update(
                self.runners[src](
                    {src: inputs[src]} if src in inputs else {}, [p for p in wanted if p[0] == src]
                )
            )
        return out  # source-major order, as the model's forward


def select_backend(
    model: MultiModalModel, paths: Iterable[Path], backend: str = "eager", **kw: Any
) -> BackendModel:
    """:class:`BackendModel` of ``paths`` on ``backend`` (see :func:`make_runner` for ``kw``,
    except ``onnx_path``, which holds one source's paths only)."""
    wanted = [tuple(p) for p in paths]
    by_src: dict[str, list[Path]] = {}
    for s, d in wanted:
        by_src.setdefault(s, []).append((s, d))
    if not by_src:
        raise ConfigError("paths: expected at least one (source, target) pair, got none")
    return BackendModel({s: make_runner(model, ps, backend, **kw) for s, ps in by_src.items()})


def check_close(
    backend: str, got: Sequence[torch.Tensor], want: Sequence[torch.Tensor], paths: Sequence[Path]
) -> float:
    """Raise ExportError unless ``got`` matches ``want`` within ``TOLERANCES[backend]``;
    return the largest difference relative to each output's largest magnitude."""
    rtol, atol = TOLERANCES.get(backend, (1e-3, 1e-4))
    worst = 0.0
    for (s, d), a, b in zip(paths, got, want):
        a, b = a.detach().float().cpu(), b.detach().float().cpu()
        if a.shape != b.shape:
            raise ExportError(
                f"backend {backend!r}, path {s}->{d}: output shape {tuple(a.shape)}, "
                f"expected {tuple(b.shape)} as eager"
            )
        scale = b.abs().max().clamp_min(1e-12)
        err = float(((a - b).abs() / scale).max())
        worst = max(worst, err)
        bad = (a - b).abs() > atol * scale + rtol * b.abs()
        if bool(bad.any()):
            raise ExportError(
                f"backend {backend!r}, path {s}->{d}: {int(bad.sum())} of {a.numel()} "
                f"outputs differ from eager beyond rtol={rtol}, atol={atol} (x max |y|); "
                f"largest relative difference {err:.2e}"
            )
    return worst
