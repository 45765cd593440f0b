"""Reconciliation rules on small inline DataFrames (no stores)."""

from __future__ import annotations

import datetime as dt

from cs_platform.logic.reconcile import (
    EVENT_DELIVERY_ORDER,
    SAMPLE_SIZE,
    collapse_source,
    compare_documents,
    compare_tickets,
    quarantine_rate,
    reconcile_hour,
    touched_ticket_ids,
)

H = dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)
H_PREV = dt.datetime(2026, 11, 26, 9, tzinfo=dt.timezone.utc)
H_NEXT = dt.datetime(2026, 11, 26, 11, tzinfo=dt.timezone.utc)


def _events(spark, rows):
    return spark.createDataFrame(rows, "event_id string, landing_hour timestamp")


def _quarantine(spark, rows):
    return spark.createDataFrame(rows, "source_file string, line_number long, landing_hour timestamp")


def test_reconciled_hour_counts_zero_and_redelivery_of_an_older_event_is_not_missing(spark):
    raw_valid = spark.createDataFrame([("e1",), ("e2",), ("e0",)], "event_id string")
    raw_bad = _quarantine(spark, [("f1", 3, H)])
    lake = _events(spark, [("e0", H_PREV), ("e1", H), ("e2", H), ("e9", H_NEXT)])
    lake_q = _quarantine(spark, [("f1", 3, H), ("f0", 1, H_PREV)])

    result = reconcile_hour(raw_valid, raw_bad, lake, lake_q, H)

    assert result.ok
    assert result.counts == {"missing_events": 0, "missing_quarantine": 0, "unexpected_events": 0,
                             "unexpected_quarantine": 0, "duplicated_events": 0, "duplicated_quarantine": 0}


def test_every_discrepancy_kind_is_counted_with_sorted_samples(spark):
    raw_valid = spark.createDataFrame([("e1",), ("e2",), ("e3",), ("e3",)], "event_id string")
    raw_bad = _quarantine(spark, [("f1", 3, H), ("f1", 7, H)])
    # held twice: e1 (in H and the hour before), x1 and f2:9 (in H); x2 and f3:1 (another hour only)
    lake = _events(spark, [("e1", H), ("e1", H_PREV), ("x1", H), ("x1", H), ("x2", H_NEXT), ("x2", H_NEXT)])
    lake_q = _quarantine(spark, [("f1", 3, H), ("f2", 9, H), ("f2", 9, H), ("f3", 1, H_NEXT), ("f3", 1, H_NEXT)])

    result = reconcile_hour(raw_valid, raw_bad, lake, lake_q, H)

    assert not result.ok
    assert result.counts == {"missing_events": 2, "missing_quarantine": 1, "unexpected_events": 1,
                             "unexpected_quarantine": 1, "duplicated_events": 2, "duplicated_quarantine": 1}
    assert result.samples == {"missing_events": ["e2", "e3"], "missing_quarantine": ["f1:7"],
                              "unexpected_events": ["x1"], "unexpected_quarantine": ["f2:9"],
                              "duplicated_events": ["e1", "x1"], "duplicated_quarantine": ["f2:9"]}
    assert result.as_metadata()["missing_events_samples"] == ["e2", "e3"]


def test_samples_are_capped_but_counts_are_exact(spark):
    raw_valid = spark.createDataFrame([(f"e{i:03d}",) for i in range(50)], "event_id string")
    result = reconcile_hour(raw_valid, _quarantine(spark, []), _events(spark, []), _quarantine(spark, []), H)
    assert result.counts["missing_events"] == 50
    assert result.samples["missing_events"] == [f"e{i:03d}" for i in range(SAMPLE_SIZE)]


def test_touched_tickets_are_those_of_lake_events_of_the_hour(spark):
    lake = spark.createDataFrame([("e1", "T1", H), ("e2", "T1", H), ("e3", "T2", H_PREV)],
                                 "event_id string, ticket_id string, landing_hour timestamp")
    assert [r.ticket_id for r in touched_ticket_ids(lake, H).collect()] == ["T1"]


def test_ticket_comparison_names_missing_tickets_and_differing_columns(spark):
    schema = "ticket_id string, status string, priority string, event_count long"
    expected = spark.createDataFrame([("T1", "open", "high", 3), ("T2", "solved", None, 2), ("T3", "open", "low", 1)], schema)
    actual = spark.createDataFrame([("T1", "open", "high", 3), ("T2", "open", "normal", 2)], schema)

    result = compare_tickets(expected, actual)

    assert result.counts == {"missing_tickets": 1, "mismatched_tickets": 1}
    assert result.samples == {"missing_tickets": ["T3"], "mismatched_tickets": ["T2: status,priority"]}


def test_ticket_comparison_ignores_bookkeeping_columns(spark):
    expected = spark.createDataFrame([("T1", "open")], "ticket_id string, status string")
    actual = spark.createDataFrame([("T1", "open", H)], "ticket_id string, status string, written_at timestamp")
    assert compare_tickets(expected, actual).ok


def test_document_comparison_tolerates_bson_millisecond_dates_and_names_fields():
    at = dt.datetime(2026, 11, 26, 10, 15, 0, 123456, tzinfo=dt.timezone.utc)
    expected = {
        "T1": {"status": "open", "updated_at": at, "message_count": 2},
        "T2": {"status": "solved", "updated_at": at, "message_count": 1},
        "T3": {"status": "open", "updated_at": at, "message_count": 0},
    }
    actual = {
        "T1": {"status": "open", "updated_at": dt.datetime(2026, 11, 26, 10, 15, 0, 123000), "message_count": 2},
        "T2": {"status": "open", "updated_at": at, "message_count": 5},
    }

    result = compare_documents(expected, actual, ["status", "updated_at", "message_count"])

    assert result.counts == {"missing_documents": 1, "mismatched_documents": 1}
    assert result.samples == {"missing_documents": ["T3"], "mismatched_documents": ["T2: status,message_count"]}


def test_quarantine_rate():
    assert quarantine_rate(0, 0) == 0.0
    assert quarantine_rate(1, 3) == 0.25


def test_collapse_source_deletes_every_copy_and_inserts_each_first_committed_delivery(spark):
    t1, t2 = dt.datetime(2026, 11, 26, 12, 1), dt.datetime(2026, 11, 26, 12, 2)
    rows = spark.createDataFrame([
        ("e1", H, "f2", 1, t2), ("e1", H_PREV, "f9", 5, t2), ("e1", H, "f1", 7, t1),  # committed first: f1:7
        ("e2", H, "f2", 3, t1), ("e2", H_PREV, "f9", 4, t1),  # one commit: the earliest hour, as in a batch
        ("e3", H, "f1", 3, t1), ("e3", H, "f1", 3, t1),  # exact copies: one stays
    ], "event_id string, landing_hour timestamp, source_file string, line_number long, ingested_at timestamp")

    source = collapse_source(rows, ["event_id"], EVENT_DELIVERY_ORDER)

    got = sorted((r._side, r.event_id, r.source_file, r.line_number) for r in source.collect())
    assert got == [("delete", "e1", None, None), ("delete", "e2", None, None), ("delete", "e3", None, None),
                   ("insert", "e1", "f1", 7), ("insert", "e2", "f9", 4), ("insert", "e3", "f1", 3)]
