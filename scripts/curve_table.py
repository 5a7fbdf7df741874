# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Markdown table of real-frame curves written by scripts/real_curve.sh, arms side by side.

    python scripts/curve_table.py plain=runs/curve-plain v4=runs/curve-v4 --mean-from 6

Each curve folder holds ``epN.json`` (the checkpoint's card: validation loss) and
``rcN/metrics.json`` (scripts/real_check.py on the real frames). One row per epoch with each
arm's synthetic validation loss, real mIoU and real Rel; then the mean real mIoU / Rel over the
epochs from --mean-from on, per arm (the frames are few: read the per-epoch spread as the noise),
with the mean over the classes the frames hold where the curve's real_check recorded it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def read_curve(folder: Path) -> dict[int, dict[str, float]]:
    """{epoch: {val_loss, miou, rel}} of one real_curve.sh output folder."""
    if not folder.is_dir():
        raise SystemExit(f"curve_table: {folder} is not a folder written by real_curve.sh")
    out: dict[int, dict[str, float]] = {}
    for card in folder.glob("ep*.json"):
        m = re.fullmatch(r"ep(\d+)\.json", card.name)
        metrics = folder / f"rc{m.group(1)}" / "metrics.json" if m else None
        if m is None or metrics is None or not metrics.is_file():
            continue
        c, r = json.loads(card.read_text()), json.loads(metrics.read_text())
        rel = (r.get("depth") or {}).get("rel", float("nan"))
        out[int(m.group(1))] = {
            "val_loss": c["val_loss"],
            "miou": r["miou"],
            "rel": rel,
            "miou_present": r.get("miou_present"),  # None in curves from before 7 Dec 2026
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("arms", nargs="+", metavar="NAME=CURVE_DIR")
    p.add_argument("--mean-from", type=int, default=1, help="first epoch of the means")
    args = p.parse_args()
    arms = {}
    for item in args.arms:
        name, sep, folder = item.partition("=")
        if not sep:
            p.error(f"expected NAME=CURVE_DIR, got {item!r}")
        arms[name] = read_curve(Path(folder))
    epochs = sorted(set().union(*arms.values()))
    head = ["epoch"] + [f"{n} {k}" for n in arms for k in ("val loss", "real mIoU", "real Rel")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in epochs:
        cells = [str(e)]
        for curve in arms.values():
            row = curve.get(e)
            cells += (
                [f"{row['val_loss']:.3f}", f"{row['miou']:.3f}", f"{row['rel']:.3f}"]
                if row
                else ["", "", ""]
            )
        lines.append("| " + " | ".join(cells) + " |")
    for name, curve in arms.items():
        rows = [v for e, v in curve.items() if e >= args.mean_from]
        if rows:
            miou = [r["miou"] for r in rows]
            rel = [r["rel"] for r in rows]
            present = [r["miou_present"] for r in rows]
            lines.append(
                f"\n{name}: epochs {args.mean_from}-{max(curve)} ({len(rows)}): real mIoU mean "
                f"{sum(miou) / len(miou):.3f} (min {min(miou):.3f}, max {max(miou):.3f}), "
                f"real Rel mean {sum(rel) / len(rel):.3f}"
                + (
                    f", mean over the classes present {sum(present) / len(present):.3f}"
                    if None not in present
                    else ""
                )
            )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
