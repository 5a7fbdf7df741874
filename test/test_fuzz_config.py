# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the trainer's config loader and override parser, and the model card loader.

    python -m pytest test/test_fuzz_config.py
    HYPOTHESIS_PROFILE=long python -m pytest test/test_fuzz_config.py

Only ConfigError may come out of ``load_run_config`` / ``apply_overrides`` (random YAML files
and ``key=value`` overrides), and only CheckpointError out of ``read_card`` /
``load_checkpoint`` (cards with keys dropped, values replaced by any JSON, or random bytes).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from fuzz_support import PROJECT_ERRORS, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

from mmed_core.deploy.checkpoint import load_checkpoint, read_card
from mmed_core.errors import CheckpointError, ConfigError
from mmed_core.training.config import (
    _MODEL_KEYS,
    SECTIONS,
    _field_names,
    apply_overrides,
    load_run_config,
)
from mmed_ros.testing import tiny_checkpoint

DATASETS = ("synthetic",)
SECTION_NAMES = ["model", *SECTIONS]
KEYS = sorted({k for s in SECTIONS for k in _field_names(s)} | set(_MODEL_KEYS))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
# Values as a user types them after `=`: YAML scalars, flow lists/maps, broken YAML, paths.
yaml_texts = st.sampled_from(
    [
        "1",
        "-1",
        "0",
        "1e-3",
        "1e999",
        ".nan",
        ".inf",
        "true",
        "null",
        "",
        "[1, 2]",
        "[32, 32]",
        "[0, 4]",
        "{a: 1}",
        "[",
        "{",
        "'",
        "!!python/object/apply:os.system [echo hi]",
        "/no/such/dir",
        "~",
        "\x00",
        "a: b: c",
        "*x",
        "&a [*a]",
        "sgd",
        "adam",
        "tiny",
        "enc-dec",
    ]
) | st.text(max_size=12)


@st.composite
def overrides(draw: st.DrawFn) -> str:
    section = draw(st.sampled_from(SECTION_NAMES) | st.text(max_size=5))
    parts = [section, draw(st.sampled_from(KEYS) | st.text(max_size=6))]
    parts += draw(
        st.lists(st.sampled_from(["a", "rgb", "n_train", ""]) | st.text(max_size=3), max_size=2)
    )
    sep = draw(st.sampled_from(["=", "=", ":", ""]))
    return ".".join(parts) + sep + draw(yaml_texts)


def _section_yaml(draw: st.DrawFn) -> str:
    import yaml

    doc = draw(
        st.dictionaries(
            st.sampled_from(SECTION_NAMES) | st.text(max_size=4),
            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), json_values, max_size=4)
            | json_values,
            max_size=4,
        )
    )
    return yaml.safe_dump(doc)


@st.composite
def yaml_files(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["sections", "text", "bytes"]))
    if kind == "sections":
        return _section_yaml(draw)
    if kind == "text":
        return draw(yaml_texts)
    return draw(st.binary(max_size=40)).decode("latin-1")


@fuzz_settings(300)
@given(st.lists(overrides(), max_size=5))
@example(["data.options=5", "data.options.k=1"])  # found by this test: TypeError
@example(["train.loss_weights=[1]", "train.loss_weights.rgb=2"])
@example(["model.preset=[1]"])  # unhashable list in a dict lookup
@example(["train.out_dir=[1]"])
def test_overrides_raise_only_config_errors(items: list[str]) -> None:
    try:
        load_run_config(None, items, datasets=DATASETS)
    except PROJECT_ERRORS as exc:
        assert isinstance(exc, ConfigError), exc


@fuzz_settings(200)
@given(yaml_files(), st.lists(overrides(), max_size=3))
def test_config_files_raise_only_config_errors(text: str, items: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            load_run_config(path, items, datasets=DATASETS)
        except PROJECT_ERRORS as exc:
            assert isinstance(exc, ConfigError), exc


@fuzz_settings(200)
@given(
    st.dictionaries(
        st.sampled_from(SECTION_NAMES),
        st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3) | json_values,
        max_size=3,
    ),
    st.lists(overrides(), max_size=4),
)
@example(raw={"model": {}, "data": None}, items=["data.cache_dir=1"])  # found by the long run
def test_apply_overrides_on_any_sections(raw: dict, items: list[str]) -> None:
    try:
        out = apply_overrides(raw, items)
    except PROJECT_ERRORS as exc:
        assert isinstance(exc, ConfigError), exc
    else:
        assert isinstance(out, dict)


# ---------------------------------------------------------------------------- model cards
@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    path = tiny_checkpoint(tmp_path_factory.mktemp("card") / "m.safetensors")
    return path.read_bytes(), json.loads(path.with_suffix(".json").read_text())


def _mutate(card: object, path: list, value: object, drop: bool) -> object:
    """``card`` with the entry at ``path`` (indices into nested dicts/lists) replaced or
    dropped."""
    if not path or not isinstance(card, (dict, list)) or not card:
        return value
    keys = list(card) if isinstance(card, dict) else list(range(len(card)))
    key = keys[path[0] % len(keys)]
    out = dict(card) if isinstance(card, dict) else list(card)
    if drop and len(path) == 1:
        del out[key]
        return out
    out[key] = _mutate(out[key], path[1:], value, drop)
    return out


def _load(weights: bytes, card_text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp) / "m.safetensors"
        w.write_bytes(weights)
        card = Path(tmp) / "m.json"
        card.write_bytes(
            card_text
            if isinstance(card_text, bytes)
            else card_text.encode("utf-8", "surrogatepass")
        )
        for fn in (read_card, load_checkpoint):
            try:
                fn(w)
            except PROJECT_ERRORS as exc:
                assert isinstance(exc, CheckpointError), exc


@fuzz_settings(150)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=4), json_values, st.booleans())
@example(path=[12], value=None, drop=False)  # found by this test: `config: null`, TypeError
@example(path=[13], value=5, drop=False)  # `weights: 5`, AttributeError
def test_mutated_cards_raise_only_checkpoint_errors(
    checkpoint_bytes: tuple[bytes, dict], path: list[int], value: object, drop: bool
) -> None:
    weights, card = checkpoint_bytes
    _load(weights, json.dumps(_mutate(card, path, value, drop)))


@fuzz_settings(100)
@given(st.binary(max_size=200) | json_values.map(json.dumps))
def test_random_cards_raise_only_checkpoint_errors(
    checkpoint_bytes: tuple[bytes, dict], text: bytes | str
) -> None:
    _load(checkpoint_bytes[0], text)


@fuzz_settings(60)
@given(st.integers(0, 10**6), st.binary(min_size=1, max_size=16), st.booleans())
def test_garbled_weights_with_a_matching_card_raise_only_checkpoint_errors(
    checkpoint_bytes: tuple[bytes, dict], at: int, junk: bytes, truncate: bool
) -> None:
    # The attacker also fixes the card's sha256: the safetensors parser and the shape/dtype
    # checks must still stop anything that is not exactly the config's tensors.
    import hashlib

    weights, card = checkpoint_bytes
    at %= len(weights)
    bad = weights[:at] if truncate else weights[:at] + junk + weights[at + len(junk) :]
    card = {**card, "weights": {**card["weights"], "sha256": hashlib.sha256(bad).hexdigest()}}
    _load(bad, json.dumps(card))
