# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Progress of long work: plain lines in a log, a bar only on a terminal."""

from __future__ import annotations

import functools
import io

import numpy as np

from mmed_core.data import build_dataset
from mmed_core.progress import LineProgress, format_duration, progress


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 42.4, 185, 7620)] == ["0s", "42s", "3m05s", "2h07m"]


def test_line_progress_prints_a_line_per_period_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), _Clock()
    with LineProgress(100, "cache synthetic-train", "img", stream=out, every=30, clock=clock) as p:
        for _ in range(100):
            clock.t += 1.0
            p.update(1)
    lines = out.getvalue().splitlines()
    # at 30, 60 and 90 s, then the end; no carriage returns
    assert len(lines) == 4, lines
    assert "\r" not in out.getvalue()
    assert lines[0] == "cache synthetic-train: 30/100 img (30%), 1.0 img/s, about 1m10s left"
    assert lines[-1] == "cache synthetic-train: 100/100 img (100%) in 1m40s, 1.0 img/s"


def test_line_progress_quick_work_stays_quiet_and_a_stop_is_said() -> None:
    out, clock = io.StringIO(), _Clock()
    with LineProgress(10, "render", "img", stream=out, clock=clock) as p:
        p.update(10)
    assert out.getvalue() == ""
    with LineProgress(10, "render", "img", stream=out, clock=clock, quiet_under=0) as p:
        clock.t += 2.0
        p.update(4)
    assert out.getvalue() == "render: 4/10 img (40%, stopped) in 2s, 2.0 img/s\n"


def test_progress_picks_bar_lines_or_nothing() -> None:
    assert isinstance(progress(5, "x", stream=io.StringIO()), LineProgress)
    bar = progress(5, "x", stream=_Tty())
    assert not isinstance(bar, LineProgress) and hasattr(bar, "set_postfix")  # tqdm
    bar.close()
    silent = progress(5, "x", enabled=False)
    with silent:
        silent.update(5)
    assert silent.n == 5


def test_renders_and_cache_builds_report_in_a_log(tmp_path, monkeypatch, capsys) -> None:
    import mmed_core.data as data
    import mmed_core.data.cache as cache

    # every report prints its closing line, however quick (stderr is not a terminal here)
    loud = functools.partial(progress, quiet_under=0)
    monkeypatch.setattr(data, "progress_report", loud)
    monkeypatch.setattr(cache, "progress_report", loud)
    opts = {"n_train": 3, "n_val": 2, "n_test": 2, "n_extra": 0, "seed": 0}
    ds = build_dataset("synthetic", "train", size=(16, 16), options=opts)
    assert len(ds) == 3 and np.isfinite(ds[0]["depth"]).all()
    build_dataset("synthetic", "val", size=(16, 16), options=opts, cache_dir=tmp_path)
    build_dataset("synthetic", "test", size=(16, 16), options={**opts, "progress": False})
    err = capsys.readouterr().err
    assert "render synthetic-train: 3/3 img (100%) in " in err
    assert "cache synthetic-val: 2/2 img (100%) in " in err
    assert "synthetic-test" not in err and "\r" not in err


def test_line_progress_resumes_part_way_and_carries_a_postfix() -> None:
    out, clock = io.StringIO(), _Clock()
    p = LineProgress(100, "epoch 3/30", "batch", stream=out, every=60, initial=40, clock=clock)
    for _ in range(60):
        clock.t += 2.0
        p.update(1)
        p.set_postfix(loss="0.512", img_s="8.0")
    p.close()
    lines = out.getvalue().splitlines()
    # the rate counts this sitting's batches only: 30 in 60 s
    assert lines[0] == (
        "epoch 3/30: 70/100 batch (70%), 0.5 batch/s, about 1m00s left, loss 0.512, img_s 8.0"
    )
    assert lines[-1].startswith("epoch 3/30: 100/100 batch (100%) in 2m00s, 0.5 batch/s")


def test_a_long_epoch_in_a_log_gets_lines_and_a_short_one_none(monkeypatch) -> None:
    from mmed_core.training import trainer

    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    short = trainer._bar(True, 10, 0, 0, 2)
    for _ in range(10):
        short.update(1)
        short.set_postfix(loss="1.000")
    short.close()
    assert out.getvalue() == ""  # the per-epoch line says it all
    assert isinstance(trainer._bar(True, 10, 0, 0, 2), LineProgress)
    assert not hasattr(trainer._bar(False, 10, 0, 0, 2), "desc")  # progress off: silent
