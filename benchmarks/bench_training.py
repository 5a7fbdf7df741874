# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Training: the all-paths step, naive loop vs batched decoders, and data loading from the cache.

    python -m benchmarks.bench_training [--rounds 5] [--batch 8]

One step = zero_grad, multi-path loss over all 9 paths, backward, SGD update (the paper's
optimiser), `preset('small')`, 96x96, train mode. Naive =
:func:`mmed_core.network.losses.multipath_loss` (one encoder->decoder pair at a time); batched =
:func:`mmed_core.network.batched_loss.batched_multipath_loss` (each decoder once over all sources,
per-source BatchNorm statistics). Data loading = one batch from a DataLoader over the preprocessing
cache (synthetic scenes), against the step time.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

import torch

from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss

from .common import Section, compare, fmt_ms, table

__all__ = ["run", "main"]


def _batch(n: int, paired_every: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "rgb": torch.rand(n, 3, 96, 96, generator=g) * 255,
        "depth": torch.rand(n, 1, 96, 96, generator=g) * 9 + 0.5,
        "label": torch.randint(0, 12, (n, 96, 96), generator=g),
        "paired": torch.arange(n) % paired_every == 0,
    }


def _stepper(loss_fn, model: torch.nn.Module, batch: dict):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss, _ = loss_fn(model, batch)
        loss.backward()
        opt.step()

    return step


def _with_interpolate_unpool(step):
    """``step`` with model.unpool replaced by nearest 2x interpolation: the same values (each
    value copied into its 2x2 cell), one kernel instead of two repeat_interleave copies, and a
    cheaper backward. Patched only while ``step`` runs."""
    import torch.nn.functional as F

    from mmed_core.network import mmed as model_module

    def fast(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    probe = torch.randn(1, 2, 3, 3)
    assert torch.equal(fast(probe), model_module.unpool(probe))

    def run() -> None:
        original = model_module.unpool
        model_module.unpool = fast
        try:
            step()
        finally:
            model_module.unpool = original

    return run


def _profile(naive, batched, rows: int = 9) -> str:
    """Self CPU time per op (ms in one profiled step) of the two steps, side by side."""
    from torch.profiler import ProfilerActivity, profile

    per = []
    for step in (naive, batched):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        per.append({e.key: (e.self_cpu_time_total / 1e3, e.count) for e in prof.key_averages()})
    keys = sorted(
        set(per[0]) | set(per[1]),
        key=lambda k: -(per[0].get(k, (0, 0))[0] + per[1].get(k, (0, 0))[0]),
    )
    out = []
    for k in keys[:rows]:
        a, b = per[0].get(k, (0.0, 0)), per[1].get(k, (0.0, 0))
        out.append([f"`{k}`", f"{a[0]:.0f} ms ({a[1]})", f"{b[0]:.0f} ms ({b[1]})"])
    out.append(
        [
            "all ops",
            f"{sum(v[0] for v in per[0].values()):.0f} ms",
            f"{sum(v[0] for v in per[1].values()):.0f} ms",
        ]
    )
    return table(["op", "naive: self CPU (calls)", "batched: self CPU (calls)"], out)


def _loading(batch_size: int, rounds: int) -> tuple[float, str]:
    """Median seconds per batch from the cache, and a note on how it was built."""
    from torch.utils.data import DataLoader

    from mmed_core.data import build_dataset

    n = max(4 * batch_size, 32)
    with tempfile.TemporaryDirectory(prefix="mmed-bench-cache-") as cache:
        start = time.perf_counter()
        ds = build_dataset(
            "synthetic", "train", cache_dir=cache, options={"n_train": n, "progress": False}
        )
        built = time.perf_counter() - start
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=0)
        times = []
        for _ in range(rounds):
            it = iter(loader)
            for _ in range(len(loader)):
                start = time.perf_counter()
                next(it)
                times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], f"{n} synthetic samples, cache built in {built:.1f} s (once)"


def run(rounds: int = 5, batch_size: int = 8) -> Section:
    torch.manual_seed(0)
    base = create_model(ModelConfig.preset("small")).train()
    rows, ratios = [], {}
    # batch 2: the overhead-bound regime (many small calls), where batching decoders pays most.
    tiny = create_model(ModelConfig.preset("tiny")).train()
    for label, paired_every, n, model in (
        ("all paired", 1, batch_size, base),
        ("half unpaired", 2, batch_size, base),
        ("all paired, batch 2", 1, 2, base),
        ("all paired, `tiny` preset", 1, batch_size, tiny),
    ):
        batch = _batch(n, paired_every)
        naive = _stepper(multipath_loss, copy.deepcopy(model), batch)
        batched = _stepper(batched_multipath_loss, copy.deepcopy(model), batch)
        cands = [("naive", naive), ("batched", batched)]
        if label == "all paired":  # the memory format is a trainer option: NHWC for oneDNN
            cl_batch = {
                k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                for k, v in batch.items()
            }
            cl_model = copy.deepcopy(base).to(memory_format=torch.channels_last)
            cands.append(("naive, channels_last", _stepper(multipath_loss, cl_model, cl_batch)))
            cands.append(
                (
                    "naive, un-pooling by F.interpolate (proposed model.py change)",
                    _with_interpolate_unpool(_stepper(multipath_loss, copy.deepcopy(base), batch)),
                )
            )
        timings = compare(cands, rounds=rounds, warmup=1)
        t_naive, t_batched = timings[:2]
        ratios[label] = 1 / t_batched.ratio
        for t in timings:
            rows.append(
                [
                    label,
                    t.name,
                    fmt_ms(t.median),
                    f"{n / t.median:.1f}",
                    "1.00x"
                    if t is t_naive
                    else f"{1 / t.ratio:.2f}x (IQR of time ratio {t.spread:.2f})",
                ]
            )
        if label == "all paired":
            step_median = t_naive.median, t_batched.median
            prof = _profile(naive, batched)
    load_s, note = _loading(batch_size, 3)
    body = (
        f"`preset('small')`, batch {batch_size}, 96x96, train mode, SGD; interleaved rounds; "
        "speed-up = median of per-round naive/batched time ratios.\n\n"
        + table(["batch", "step", "median", "images/s", "speed-up"], rows)
        + "\n\n"
        f"Data loading from the cache ({note}): **{fmt_ms(load_s)} per batch of {batch_size}**, "
        f"{100 * load_s / step_median[1]:.1f}% of a batched step "
        f"({100 * load_s / step_median[0]:.1f}% of a naive one): loading is not the bottleneck; "
        "`num_workers=0` is enough on this machine.\n\n"
        "Where a step's time goes (all paired, one profiled step each; the profiler's own "
        "overhead included):\n\n" + prof + "\n\n"
        "Why the batched step does not pay on this CPU: both steps do the same FLOPs; the "
        "batched one makes 3 decoder calls instead of 9, each on a 3x larger batch. That saves "
        "per-call overhead, which is a few ms of a step of a second or more here: the oneDNN "
        "convolutions, forward and backward, are about three quarters of the step and are "
        "compute-bound already at batch 8, and their backward is no faster per image (often "
        "slower: larger activations fall out of cache) at batch 24 (compare the two columns "
        "above). Per-source BatchNorm statistics, needed for the same loss and gradients, add "
        "one concatenation per decoder BN layer (`aten::cat`). The batching pays where calls are "
        "small and many: on GPUs, where each kernel launch costs about as much as a small "
        "convolution (scripts/gpu_check.sh measures it); on this CPU even the `tiny` preset is "
        "compute-bound at 96x96 (its row), and only at 32x32 (the tests' size) did the batched "
        "step come out about 2x faster. Also tried on this CPU: oneDNN disabled (im2col + GEMM) "
        "2.2x slower; the channels_last memory format and un-pooling by `F.interpolate` (rows "
        "above; both for the lead/trainer to adopt) are the changes that help.\n"
    )
    sec = Section(f"Training step (all 9 paths, batch {batch_size})", body)
    sec.targets.append(
        (
            "batched step >= 1.3x naive",
            ", ".join(f"{v:.2f}x {k}" for k, v in ratios.items())
            + f"; naive median {fmt_ms(step_median[0])}",
            ratios["all paired"] >= 1.3,
        )
    )
    return sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args(argv)
    print(run(args.rounds, args.batch).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
