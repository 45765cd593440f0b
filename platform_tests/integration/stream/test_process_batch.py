"""process_batch on real Iceberg tables and the real DocumentDB stand-in."""

from __future__ import annotations

from datetime import datetime, timezone

import pymongo
from pymongo import monitoring

from cs_platform.streaming.batch import process_batch

from .landing_files import event_line, utc

HOUR = datetime(2026, 11, 26, 10)
FILE_A = "file:///landing/2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a"
FILE_B = "file:///landing/2026/11/26/10/cs-events-1-2026-11-26-10-05-00-b"


class CommandLog(monitoring.CommandListener):
    def __init__(self):
        self.commands: list[str] = []

    def started(self, event):
        self.commands.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def lines_df(spark, rows):
    return spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp")


def batch_rows():
    t = utc(2026, 11, 26, 9, 0)
    return [
        (event_line("e1", "ticket_created", "T1", 1, t, customer_id="c1", channel="chat"), FILE_A, 1, HOUR),
        (event_line("e2", "status_changed", "T1", 3, t.replace(minute=5), status="pending"), FILE_A, 2, HOUR),
        ("not json", FILE_A, 3, HOUR),
        (event_line("e2", "status_changed", "T1", 3, t.replace(minute=5), status="pending"), FILE_B, 1, HOUR),
        (event_line("e3", "agent_assigned", "T2", 2, t.replace(minute=7), agent_id="ag9"), FILE_B, 2, HOUR),
    ]


def monitored_writer(stream_env, settings, log):
    from cs_platform.adapters.documentdb import DocumentDBWriter

    factory = lambda: pymongo.MongoClient(settings.documentdb, event_listeners=[log],  # noqa: E731
                                          **settings.documentdb_client_kwargs())
    return DocumentDBWriter(factory, database=stream_env["database"])


def test_batch_writes_lake_and_documents_and_replay_is_a_no_op(spark, settings, stream_env, mongo_client):
    tables = stream_env["tables"]
    tables.ensure(spark)
    log = CommandLog()
    writer = monitored_writer(stream_env, settings, log)

    first = process_batch(lines_df(spark, batch_rows()), tables, writer, "t:0")
    assert (first.lines_read, first.valid, first.quarantined, first.new_events, first.new_quarantined) == (5, 4, 1, 3, 1)
    assert (first.tickets_touched, first.tickets_changed, first.documentdb_writes, first.documentdb_stale) == (2, 2, 2, 0)
    assert first.landing_hours == ["2026-11-26T10:00:00Z"]
    assert set(first.snapshot_ids) == {"events", "events_quarantine", "tickets"}

    events = sorted((r.event_id, r.source_file, r.line_number) for r in spark.table(tables.events).collect())
    assert events == [("e1", FILE_A, 1), ("e2", FILE_A, 2), ("e3", FILE_B, 2)]
    quarantine = [(r.raw_line, r.source_file, r.line_number, r.reason) for r in spark.table(tables.events_quarantine).collect()]
    assert quarantine == [("not json", FILE_A, 3, "invalid_json")]
    tickets = {r.ticket_id: r for r in spark.table(tables.tickets).collect()}
    assert (tickets["T1"].status, tickets["T1"].customer_id, tickets["T1"].event_count, tickets["T1"].last_seq) == ("pending", "c1", 2, 3)
    assert (tickets["T2"].agent_id, tickets["T2"].status, tickets["T2"].priority, tickets["T2"].customer_id) == ("ag9", "open", "normal", None)

    docs = {d["_id"]: d for d in mongo_client[stream_env["database"]]["tickets"].find()}
    assert docs["T1"] == {
        "_id": "T1", "status": "pending", "priority": "normal", "agent_id": None, "customer_id": "c1",
        "channel": "chat", "message_count": 0, "last_seq": 3, "event_count": 2,
        "updated_at": datetime(2026, 11, 26, 9, 5),
    }
    assert docs["T2"]["agent_id"] == "ag9" and docs["T2"]["event_count"] == 1

    replay = process_batch(lines_df(spark, batch_rows()), tables, writer, "t:0-replay")
    assert (replay.new_events, replay.new_quarantined, replay.tickets_changed) == (0, 0, 0)
    assert (replay.documentdb_writes, replay.documentdb_stale) == (2, 2)
    assert spark.table(tables.events).count() == 3 and spark.table(tables.events_quarantine).count() == 1
    assert spark.table(tables.tickets).count() == 2

    reads = [c for c in log.commands if c in {"find", "aggregate", "count", "distinct", "getMore", "findAndModify"}]
    assert reads == []
    assert log.commands.count("update") == 2  # one unordered bulk per batch
    writer.close()


def test_late_lower_seq_event_in_a_later_batch_updates_state(spark, settings, stream_env, mongo_client):
    tables = stream_env["tables"]
    tables.ensure(spark)
    writer = stream_env["writer"]()
    t = utc(2026, 11, 26, 9, 0)
    process_batch(lines_df(spark, [
        (event_line("s2", "status_changed", "T1", 5, t.replace(minute=9), status="solved"), FILE_A, 1, HOUR),
    ]), tables, writer, "t:0")
    late = process_batch(lines_df(spark, [
        (event_line("c1", "ticket_created", "T1", 1, t, customer_id="c1", channel="email", priority="high"), FILE_B, 1, HOUR),
        (event_line("s1", "status_changed", "T1", 2, t.replace(minute=1), status="pending"), FILE_B, 2, HOUR),
    ]), tables, writer, "t:1")
    assert (late.new_events, late.tickets_changed, late.documentdb_writes, late.documentdb_stale) == (2, 1, 1, 0)
    row = spark.table(tables.tickets).collect()[0]
    assert (row.status, row.priority, row.customer_id, row.channel, row.resolved_at, row.event_count, row.last_seq) == (
        "solved", "high", "c1", "email", datetime(2026, 11, 26, 9, 9), 3, 5)
    doc = mongo_client[stream_env["database"]]["tickets"].find_one({"_id": "T1"})
    assert (doc["status"], doc["priority"], doc["event_count"], doc["channel"]) == ("solved", "high", 3, "email")
    writer.close()


def test_guard_never_regresses_a_newer_document(settings, stream_env, mongo_client):
    writer = stream_env["writer"]()
    newer = {"status": "solved", "priority": "high", "agent_id": "a", "customer_id": "c", "channel": "chat",
             "message_count": 4, "last_seq": 9, "event_count": 9, "updated_at": datetime(2026, 11, 26, 11, tzinfo=timezone.utc)}
    older = {**newer, "status": "open", "event_count": 3, "last_seq": 3}
    assert writer.write_rows([("T9", newer)]).upserted == 1
    stats = writer.write_rows([("T9", older), ("T8", older)])
    assert (stats.operations, stats.stale, stats.upserted) == (2, 1, 1)
    doc = mongo_client[stream_env["database"]]["tickets"].find_one({"_id": "T9"})
    assert (doc["status"], doc["event_count"]) == ("solved", 9)
    writer.write_rows([("T9", older)], guarded=False)
    assert mongo_client[stream_env["database"]]["tickets"].find_one({"_id": "T9"})["status"] == "open"
    writer.close()


def test_merge_commit_tells_the_snapshot_the_added_records_and_a_first_load(spark, stream_env):
    """What the batch relies on: a first load may refold from the whole events table."""
    from pyspark.sql import functions as F

    from cs_platform.adapters.catalog import current_snapshot

    tables = stream_env["tables"]
    tables.ensure(spark)
    assert current_snapshot(spark, tables.events_quarantine) == (None, {})

    def merge(view: str, line_numbers: list[int]):
        rows = [(f"bad {n}", FILE_A, n, HOUR, "invalid_json") for n in line_numbers]
        spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp, "
                              "reason string").withColumn("ingested_at", F.current_timestamp()).createOrReplaceTempView(view)
        return tables.run_merge(spark, tables.events_quarantine, tables.merge_quarantine_sql(view))

    def main_ref() -> int:
        return spark.sql(f"SELECT snapshot_id FROM {tables.events_quarantine}.refs WHERE name = 'main'").first()[0]

    first = merge("merge_first", [1, 2])
    assert (first.snapshot_id, first.added_records, first.first_load) == (main_ref(), 2, True)
    second = merge("merge_second", [2, 3])
    assert (second.snapshot_id, second.added_records, second.first_load) == (main_ref(), 1, False)
    again = merge("merge_again", [3])
    assert (again.snapshot_id, again.added_records, again.first_load) == (main_ref(), 0, False)
    assert current_snapshot(spark, tables.events_quarantine)[1]["total-records"] == "3"


def test_quarantine_merge_reads_only_the_days_of_its_lines(spark, stream_env):
    """The quarantine grows with the stream's history; a batch reads only its own days of it.

    Proven by an outcome: the other day's data file is deleted, and the batch still commits
    (an unpruned MERGE fails reading it). Lines outside the hour layout are matched too.
    """
    from pathlib import Path
    from urllib.parse import urlparse

    from pyspark.sql import functions as F

    tables = stream_env["tables"]
    tables.ensure(spark)
    day_before = datetime(2026, 11, 25, 10)

    def merge(view: str, rows: list, hours: list):
        spark.createDataFrame(rows, "raw_line string, source_file string, line_number long, landing_hour timestamp, "
                              "reason string").withColumn("ingested_at", F.current_timestamp()).createOrReplaceTempView(view)
        return tables.run_merge(spark, tables.events_quarantine, tables.merge_quarantine_sql(view, hours))

    epoch = lambda hour: int(hour.replace(tzinfo=timezone.utc).timestamp())  # noqa: E731
    old_file = "file:///landing/2026/11/25/10/cs-events-1-2026-11-25-10-00-00-x"
    assert merge("q_old", [("bad", old_file, 1, day_before, "invalid_json")], [epoch(day_before)]).added_records == 1
    old_data = [Path(urlparse(r.file_path).path) for r in spark.sql(
        f"SELECT file_path FROM {tables.events_quarantine}.files").collect()]
    assert len(old_data) == 1
    old_data[0].unlink()

    rows = [("bad", FILE_A, 1, HOUR, "invalid_json"), ("bad", "file:///landing/x.gz", 1, None, "bad_path:landing_hour")]
    first = merge("q_new", rows, [epoch(HOUR), None])
    assert first.added_records == 2
    assert merge("q_again", rows, [epoch(HOUR), None]).added_records == 0  # still insert-if-absent
    assert tables.merge_quarantine_sql("v", [epoch(HOUR), None]).endswith(
        "ON t.source_file = s.source_file AND t.line_number = s.line_number AND t.landing_hour <=> s.landing_hour "
        f"AND (t.landing_hour IN (timestamp_seconds({epoch(HOUR)})) OR t.landing_hour IS NULL) "
        "WHEN NOT MATCHED THEN INSERT (raw_line, source_file, line_number, landing_hour, reason, ingested_at) "
        "VALUES (s.raw_line, s.source_file, s.line_number, s.landing_hour, s.reason, s.ingested_at)")
