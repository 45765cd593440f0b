"""Same-batch deliveries resolve to the earliest landing_hour, then smallest source_file, then line."""

from __future__ import annotations

from datetime import datetime

from cs_platform.logic.tickets import dedupe_batch, oltp_projection, fold_tickets, OLTP_COLUMNS

from .conftest import event


def test_dedupe_prefers_earliest_hour_then_file_then_line(events_df):
    rows = [
        event("e1", "message_added", author="customer", source_file="b", line_number=1, landing_hour=datetime(2026, 11, 26, 9)),
        event("e1", "message_added", author="customer", source_file="a", line_number=1, landing_hour=datetime(2026, 11, 26, 10)),
        event("e2", "message_added", author="customer", source_file="b", line_number=1),
        event("e2", "message_added", author="customer", source_file="a", line_number=7),
        event("e3", "message_added", author="customer", source_file="a", line_number=9),
        event("e3", "message_added", author="customer", source_file="a", line_number=3),
    ]
    got = sorted((r.event_id, r.source_file, r.line_number, r.landing_hour.hour)
                 for r in dedupe_batch(events_df(rows)).collect())
    assert got == [("e1", "b", 1, 9), ("e2", "a", 7, 10), ("e3", "a", 3, 10)]


def test_oltp_projection_columns(events_df):
    projected = oltp_projection(fold_tickets(events_df([event("c1", "ticket_created", customer_id="c", channel="chat")])))
    assert projected.columns == OLTP_COLUMNS
    assert projected.collect()[0].asDict() == {
        "ticket_id": "T1", "status": "open", "priority": "normal", "agent_id": None, "customer_id": "c",
        "channel": "chat", "message_count": 0, "last_seq": 1, "updated_at": datetime(2026, 11, 26, 10, 1),
        "event_count": 1,
    }
