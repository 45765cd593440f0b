"""The Python fast path of validate_lines agrees with the Spark reference, line for line, and
only hands the lines it cannot read like Spark's Jackson to the reference."""

from __future__ import annotations

import json

from cs_platform.logic import events
from platform_tests.unit.events.test_validate_lines import CASES, SOURCE, HOUR, event

EDGE = [
    event(event_id="3"), event(event_id="NaN"), event(event_id="\u2028"), event(event_id=" \u0085"),
    event(seq=2 ** 63 - 1), event(seq=2 ** 63), event(seq=True), event(data={}),
    event("message_added", data={"author": "customer", "agent_id": 5}),
    event(data={"customer_id": "C-1", "channel": "chat", "priority": None}),
    event().replace('"e-1"', "'e-1'"), event().replace('"seq": 1', '"seq": 1, "seq": "x"'),
    event().replace('"e-1"', "NaN"), event().replace('"C-1"', "1e400"), event().replace('"e-1"', '"\\ud800"'),
    event() + " x", "[" * 70 + "]" * 70,
]
LINES = [line for line, _ in CASES] + EDGE + [event()]


def annotated(spark, fast: bool):
    rows = [(line, SOURCE, i + 1, HOUR if i % 7 else None) for i, line in enumerate(LINES)]
    df = spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp")
    out = events._annotate(df) if fast else events._spark_annotate(df)
    # what validate_lines shows: the reason, and the event columns of valid lines
    return {r.line_number: (r.reason, tuple(r) if r.reason is None else ())
            for r in out.select("line_number", *events.ANNOTATED_COLUMNS).collect()}


def test_fast_path_matches_the_spark_reference(spark):
    assert annotated(spark, fast=True) == annotated(spark, fast=False)


def test_only_undecidable_lines_fall_back():
    decide = events._python_decision
    assert not decide(event().encode())[0]
    assert not decide(event(seq="3").encode())[0]  # a decided quarantine, not a fallback
    assert decide(event().replace('"e-1"', "NaN").encode())[0]
    assert decide(json.dumps({"a": 1}).replace("}", ', "a": 2}').encode())[0]
    assert decide(b"\xff{}")[0]
