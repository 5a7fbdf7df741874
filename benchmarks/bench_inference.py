# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Inference paths through the engine: one 640x480 camera image, batch 1, the default model.

    python -m benchmarks.bench_inference [--rounds 9]

Times ``InferenceEngine.infer`` (resize to 96x96, network, post-processing and resize back to
640x480) for rgb->label, rgb->depth, both paths from one shared encoding, and the two paths run
separately (the baseline). The shared/separate ratio cannot go below the FLOP ratio
(encoder + both decoders) / (2 encoders + both decoders), printed beside it.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from mmed_core.deploy.backends import select_backend
from mmed_core.deploy.inference import InferenceEngine
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.flops import count_flops

from .common import Section, compare, fmt_ms, table, timing_rows

__all__ = ["run", "main"]

LABEL, DEPTH = ("rgb", "label"), ("rgb", "depth")


def flop_split(model: torch.nn.Module) -> dict[str, int]:
    """FLOPs of the rgb encoder and of the label and depth decoders, one 96x96 frame."""
    h, w = model.config.input_size
    x = torch.zeros(1, 3, h, w)
    with torch.no_grad():
        latent, skips = model.encode("rgb", x)
    return {
        "encoder": count_flops(model, lambda: model.encode("rgb", x)),
        "label decoder": count_flops(model, lambda: model.decode("label", latent, skips)),
        "depth decoder": count_flops(model, lambda: model.decode("depth", latent, skips)),
    }


def run(rounds: int = 9) -> Section:
    torch.manual_seed(0)
    model = create_model(ModelConfig.preset("small")).eval()
    engine = InferenceEngine(model, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    net_in = {"rgb": torch.rand(1, 3, 96, 96) * 255}

    def model_only(paths):
        with torch.inference_mode():
            return model(net_in, paths=paths)

    # The same engine with the ONNX Runtime backend swapped in through the API the engine is
    # meant to call (mmed_core.deploy.backends.select_backend); one engine per path set, because a
    # runner computes all of its paths.
    def ort_engine(paths):
        eng = InferenceEngine(copy.deepcopy(model), device="cpu")
        eng.model = select_backend(
            eng.model, paths, "onnxruntime", threads=torch.get_num_threads()
        )
        return eng

    ort_both, ort_label, ort_depth = (
        ort_engine([LABEL, DEPTH]),
        ort_engine([LABEL]),
        ort_engine([DEPTH]),
    )
    timings = compare(
        [
            (
                "rgb->label + rgb->depth, run separately (baseline)",
                lambda: (
                    engine.infer({"rgb": image}, [LABEL]),
                    engine.infer({"rgb": image}, [DEPTH]),
                ),
            ),
            (
                "rgb->{label, depth}, shared encoding",
                lambda: engine.infer({"rgb": image}, [LABEL, DEPTH]),
            ),
            ("rgb->label", lambda: engine.infer({"rgb": image}, [LABEL])),
            ("rgb->depth", lambda: engine.infer({"rgb": image}, [DEPTH])),
            ("network only, separately", lambda: (model_only([LABEL]), model_only([DEPTH]))),
            ("network only, shared", lambda: model_only([LABEL, DEPTH])),
            (
                "onnxruntime backend, run separately",
                lambda: (
                    ort_label.infer({"rgb": image}, [LABEL]),
                    ort_depth.infer({"rgb": image}, [DEPTH]),
                ),
            ),
            (
                "onnxruntime backend, shared encoding",
                lambda: ort_both.infer({"rgb": image}, [LABEL, DEPTH]),
            ),
        ],
        rounds=rounds,
        inner=3,
    )
    f = flop_split(model)
    bound = (f["encoder"] + f["label decoder"] + f["depth decoder"]) / (
        2 * f["encoder"] + f["label decoder"] + f["depth decoder"]
    )
    shared = timings[1]
    net_ratio = statistics_ratio(timings[5], timings[4])
    ort_ratio = statistics_ratio(timings[7], timings[6])
    body = (
        "`InferenceEngine.infer` on one 640x480 uint8 RGB image, `ModelConfig.preset('small')`, "
        "96x96 network input, batch 1, fp32, eager unless a row names onnxruntime; includes the "
        "resize in, the softmax/argmax/confidence and the resize back to 640x480. Interleaved "
        "rounds; ratio = median of per-round ratios to the baseline.\n\n"
        + table(["what", "median", "ratio to baseline"], timing_rows(timings))
        + "\n\n"
        + table(["part", "GFLOP per frame"], [[k, f"{v / 1e9:.3f}"] for k, v in f.items()])
        + "\n\n"
        f"Shared / separate: **{shared.ratio:.2f}x** end to end, {net_ratio:.2f}x for the network "
        f"alone, {ort_ratio:.2f}x with the onnxruntime backend. The network's FLOP bound is "
        f"{bound:.2f}x: sharing saves one encoder ({f['encoder'] / 1e9:.3f} GFLOP) out of "
        f"{(2 * f['encoder'] + f['label decoder'] + f['depth decoder']) / 1e9:.3f}, while both "
        "decoders (the label one, with its skips, is the largest part) still run; end to end it "
        "also saves one resize of the 640x480 input. Reaching 0.6x would need the encoder (plus "
        "pre-processing) to be 80% of a path's time; in this architecture the encoder is 40-50% "
        "of a path's FLOPs, so the 0.6x target is out of reach by construction, not by overhead."
    )
    sec = Section("Inference paths (engine, 640x480 -> 96x96, batch 1)", body)
    ort_shared = timings[7]
    sec.targets.append(
        (
            "shared encoding <= 0.6x separate",
            f"{shared.ratio:.2f}x eager, {ort_ratio:.2f}x "
            f"onnxruntime (FLOP bound {bound:.2f}x); onnxruntime shared = {ort_shared.ratio:.2f}x "
            f"eager separate; median shared {fmt_ms(shared.median)} eager, "
            f"{fmt_ms(ort_shared.median)} onnxruntime",
            shared.ratio <= 0.6,
        )
    )
    return sec


def statistics_ratio(a, b) -> float:
    """Median over rounds of a/b for two Timings of the same compare() call."""
    import statistics

    return statistics.median(x / y for x, y in zip(a.times, b.times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    print(run(args.rounds).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
