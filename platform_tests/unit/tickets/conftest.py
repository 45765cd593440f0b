"""Build valid-event DataFrames inline (the shape `validate_lines` returns)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

VALID_SCHEMA = (
    "event_id string, event_type string, ticket_id string, seq long, occurred_at timestamp, customer_id string, "
    "channel string, priority string, agent_id string, author string, status string, csat_score int, "
    "source_file string, line_number long, landing_hour timestamp"
)
T0 = datetime(2026, 11, 26, 10, 0, 0)
HOUR = datetime(2026, 11, 26, 10)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(event_id, event_type, ticket_id="T1", seq=1, minute=None, source_file="f1", line_number=1,
          landing_hour=HOUR, **data):
    row = {
        "event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "seq": seq,
        "occurred_at": at(seq if minute is None else minute), "customer_id": None, "channel": None, "priority": None,
        "agent_id": None, "author": None, "status": None, "csat_score": None, "source_file": source_file,
        "line_number": line_number, "landing_hour": landing_hour,
    }
    row.update(data)
    return row


@pytest.fixture
def events_df(spark):
    def make(rows):
        cols = [c.split()[0] for c in VALID_SCHEMA.split(", ")]
        return spark.createDataFrame([tuple(r[c] for c in cols) for r in rows], VALID_SCHEMA)

    return make
