"""The fast paths of validate_lines agree with the Spark reference, line for line: the typed
parse decides only lines that are certainly valid, Python only hands the lines it cannot read
like Spark's Jackson to the reference."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from cs_platform.adapters.spark import Persisted
from cs_platform.logic import events
from cs_platform.logic.events import python_reader, reference
from platform_tests.unit.events.test_validate_lines import CASES, HOUR, RAW_CONTROL, SOURCE, event

EDGE = [
    event(event_id="3"), event(event_id="NaN"), event(event_id="\u2028"), event(event_id=" \u0085"),
    event(seq=2 ** 63 - 1), event(seq=2 ** 63), event(seq=True), event(data={}),
    event("message_added", data={"author": "customer", "agent_id": 5}),
    event(data={"customer_id": "C-1", "channel": "chat", "priority": None}),
    event().replace('"e-1"', "'e-1'"), event().replace('"seq": 1', '"seq": 1, "seq": "x"'),
    event().replace('"e-1"', "NaN"), event().replace('"C-1"', "1e400"), event().replace('"e-1"', '"\\ud800"'),
    event() + " x", "[" * 70 + "]" * 70,
    # what a typed parse cannot tell from its text alone: these must leave the certain path
    event(event_id=123), event(event_id="123"), event(ticket_id=True), event(ticket_id="true"),
    event(event_id=["x"]), event(event_id="[x"), event(event_id={"a": 1}), event(event_id="12e3"),
    event(event_id=1.5), event(event_id="-Infinity"), event("agent_assigned", data={"agent_id": 7}),
    event("agent_assigned", data={"agent_id": "\t"}), event("message_added", data={"author": "agent"}),
    event("message_added", data={"author": "agent", "agent_id": "007"}),
    event("message_added", data={"author": "customer", "agent_id": {"x": 1}}),
    event("csat_submitted", data={"csat_score": 4.0}), event("csat_submitted", data={"csat_score": "4"}),
    event("csat_submitted", data={"csat_score": 5, "agent_id": 3}), event(seq="1"), event(seq=1.0),
    event(data={"customer_id": "C-1", "channel": "chat", "priority": ""}), event(data="{}"),
    event(occurred_at=20261126), event().replace("{", " \t{", 1), event().replace('"e-1"', '"e-1", "event_id": 5'),
    event(event_id="e-1\n"), event(ticket_id="T-1 "), event(extra={"deep": [{"x": None}]}),
    # junk after the object, or a line that closes the `[line,0]` array of the one-value check early
    event() + "] [" + event(), event() + "]", event() + "," + event(), "[" + event(), event() + "] x",
    event() + " ] ", "]" + event(), event() + ",0],[5", event() + ',0],["x"', event() + ",0]", event() + ",0] ",
    event(extra=["a]", 1]), event(event_id="e]1"),
    # ... or of the certain path's `[line]` parse: a second value, a trailing comma
    event() + ",", event() + " ,", event() + ",null", event() + ",1", event() + ",{}", event() + "\t",
    # truncated records, which Python decides itself (invalid_json), and near misses it leaves to the reference
    event()[:1], event()[:15], event()[:40], event()[:-1], event()[:-1] + "  ", event()[:-2] + ",",
    '{"event_id": "e-1\\', '{"event_id": "e-1", "seq": 1.', '{"event_id": tr', " " + event()[:-1], "[" + event()[:-1],
    "{'event_id': 'e-1'", '{"data": {"x": NaN', '{"data": {"x": 1, "x": 2}, "seq": 1',
    # not JSON in a field no rule reads: the typed parse accepted NaN there, the reference does not
    event()[:-1] + ', "score": NaN}', event(data={"customer_id": "C-1", "channel": "chat", "x": 1})[:-2] + ', "y": -Infinity}}',
    "\u2028", " \u0085",
    # raw control characters inside strings: not JSON, though Spark's reader sees an object
    *RAW_CONTROL,
]
LINES = [line for line, _ in CASES] + EDGE + [event()]


ANNOTATORS = {"reference": reference.annotate, "python": python_reader.annotate, "certain": events.annotate_lines}


def lines_df(spark):
    rows = [(line, SOURCE, i + 1, HOUR if i % 7 else None) for i, line in enumerate(LINES)]
    return spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp")


def annotated(spark, how: str):
    out = ANNOTATORS[how](lines_df(spark))
    # what validate_lines shows: the reason, and the event columns of valid lines
    return {r.line_number: (r.reason, tuple(r) if r.reason is None else ())
            for r in out.select("line_number", *events.ANNOTATED_COLUMNS).collect()}


@pytest.mark.parametrize("how", ["python", "certain"])
def test_fast_path_matches_the_spark_reference(spark, how):
    assert annotated(spark, how) == annotated(spark, "reference")


def test_python_path_without_the_reference_matches_it_when_no_line_falls_back(spark):
    """With a cache, the reference leaves the plan when Python decided every line."""
    decided = [n for n, line in enumerate(LINES, start=1) if not python_reader.decide_line(line.encode())[0]]
    assert (len(decided), len(LINES)) == (94, 137)  # Python decides all but the lines Jackson could read otherwise
    keep = Persisted()
    try:
        lines = lines_df(spark).where(F.col("line_number").isin(decided))
        kept = python_reader.annotate(lines, keep=keep)
        assert "from_json" not in kept._jdf.queryExecution().analyzed().toString()
        got = {r.line_number: (r.reason, tuple(r) if r.reason is None else ())
               for r in kept.select("line_number", *events.ANNOTATED_COLUMNS).collect()}
    finally:
        keep.release()
    reference = annotated(spark, "reference")
    assert got == {n: reference[n] for n in decided}


def test_typed_parse_decides_only_certainly_valid_lines(spark):
    prepared = events.prepare_lines(lines_df(spark)).select("line_number", "_certain").collect()
    certain = {r.line_number for r in prepared if r._certain}
    reference = annotated(spark, "reference")
    assert all(reference[n][0] is None for n in certain)
    # the ordinary lines (the last one, and every valid CASE with a landing hour) take this path
    assert len(LINES) in certain
    # pinned: a change that sends fewer lines down this path (slower, still right) must be seen
    assert sorted(certain) == [55, 59, 60, 61, 62, 82, 93, 94, 114, 137]


def test_only_undecidable_lines_fall_back():
    decide = python_reader.decide_line
    assert not decide(event().encode())[0]
    assert not decide(event(seq="3").encode())[0]  # a decided quarantine, not a fallback
    assert decide(event().replace('"e-1"', "NaN").encode())[0]
    assert decide(json.dumps({"a": 1}).replace("}", ', "a": 2}').encode())[0]
    assert decide(b"\xff{}")[0]
    # a truncated record is invalid for Python and Jackson alike; a near miss is Jackson's to judge
    assert decide(event()[:40].encode())[:3] == (False, "invalid_json", None)
    assert decide(b'{"event_id": "e-1')[:2] == (False, "invalid_json")
    assert decide(b'{"event_id": "e-1", "seq": 1.')[0]
    assert decide(b'  {"event_id": "e-1"')[0]
