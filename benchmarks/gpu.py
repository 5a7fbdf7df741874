# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""GPU figures in one table: inference in fp32/fp16/bf16 (eager, CUDA graphs, torch.compile) and
a short training run (naive vs batched multi-path step). Run by scripts/gpu_check.sh.

    python -m benchmarks.gpu [--device cuda] [--budget 240]     # --device cpu: a smoke run here

Times are medians of CUDA-synchronised calls; ratios are against fp32 eager (inference) or the
naive step (training) measured in the same run. FLOP rates use :mod:`mmed_core.network.flops` and
are compared with a GEMM of the same dtype measured in the same run. ``--budget`` seconds bound the
whole run: what does not fit is reported as skipped, not left hanging.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch

from mmed_core.deploy.backends import FixedPaths
from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.flops import count_flops
from mmed_core.network.losses import multipath_loss

from .common import machine, table

__all__ = ["main"]

PATHS = (("rgb", "label"), ("rgb", "depth"))
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _time(fn: Callable[[], object], device: torch.device, reps: int) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _gemm(device: torch.device, dtype: torch.dtype, n: int = 4096) -> float:
    if device.type == "cpu":
        n = 1024
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n**3 / _time(lambda: a @ b, device, 10) / 1e9


def _cuda_graph(fn: Callable[[], object], device: torch.device) -> Callable[[], object] | None:
    """Capture ``fn`` (static inputs) into a CUDA graph; None where graphs are unavailable."""
    if device.type != "cuda":
        return None
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up on a side stream, as capture requires
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def inference_rows(
    device: torch.device, preset: str, batch: int, deadline: float, with_compile: bool
) -> list[list[object]]:
    cfg = ModelConfig.preset(preset)
    base = create_model(cfg).eval()
    gflop = (
        count_flops(base, lambda: base({"rgb": torch.zeros(1, 3, *cfg.input_size)}, paths=PATHS))
        / 1e9
    )
    rows, ref = [], None
    for name, dtype in DTYPES.items():
        if time.monotonic() > deadline:
            rows.append([preset, batch, name, "skipped (time budget)", "", "", "", ""])
            continue
        if (
            dtype == torch.bfloat16
            and device.type == "cuda"
            and not torch.cuda.is_bf16_supported()
        ):
            rows.append([preset, batch, name, "skipped (no bf16 on this GPU)", "", "", "", ""])
            continue
        # FixedPaths: the forward without the model's input checks, whose host syncs
        # (isfinite().all()) would forbid CUDA-graph capture; every variant runs the same thing.
        model = FixedPaths(copy.deepcopy(base).to(device, dtype), PATHS).eval()
        x = (torch.rand(batch, 3, *cfg.input_size, device=device) * 255).to(dtype)

        @torch.inference_mode()
        def fwd(model=model, x=x):
            return model(x)

        try:
            t = _time(fwd, device, 20)
        except RuntimeError as exc:  # e.g. a dtype without CPU kernels
            rows.append([preset, batch, name, f"failed: {str(exc)[:60]}", "", "", "", ""])
            continue
        ref = ref or t
        gemm = _gemm(device, dtype)
        variants = [("eager", t)]
        graph = None
        try:
            graph = _cuda_graph(fwd, device)
        except RuntimeError as exc:
            variants.append((f"cuda graph failed: {str(exc)[:40]}", float("nan")))
        if graph is not None:
            variants.append(("cuda graph", _time(graph, device, 20)))
        if with_compile and time.monotonic() < deadline - 90:
            compiled = torch.compile(
                model, mode="reduce-overhead" if device.type == "cuda" else "default"
            )

            @torch.inference_mode()
            def cfwd(compiled=compiled, x=x):
                return compiled(x)

            start = time.perf_counter()
            cfwd()
            build = time.perf_counter() - start
            variants.append((f"torch.compile (build {build:.0f} s)", _time(cfwd, device, 20)))
        for how, tv in variants:
            rate = batch * gflop / tv if tv == tv else float("nan")
            rows.append(
                [
                    preset,
                    batch,
                    name,
                    how,
                    f"{tv * 1e3:.2f} ms",
                    f"{ref / tv:.2f}x",
                    f"{rate:.0f}",
                    f"{100 * rate / gemm:.0f}% of {gemm:.0f}",
                ]
            )
    return rows


def training_rows(device: torch.device, preset: str, batch: int, steps: int) -> list[list[object]]:
    cfg = ModelConfig.preset(preset)
    g = torch.Generator().manual_seed(0)
    data = {
        "rgb": torch.rand(batch, 3, *cfg.input_size, generator=g) * 255,
        "depth": torch.rand(batch, 1, *cfg.input_size, generator=g) * 9 + 0.5,
        "label": torch.randint(0, cfg.num_classes, (batch, *cfg.input_size), generator=g),
    }
    data = {k: v.to(device) for k, v in data.items()}
    base = create_model(cfg).to(device).train()
    rows, ref = [], None
    for amp in ("fp32", "bf16 autocast"):
        if amp != "fp32" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            continue
        for name, fn in (("naive", multipath_loss), ("batched", batched_multipath_loss)):
            model = copy.deepcopy(base)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

            def step(model=model, opt=opt, fn=fn, amp=amp):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp != "fp32"):
                    loss, _ = fn(model, data)
                loss.backward()
                opt.step()
                return loss

            t = _time(step, device, steps)
            ref = ref or t
            loss = float(step().detach())
            rows.append(
                [
                    preset,
                    batch,
                    amp,
                    name,
                    f"{t * 1e3:.1f} ms",
                    f"{batch / t:.0f}",
                    f"{ref / t:.2f}x",
                    f"{loss:.1f}",
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds for the whole run")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            f"benchmarks.gpu: CUDA is not available to torch {torch.__version__} "
            f"(built with CUDA {torch.version.cuda}); nothing to measure"
        )
        return 2
    deadline = time.monotonic() + args.budget
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    gpu = device.type == "cuda"
    print(table(["machine", ""], [[k, v] for k, v in machine().items()]) + "\n")
    inf = []
    for preset, batch in (("small", 1), ("paper", 1), ("paper", 16)) if gpu else (("small", 1),):
        inf += inference_rows(
            device,
            preset,
            batch,
            deadline,
            with_compile=not args.no_compile and preset == "small" and batch == 1,
        )
    print(
        "Inference, rgb->{label, depth}, network only (ratio: against fp32 eager of the same "
        "preset and batch; GEMM: 4096^3 of the same dtype, TF32 off, while cuDNN convolutions "
        "may use TF32 in fp32)\n"
    )
    print(
        table(["preset", "batch", "dtype", "how", "median", "speed-up", "GFLOP/s", "vs GEMM"], inf)
        + "\n"
    )
    train = []
    if time.monotonic() < deadline:
        for preset, batch in (("small", 32), ("paper", 16)) if gpu else (("small", 2),):
            if time.monotonic() < deadline:
                train += training_rows(device, preset, batch, 10 if gpu else 2)
    print(
        "Training step, all 9 paths, SGD (ratio: against the naive fp32 step of the same preset)\n"
    )
    print(
        table(
            ["preset", "batch", "precision", "step", "median", "images/s", "speed-up", "loss"],
            train,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
