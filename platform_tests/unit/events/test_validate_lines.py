"""Every quarantine reason with its exact string, and the shape of valid events."""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import Row

from cs_platform.logic.events import (
    QUARANTINE_COLUMNS, VALID_COLUMNS, explode_lines, quarantine_schema, valid_schema, validate_lines,
)

HOUR = dt.datetime(2026, 11, 26, 10)
SOURCE = "file:///landing/2026/11/26/10/cs-events-1-2026-11-26-10-00-00-abc.gz"


def event(event_type="ticket_created", data=None, **overrides):
    base = {"event_id": "e-1", "event_type": event_type, "ticket_id": "T-1", "seq": 1,
            "occurred_at": "2026-11-26T10:15:00.123Z"}
    default_data = {
        "ticket_created": {"customer_id": "C-1", "channel": "chat", "priority": "high"},
        "agent_assigned": {"agent_id": "A-1"},
        "message_added": {"author": "agent", "agent_id": "A-1"},
        "status_changed": {"status": "solved"},
        "priority_changed": {"priority": "urgent"},
        "csat_submitted": {"csat_score": 4},
    }
    base["data"] = default_data.get(event_type, {}) if data is None else data
    base.update(overrides)
    return json.dumps(base)


def split(spark, *raw_lines, landing_hour=HOUR):
    rows = [Row(raw_line=line, source_file=SOURCE, line_number=i + 1, landing_hour=landing_hour)
            for i, line in enumerate(raw_lines)]
    df = spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp")
    return validate_lines(df)


def without(field):
    doc = json.loads(event())
    del doc[field]
    return json.dumps(doc)


def data_without(event_type, field):
    doc = json.loads(event(event_type))
    del doc["data"][field]
    return json.dumps(doc)


CASES = [
    ("{not json", "invalid_json"),
    ('{"event_id": "e-1"} trailing', "invalid_json"),
    (event() + event(), "invalid_json"),
    (event() + ",0],[5", "invalid_json"),  # closes the `[line,0]` wrapper of the one-value check
    ("[1, 2]", "not_an_object"),
    ('"a string"', "not_an_object"),
    ("42", "not_an_object"),
    ("null", "not_an_object"),
    (without("event_id"), "missing_field:event_id"),
    (event(event_id=None), "missing_field:event_id"),
    (event(event_id="  "), "missing_field:event_id"),
    (without("event_type"), "missing_field:event_type"),
    (without("ticket_id"), "missing_field:ticket_id"),
    (without("seq"), "missing_field:seq"),
    (without("occurred_at"), "missing_field:occurred_at"),
    (without("data"), "missing_field:data"),
    (event(event_id=17), "bad_type:event_id"),
    (event(ticket_id={"id": 1}), "bad_type:ticket_id"),
    (event(event_type=True), "bad_type:event_type"),
    (event(occurred_at=["2026-11-26T10:15:00Z"]), "bad_type:occurred_at"),
    (event(seq="3"), "bad_type:seq"),
    (event(seq=3.0), "bad_type:seq"),
    (event(seq=99999999999999999999), "bad_type:seq"),
    (event(data="customer_id=C-1"), "bad_type:data"),
    (event(data=[1]), "bad_type:data"),
    (event(seq=0), "out_of_range:seq"),
    (event(seq=-4), "out_of_range:seq"),
    (event(occurred_at="2026-11-26 10:15:00"), "bad_timestamp:occurred_at"),
    (event(occurred_at="2026-02-30T10:15:00Z"), "bad_timestamp:occurred_at"),
    (event(occurred_at="yesterday"), "bad_timestamp:occurred_at"),
    (event(event_type="ticket_deleted", data={}), "unknown_event_type"),
    (data_without("ticket_created", "customer_id"), "missing_field:data.customer_id"),
    (event(data={"customer_id": 7, "channel": "chat"}), "bad_type:data.customer_id"),
    (data_without("ticket_created", "channel"), "missing_field:data.channel"),
    (event(data={"customer_id": "C-1", "channel": "fax"}), "bad_value:channel"),
    (event(data={"customer_id": "C-1", "channel": "chat", "priority": "p1"}), "bad_value:priority"),
    (event(data={"customer_id": "C-1", "channel": "chat", "priority": 1}), "bad_type:data.priority"),
    (data_without("agent_assigned", "agent_id"), "missing_field:data.agent_id"),
    (event("message_added", data={"agent_id": "A-1"}), "missing_field:data.author"),
    (event("message_added", data={"author": "bot"}), "bad_value:author"),
    (event("message_added", data={"author": "agent"}), "missing_field:data.agent_id"),
    (data_without("status_changed", "status"), "missing_field:data.status"),
    (event("status_changed", data={"status": "done"}), "bad_value:status"),
    (event("priority_changed", data={}), "missing_field:data.priority"),
    (event("priority_changed", data={"priority": "asap"}), "bad_value:priority"),
    (event("csat_submitted", data={}), "missing_field:data.csat_score"),
    (event("csat_submitted", data={"csat_score": "5"}), "bad_type:data.csat_score"),
    (event("csat_submitted", data={"csat_score": 4.5}), "bad_type:data.csat_score"),
    (event("csat_submitted", data={"csat_score": 6}), "out_of_range:csat_score"),
    (event("csat_submitted", data={"csat_score": 0}), "out_of_range:csat_score"),
]


def test_every_reason_has_its_exact_string(spark):
    valid, quarantined = split(spark, *(line for line, _ in CASES))
    assert valid.count() == 0
    got = {row.line_number: row.reason for row in quarantined.collect()}
    expected = {i + 1: reason for i, (_, reason) in enumerate(CASES)}
    assert got == expected
    assert quarantined.schema == quarantine_schema()
    assert tuple(quarantined.columns) == QUARANTINE_COLUMNS


# Raw (unescaped) control characters inside a JSON string: Jackson cannot read such a line, so
# every field would read as absent; the line is not JSON, whatever field holds the character.
RAW_CONTROL = [
    event(event_id="e-\u00011").replace("\\u0001", "\x01"),
    event(ticket_id="T-\u00011").replace("\\u0001", "\x01"),
    event(data={"customer_id": "C-\t1", "channel": "chat"}).replace("\\t", "\t"),
    event(note="a\u001fb").replace("\\u001f", "\x1f"),
]


def test_raw_control_characters_in_strings_are_invalid_json(spark):
    assert all(any(ord(c) < 0x20 for c in line) for line in RAW_CONTROL)
    valid, quarantined = split(spark, *RAW_CONTROL, event(note="a\u0001b"))  # escaped, it is valid
    assert [r.reason for r in quarantined.orderBy("line_number").collect()] == ["invalid_json"] * 4
    assert [(r.line_number, r.event_id) for r in valid.collect()] == [(5, "e-1")]


def test_first_failing_rule_wins(spark):
    lines = [
        json.dumps({"event_type": "nope", "seq": "x"}),   # event_id is checked first
        event(seq=0, occurred_at="bad", event_type="nope"),  # seq range before timestamp and type
        event(occurred_at="bad", event_type="nope"),
    ]
    _, quarantined = split(spark, *lines)
    assert [r.reason for r in quarantined.orderBy("line_number").collect()] == [
        "missing_field:event_id", "out_of_range:seq", "bad_timestamp:occurred_at"]


def test_no_landing_hour_is_quarantined_first(spark):
    valid, quarantined = split(spark, event(), "{bad", landing_hour=None)
    assert valid.count() == 0
    assert [r.reason for r in quarantined.orderBy("line_number").collect()] == [
        "bad_path:landing_hour", "bad_path:landing_hour"]


def test_valid_events_flatten_data_and_ignore_extra_fields(spark):
    created = json.loads(event(data={"customer_id": "C-9", "channel": "email", "vip": True}))
    created["extra"] = {"nested": [1, 2]}
    lines = [
        json.dumps(created),
        event("agent_assigned", event_id="e-2", seq=2, data={"agent_id": "A-7", "status": 3}),
        event("message_added", event_id="e-3", seq=3, data={"author": "customer", "agent_id": "A-7", "body": "hi"}),
        event("message_added", event_id="e-4", seq=4, data={"author": "agent", "agent_id": "A-7"}),
        event("status_changed", event_id="e-5", seq=5, data={"status": "pending"}),
        event("priority_changed", event_id="e-6", seq=6, data={"priority": "low"}),
        event("csat_submitted", event_id="e-7", seq=7, data={"csat_score": 5},
              occurred_at="2026-11-26T12:15:00+02:00"),
    ]
    valid, quarantined = split(spark, *lines)
    assert quarantined.count() == 0
    assert valid.schema == valid_schema()
    assert tuple(valid.columns) == VALID_COLUMNS
    at = dt.datetime(2026, 11, 26, 10, 15, 0, 123000)
    common = dict(ticket_id="T-1", source_file=SOURCE, landing_hour=HOUR)
    none = dict(customer_id=None, channel=None, priority=None, agent_id=None, author=None, status=None, csat_score=None)
    expected = [
        dict(none, event_id="e-1", event_type="ticket_created", seq=1, occurred_at=at, customer_id="C-9",
             channel="email", priority="normal", line_number=1),
        dict(none, event_id="e-2", event_type="agent_assigned", seq=2, occurred_at=at, agent_id="A-7", line_number=2),
        dict(none, event_id="e-3", event_type="message_added", seq=3, occurred_at=at, author="customer", line_number=3),
        dict(none, event_id="e-4", event_type="message_added", seq=4, occurred_at=at, author="agent",
             agent_id="A-7", line_number=4),
        dict(none, event_id="e-5", event_type="status_changed", seq=5, occurred_at=at, status="pending", line_number=5),
        dict(none, event_id="e-6", event_type="priority_changed", seq=6, occurred_at=at, priority="low", line_number=6),
        dict(none, event_id="e-7", event_type="csat_submitted", seq=7, occurred_at=dt.datetime(2026, 11, 26, 10, 15),
             csat_score=5, line_number=7),
    ]
    got = [row.asDict() for row in valid.orderBy("line_number").collect()]
    assert got == [dict(e, **common) for e in expected]


def test_explode_lines_positions_crlf_and_landing_hour(spark):
    files = spark.createDataFrame([
        ("a\r\n\r\n  \nb\n", "s3://bucket/landing/2026/11/26/07/cs-events-1-2026-11-26-07-59-59-x"),
        ("c", "file:///tmp/elsewhere/file.txt"),
        ("d\n", "file:///landing/2026/13/01/00/cs-events-1-bad-month"),
        (" \t\n\u2028\n \u0085\n\u2029", "file:///tmp/separators"),  # only the first line is blank
    ], "value string, source_file string")
    rows = [r.asDict() for r in explode_lines(files).orderBy("source_file", "line_number").collect()]
    assert rows == [
        {"raw_line": "d", "source_file": "file:///landing/2026/13/01/00/cs-events-1-bad-month", "line_number": 1,
         "landing_hour": None},
        {"raw_line": "c", "source_file": "file:///tmp/elsewhere/file.txt", "line_number": 1, "landing_hour": None},
        *({"raw_line": line, "source_file": "file:///tmp/separators", "line_number": n, "landing_hour": None}
          for n, line in ((2, "\u2028"), (3, " \u0085"), (4, "\u2029"))),
        {"raw_line": "a", "source_file": "s3://bucket/landing/2026/11/26/07/cs-events-1-2026-11-26-07-59-59-x",
         "line_number": 1, "landing_hour": dt.datetime(2026, 11, 26, 7)},
        {"raw_line": "b", "source_file": "s3://bucket/landing/2026/11/26/07/cs-events-1-2026-11-26-07-59-59-x",
         "line_number": 4, "landing_hour": dt.datetime(2026, 11, 26, 7)},
    ]
    assert explode_lines(files).schema.simpleString() == (
        "struct<raw_line:string,source_file:string,line_number:bigint,landing_hour:timestamp>")


def test_the_landing_hour_is_computed_once_per_file_not_once_per_line(spark):
    """Regression: Spark moved the hour's five regexes above the explode, evaluating them for every
    line (a third of the batch's parse). In the plan's text a child is printed below its parent."""
    files = spark.createDataFrame([("a\nb", "s3://b/landing/2026/11/26/07/x")], "value string, source_file string")
    plan = explode_lines(files)._jdf.queryExecution().optimizedPlan().toString()
    explode_at = plan.index("Generate posexplode")
    assert plan.count("regexp_extract(") == 4
    assert plan.index("regexp_extract(") > explode_at


def test_each_line_is_parsed_a_fixed_number_of_times(spark):
    """Regression: Spark once pushed the split filter under the parses and inlined them into it
    (325 from_json per line). The typed parse once in each branch (certain lines, the others) = 2,
    plus the reference's 6 kinds x (envelope + data) = 12, for the few lines it sees. The
    quarantined half has no certain branch (its lines are valid by construction): 13."""
    valid, quarantined = split(spark, event())
    counts = [df._jdf.queryExecution().optimizedPlan().toString().count("from_json(") for df in (valid, quarantined)]
    assert counts == [14, 13]
