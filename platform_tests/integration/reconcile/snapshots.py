"""Full-table snapshots, to prove a repair changed nothing but what it repaired."""

from __future__ import annotations


def snapshot(spark, lake, mongo_client) -> dict:
    tables = lake.tables
    return {
        "events": {r.event_id: r.asDict() for r in spark.table(tables.events).collect()},
        "quarantine": {(r.source_file, r.line_number): r.asDict() for r in spark.table(tables.events_quarantine).collect()},
        "tickets": {r.ticket_id: r.asDict() for r in spark.table(tables.tickets).collect()},
        "documents": {d["_id"]: d for d in mongo_client[lake.database]["tickets"].find()},
    }


def _without_ingested_at(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "ingested_at"}


def assert_unchanged(before: dict, after: dict, reinserted_events=frozenset(), reinserted_quarantine=frozenset()):
    """Every table equals its snapshot; re-inserted rows may differ only by `ingested_at`."""
    assert set(after["events"]) == set(before["events"])
    for key, row in before["events"].items():
        if key in reinserted_events:
            assert _without_ingested_at(after["events"][key]) == _without_ingested_at(row)
        else:
            assert after["events"][key] == row
    assert set(after["quarantine"]) == set(before["quarantine"])
    for key, row in before["quarantine"].items():
        if key in reinserted_quarantine:
            assert _without_ingested_at(after["quarantine"][key]) == _without_ingested_at(row)
        else:
            assert after["quarantine"][key] == row
    assert after["tickets"] == before["tickets"]
    assert after["documents"] == before["documents"]
