# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Checkpoints written before the layer restructure load and give bit-identical outputs.

The fixtures in ``test/data/legacy-0.1/`` were written by ``make_legacy_fixture.py`` (beside them)
at commit ffac38b, the last commit with the flat ``mmed_core`` layout: tiny mmed, MAE and
enc-decs models (BatchNorm statistics moved off their defaults), a seeded input of odd size
(30x42, so the padding path runs) and every path's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.network.modalities import prepare_inputs

DATA = Path(__file__).parent / "data" / "legacy-0.1"


@pytest.mark.parametrize("name", ["mmed", "mae", "enc-decs"])
def test_legacy_checkpoint_gives_identical_outputs(name: str) -> None:
    raw = load_file(str(DATA / "inputs.safetensors"))
    expected = load_file(str(DATA / f"{name}.expected.safetensors"))
    model, card = load_checkpoint(DATA / f"{name}.safetensors")
    assert card["config"]["method"] == model.config.method
    inputs = prepare_inputs({k: v for k, v in raw.items() if k in model.encoders}, model.config)
    with torch.no_grad():
        out = model.eval()(inputs, pad=True)
    got = {f"{s}->{d}": y for (s, d), y in out.items()}
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        diff = (got[key] - want).abs().max()
        assert torch.equal(got[key], want), f"{name} {key}: max diff {diff}"
