# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Backends (eager, torch.compile, TorchScript, ONNX Runtime) and achieved FLOP rate vs GEMM.

    python -m benchmarks.bench_backends [--rounds 9] [--no-compile]

Same weights, rgb->{label, depth}, `ModelConfig.preset('small')`, network-unit input 1x3x96x96:
each runner comes from :func:`mmed_core.deploy.backends.make_runner`, which checks its outputs
against eager when it is built; the largest difference is printed. Hardware use: FLOPs of the
forward (:mod:`mmed_core.network.flops`) / median time, against the rate of a 1024^3 float32 matrix
product measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch

from mmed_core.deploy.backends import check_close, example_inputs, make_runner
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.flops import count_flops

from .common import Section, compare, fmt_ms, gemm_peak, table

__all__ = ["run", "main"]

PATHS = (("rgb", "label"), ("rgb", "depth"))


def _profile(model: torch.nn.Module, x: torch.Tensor, rows: int = 8) -> str:
    """Where the eager forward's time goes (torch.profiler, self CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            model({"rgb": x}, paths=PATHS)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) or 1
    return table(
        ["op", "self CPU share", "calls per forward"],
        [
            [f"`{e.key}`", f"{100 * e.self_cpu_time_total / total:.0f}%", e.count // 3]
            for e in events
        ],
    )


def run(rounds: int = 9, with_compile: bool = True) -> Section:
    torch.manual_seed(0)
    model = create_model(ModelConfig.preset("small")).eval()
    (x,) = example_inputs(model.config, ["rgb"], 1, seed=1)
    with torch.no_grad():
        want = [model({"rgb": x}, paths=PATHS)[p] for p in PATHS]
    names = ["eager", "torchscript", "onnxruntime"] + (["compile"] if with_compile else [])
    runners, build_s, diffs = {}, {}, {}
    for name in names:
        start = time.perf_counter()
        # ONNX Runtime gets as many threads as torch, so both use the same cores.
        runners[name] = make_runner(model, PATHS, name, threads=torch.get_num_threads())
        runners[name].run(x)  # torch.compile compiles on the first call
        build_s[name] = time.perf_counter() - start
        diffs[name] = (
            check_close(name, runners[name].run(x), want, PATHS) if name != "eager" else 0.0
        )
    cl = create_model(ModelConfig.preset("small")).eval()
    cl.load_state_dict(model.state_dict())
    cl = cl.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cands = [(n, (lambda r=runners[n]: r.run(x))) for n in names]

    def eager_cl():
        with torch.no_grad():
            return cl({"rgb": x_cl}, paths=PATHS)

    cands.append(("eager, channels_last", eager_cl))
    gflop = count_flops(model, lambda: model({"rgb": x}, paths=PATHS)) / 1e9
    gemm_before = gemm_peak()
    timings = compare(cands, rounds=rounds, inner=5)
    gemm_after = gemm_peak()
    gemm = max(gemm_before, gemm_after)  # the less disturbed of the two measurements
    rows = []
    for t in timings:
        rate = gflop / t.median
        rows.append(
            [
                t.name,
                fmt_ms(t.median),
                f"{t.ratio:.2f}x",
                f"{rate:.1f}",
                f"{100 * rate / gemm:.0f}%",
                f"{diffs.get(t.name, 0.0):.1e}" if t.name in diffs else "-",
                f"{build_s[t.name]:.1f} s" if t.name in build_s else "-",
            ]
        )
    best = min(timings, key=lambda t: t.median)
    # Batch 8 shows how much is per-call overhead vs. kernel efficiency at this size.
    x8 = torch.cat([x] * 8)

    def eager8():
        with torch.no_grad():
            return model({"rgb": x8}, paths=PATHS)

    t8 = compare([("eager batch 8", eager8)], rounds=max(3, rounds // 2), inner=1)[0]
    rate8 = 8 * gflop / t8.median
    eager_rate = gflop / timings[0].median
    body = (
        f"rgb->{{label, depth}} from one 1x3x96x96 network-unit input, `preset('small')`, "
        f"{gflop:.3f} GFLOP per forward (Conv/Linear only). GEMM rate (best of 1024^3 and "
        f"2048^3 float32 `torch.mm`, same run): **{gemm:.1f} GFLOP/s** ({gemm_before:.1f} "
        f"before, {gemm_after:.1f} after the timings). Max diff = largest |backend - eager| / "
        "max |eager| over both outputs.\n\n"
        + table(
            ["backend", "median", "ratio to eager", "GFLOP/s", "% of GEMM", "max diff", "build"],
            rows,
        )
        + "\n\n"
        f"Fastest: **{best.name}** ({best.ratio:.2f}x eager). Eager at batch 8: "
        f"{fmt_ms(t8.median)} per batch, {rate8:.1f} GFLOP/s = {100 * rate8 / gemm:.0f}% of "
        "GEMM.\n\n"
        "Where the eager batch-1 forward spends its time:\n\n" + _profile(model, x) + "\n\n"
        "What separates the forward from the GEMM rate: the convolutions have 16-64 channels, "
        "so each is a thin matrix product (K = 9 x 16 = 144 at full resolution) that reuses "
        "little data per load; the first layer (3 input channels) and the depth head (1 output "
        "channel, `_slow_conv2d_forward`) are far from GEMM shape; pooling, un-pooling "
        "(repeat_interleave copies) and skip concatenations are memory-bound passes over "
        "full-resolution activations. TorchScript freezing and ONNX Runtime fold BatchNorm into "
        "the convolutions and fuse ReLU, which is most of their gain; ONNX Runtime's blocked "
        "(NCHWc) convolutions add the rest. With several threads on a shared 2-core machine, "
        "every op also pays an OpenMP barrier, so batch-1 figures there depend mostly on the load "
        "(hence `--threads 1` for the committed figures).\n"
    )
    sec = Section("Backends and hardware use (network only, batch 1)", body)
    best_rate = gflop / best.median
    sec.targets.append(
        (
            "model forward >= 40% of GEMM rate",
            f"{100 * eager_rate / gemm:.0f}% eager, {100 * best_rate / gemm:.0f}% "
            f"{best.name} (GEMM {gemm:.0f} GFLOP/s)",
            best_rate / gemm >= 0.4,
        )
    )
    sec.targets.append(
        (
            "fastest backend (node option)",
            f"{best.name}: {best.ratio:.2f}x eager, median {fmt_ms(best.median)}",
            None,
        )
    )
    return sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to build)")
    args = ap.parse_args(argv)
    print(run(args.rounds, not args.no_compile).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
