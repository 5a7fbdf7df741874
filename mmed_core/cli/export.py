# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed-export: TorchScript / ONNX export of a checkpoint, and legacy .pt/.pth conversion.

    mmed-export onnx runs/demo/best.safetensors --out exported/model.onnx
                [--paths rgb:label,rgb:depth]
    mmed-export torchscript runs/demo/best.safetensors --out exported/model.ts [--batch 1]
    mmed-export convert old.pth --config model.yaml --out model.safetensors

Exports take network-unit inputs and give raw outputs at the model's input size; the model
card is written beside as ``<out>.json`` (see ``mmed_core/deploy/export.py``). Exit status 0 on
success, 2 on a bad input (the message names it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmed_core.cli.console import console_main
from mmed_core.errors import MmedError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mmed-export", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="{onnx,torchscript,convert}")
    for fmt, what in (
        ("onnx", "an ONNX model (ONNX Runtime, TensorRT)"),
        ("torchscript", "a traced TorchScript module (torch.jit.load, C++ libtorch)"),
    ):
        p = sub.add_parser(fmt, help=f"export a checkpoint to {what}")
        p.add_argument("checkpoint", help="x.safetensors (with x.json beside it)")
        p.add_argument("--out", required=True, help="output file; the card goes to OUT.json")
        p.add_argument(
            "--paths",
            default="rgb:label,rgb:depth",
            help="fixed paths, 'src:dst,...' (default rgb:label,rgb:depth)",
        )
        p.add_argument("--batch", type=int, default=1, help="fixed batch size (default 1)")
        if fmt == "onnx":
            p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    c = sub.add_parser(
        "convert",
        help="legacy .pt/.pth state dict -> .safetensors + model card "
        "(torch.load(weights_only=True) only)",
    )
    c.add_argument("src", help="the .pt/.pth file (a state dict; pickled code is refused)")
    c.add_argument(
        "--config",
        required=True,
        help="YAML/JSON ModelConfig (fields, `preset: small`, a training config's "
        "`model:` section, or a model card)",
    )
    c.add_argument(
        "--out", required=True, help="output .safetensors (card written beside as .json)"
    )
    return ap


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported here so `mmed-export --help` answers without loading torch.
    from mmed_core.deploy.export import (
        convert_state_dict,
        describe_export,
        export_checkpoint,
        parse_paths,
    )

    try:
        if args.command == "convert":
            card = convert_state_dict(args.src, args.config, args.out)
            print(
                f"wrote {args.out} ({card['weights']['num_tensors']} tensors, method "
                f"{card['method']}) and its model card"
            )
            return 0
        kw = {"batch": args.batch}
        if args.command == "onnx":
            kw["opset"] = args.opset
        export_checkpoint(args.checkpoint, args.command, args.out, parse_paths(args.paths), **kw)
        print(f"wrote {describe_export(args.out + '.json')}")
        return 0
    except MmedError as exc:
        print(f"mmed-export: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
