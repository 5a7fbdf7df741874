# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""RGB-D pairing, fair scheduling, input health and the QoS decision, without rclpy.

python -m pytest test/test_ros_sync.py
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mmed_ros.health import ERROR, OK, WARN, SourceHealth, StampGaps
from mmed_ros.params import PERCEPTION_PARAMS, cross_check, empty_overrides, validate_params
from mmed_ros.qos import (
    FASTDDS_PROFILE_XML,
    Handover,
    OfferedQoS,
    choose_reliability,
    describe_offered,
    incompatibility,
    use_fastdds_profile,
)
from mmed_ros.sync import (
    OUT_OF_ORDER,
    OVERFLOW,
    SUPERSEDED,
    UNPAIRED,
    ApproxTimePairer,
    FairMailbox,
)

MS = 1_000_000


def feed(pairer: ApproxTimePairer, events: list[tuple[str, int]]) -> tuple[list, list]:
    pairs, drops = [], []
    for key, t in events:
        out = pairer.add(key, t * MS, f"{key}{t}")
        pairs += [(p["rgb"], p["depth"]) for p in out.pairs]
        drops += [(d.key, d.stamp_ns // MS, d.reason) for d in out.drops]
    return pairs, drops


def test_identical_stamps_pair_at_once_in_either_order() -> None:
    p = ApproxTimePairer(("rgb", "depth"), 5 * MS)
    pairs, drops = feed(p, [("rgb", 0), ("depth", 0), ("depth", 33), ("rgb", 33)])
    assert pairs == [("rgb0", "depth0"), ("rgb33", "depth33")] and drops == []
    assert p.pending() == {"rgb": 0, "depth": 0}


def test_offset_stamps_pair_within_the_slop_and_lost_partners_are_dropped() -> None:
    p = ApproxTimePairer(("rgb", "depth"), 10 * MS)
    # depth 4 ms late; depth of frame 33 lost upstream: rgb33 can never pair
    events = [("rgb", 0), ("depth", 4), ("rgb", 33), ("rgb", 66), ("depth", 70)]
    pairs, drops = feed(p, events)
    assert pairs == [("rgb0", "depth4"), ("rgb66", "depth70")]
    assert drops == [("rgb", 33, UNPAIRED)]


def test_a_closer_queued_partner_wins() -> None:
    p = ApproxTimePairer(("rgb", "depth"), 20 * MS)
    # two depth frames queued before rgb 20 arrives: 18 is closer than 5
    pairs, drops = feed(p, [("depth", 5), ("depth", 18), ("rgb", 20)])
    assert pairs == [("rgb20", "depth18")]
    assert drops == [("depth", 5, SUPERSEDED)]


def test_a_pair_that_never_completes_is_bounded_and_reported() -> None:
    p = ApproxTimePairer(("rgb", "depth"), 5 * MS, queue_size=3)
    pairs, drops = feed(p, [("rgb", 33 * i) for i in range(10)])
    assert pairs == []
    assert [d[2] for d in drops] == [OVERFLOW] * 7
    assert p.pending() == {"rgb": 3, "depth": 0}
    assert len(p.clear()) == 3 and p.pending() == {"rgb": 0, "depth": 0}


def test_out_of_order_frames_are_dropped_not_paired() -> None:
    p = ApproxTimePairer(("rgb", "depth"), 5 * MS)
    pairs, drops = feed(p, [("rgb", 10), ("depth", 10), ("rgb", 5), ("depth", 10)])
    assert pairs == [("rgb10", "depth10")]
    assert drops == [("rgb", 5, OUT_OF_ORDER), ("depth", 10, OUT_OF_ORDER)]


def test_long_unsynchronised_streams_pair_every_frame_once() -> None:
    # 30 Hz rgb, depth 7 ms late with 1 ms jitter, every 10th depth frame lost.
    p = ApproxTimePairer(("rgb", "depth"), 15 * MS)
    events = []
    for i in range(300):
        events.append(("rgb", 33 * i))
        if i % 10 != 3:
            events.append(("depth", 33 * i + 7 + (i % 3) - 1))
    pairs, drops = feed(p, events)
    assert len(pairs) == 270
    assert all(int(r[3:]) == 33 * ((int(d[5:]) - 5) // 33) for r, d in pairs)
    assert {d[2] for d in drops} == {UNPAIRED} and len(drops) == 30


@pytest.mark.parametrize("keys,slop", [(("rgb",), 1), (("rgb", "rgb"), 1), (("a", "b"), -1)])
def test_pairer_rejects_bad_settings(keys: tuple[str, ...], slop: int) -> None:
    with pytest.raises(ValueError, match="ApproxTimePairer"):
        ApproxTimePairer(keys, slop)
    with pytest.raises(KeyError, match="unknown source"):
        ApproxTimePairer(("a", "b"), 1).add("c", 0, None)


def test_fair_mailbox_serves_the_least_recently_served_source() -> None:
    box: FairMailbox[int] = FairMailbox()
    served = []
    # rgb is refreshed before every take: without fairness depth would never be served.
    box.put("depth", 0)
    for i in range(6):
        assert box.put("rgb", i) in (None, i - 1)
        key, _ = box.take(timeout=0)  # type: ignore[misc]
        served.append(key)
        if key == "depth":
            box.put("depth", i)
    assert served.count("depth") >= 2 and served.count("rgb") >= 2
    box.drain()
    assert box.put("rgb", 9) is None and box.put("rgb", 10) == 9  # replaced = dropped
    assert box.drain() == {"rgb": 10}


def test_fair_mailbox_take_wakes_on_close() -> None:
    box: FairMailbox[int] = FairMailbox()
    got = []
    t = threading.Thread(target=lambda: got.append(box.take(timeout=5.0)))
    t.start()
    box.close()
    t.join(2.0)
    assert got == [None] and not t.is_alive()


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_stamp_gaps_count_frames_lost_upstream() -> None:
    gaps = StampGaps()
    stamps = [i * 33 * MS for i in range(20) if i not in (10, 11, 15)]
    lost = [gaps.add(s) for s in stamps]
    assert gaps.missing == 3 and sum(lost) == 3
    assert gaps.rate_hz == pytest.approx(1000 / 33, rel=0.01)
    gaps.add(0)  # a bag looping: reset, not a loss
    assert gaps.resets == 1 and gaps.missing == 3


def test_health_rates_expected_rate_and_silence() -> None:
    clock = Clock()
    h = SourceHealth("rgb", "/cam/rgb", expected_rate=30.0, clock=clock)
    h.start()
    for i in range(60):  # 15 Hz for 4 s
        clock.t += 1 / 15
        h.arrived(int(clock.t * 1e9))
        h.done() if i % 2 else h.drop("newer_frame")
    st = h.status()
    assert st.level == WARN and "expected 30 Hz" in st.message
    assert float(st.values["rate_arrivals_hz"]) == pytest.approx(15, rel=0.1)
    assert float(st.values["rate_stamps_hz"]) == pytest.approx(15, rel=0.01)
    assert st.values["processed"] == "30" and st.values["dropped[newer_frame]"] == "30"
    h.expected_rate = 15.0
    assert h.status().level == OK
    clock.t += 4.0
    st = h.status(lambda: "1 publisher(s): /cam offers best_effort/volatile")
    assert st.level == WARN and "no message on /cam/rgb for 4.0 s" in st.message
    assert "offers best_effort" in st.message
    clock.t += 7.0
    assert h.status().level == ERROR


def test_health_reports_a_topic_that_never_spoke() -> None:
    clock = Clock()
    h = SourceHealth("depth", "/cam/depth", silence_warn_s=1.0, silence_error_s=2.0, clock=clock)
    h.start()
    clock.t += 2.5
    st = h.status(lambda: "no publisher on this topic")
    assert st.level == ERROR and "no message yet on /cam/depth" in st.message
    assert "no publisher" in st.message


def test_auto_reliability_follows_the_publishers() -> None:
    rel = OfferedQoS("/camera", "reliable")
    be = OfferedQoS("/camera", "best_effort")
    assert choose_reliability("auto", []) == "best_effort"  # matches whoever comes
    assert choose_reliability("auto", [rel]) == "reliable"
    assert choose_reliability("auto", [rel, be]) == "best_effort"
    assert choose_reliability("reliable", [be]) == "reliable"  # forced: the user's choice
    assert incompatibility("reliable", [be]) and "never match" in str(
        incompatibility("reliable", [be])
    )
    assert incompatibility("best_effort", [rel]) is None
    assert "INCOMPATIBLE" in describe_offered("reliable", [be])
    assert "no publisher" in describe_offered("best_effort", [])


def test_fastdds_profile_is_used_only_when_nothing_else_is_chosen(tmp_path) -> None:
    env: dict[str, str] = {}
    path = use_fastdds_profile(env, tmp_path)
    assert path and env["FASTDDS_DEFAULT_PROFILES_FILE"] == path
    assert Path(path).read_text(encoding="utf-8") == FASTDDS_PROFILE_XML
    assert use_fastdds_profile({"FASTDDS_DEFAULT_PROFILES_FILE": "/x.xml"}, tmp_path) is None
    assert use_fastdds_profile({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}, tmp_path) is None
    assert use_fastdds_profile({"MMED_FASTDDS_PROFILE": "off"}, tmp_path) is None
    humble: dict[str, str] = {"ROS_DISTRO": "humble"}
    use_fastdds_profile(humble, tmp_path)
    assert "FASTRTPS_DEFAULT_PROFILES_FILE" in humble


def test_new_parameters_are_validated_with_a_reason() -> None:
    assert validate_params(PERCEPTION_PARAMS, {"qos_reliability": "auto"}) == []
    assert "qos_reliability" in validate_params(PERCEPTION_PARAMS, {"qos_reliability": "x"})[0]
    assert "sync_slop" in validate_params(PERCEPTION_PARAMS, {"sync_slop": -0.1})[0]
    assert "expected_rate" in validate_params(PERCEPTION_PARAMS, {"expected_rate": -1.0})[0]
    assert "sync_queue" in validate_params(PERCEPTION_PARAMS, {"sync_queue": 0})[0]
    assert cross_check({"silence_warn": 5.0, "silence_error": 10.0}) == []
    assert "silence_error" in cross_check({"silence_warn": 5.0, "silence_error": 1.0})[0]


def test_overrides_without_a_value_are_found() -> None:
    args = ["--ros-args", "-p", "rgb_topic:=", "--param", "depth_topic:=''", "-p", "x:=1"]
    assert empty_overrides(args) == ["rgb_topic"]
    assert empty_overrides(["-p"]) == []


def test_handover_neither_loses_nor_doubles_a_frame() -> None:
    h = Handover()
    first = h.begin()
    assert h.accept(first, 1) and h.accept(first, 1)  # a resent frame on one subscription: kept
    second = h.begin()  # QoS changed: new subscription, the old one still delivers
    assert h.accept(first, 2) and h.accept(first, 3)
    assert not h.switched
    assert not h.accept(second, 3)  # the new one's first message: frame 3 again
    assert h.switched
    assert not h.accept(first, 4)  # the old one is ignored from now on
    assert h.accept(second, 4) and h.accept(second, 5)
