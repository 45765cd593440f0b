"""Reconciliation and repair on real tables (Iceberg on the JDBC catalog, SecantusDB), no Dagster."""

from __future__ import annotations

from click.testing import CliRunner

from cs_platform.cli import cli
from cs_platform.lakehouse.reconciliation import (
    backfill_hours,
    reconcile_documents,
    reconcile_raw,
    reconcile_tickets,
    reproject_hours,
)
from platform_tests.integration.reconcile.conftest import H9, H10, H11, source_file_of
from platform_tests.integration.reconcile.locking import once_run_releasing_after, refusal
from platform_tests.integration.reconcile.snapshots import assert_unchanged, snapshot

ZERO_RAW = {"missing_events": 0, "missing_quarantine": 0, "unexpected_events": 0, "unexpected_quarantine": 0,
            "duplicated_events": 0, "duplicated_quarantine": 0}


def test_a_freshly_processed_landing_zone_reconciles_every_hour(spark, lake, mongo_client):
    collection = mongo_client[lake.database]["tickets"]
    for hour in (H9, H10, H11):
        assert reconcile_raw(spark, lake.tables, lake.landing, hour).counts == ZERO_RAW
        assert reconcile_tickets(spark, lake.tables, hour).ok
        assert reconcile_documents(spark, lake.tables, collection, hour).ok
    # the re-delivered e01 (first seen in hour 9) keeps its hour-9 row and is not "missing" in hour 10
    rows = spark.sql(f"SELECT landing_hour FROM {lake.tables.events} WHERE event_id = 'e01'").collect()
    assert [r.landing_hour.hour for r in rows] == [9]


def test_deleted_event_rows_are_missing_then_backfill_restores_exactly_them(spark, lake, mongo_client):
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id IN ('e05', 'e08')")

    found = reconcile_raw(spark, lake.tables, lake.landing, H10)

    assert found.counts == {**ZERO_RAW, "missing_events": 2}
    assert found.samples["missing_events"] == ["e05", "e08"]
    assert reconcile_raw(spark, lake.tables, lake.landing, H9).ok  # other hours are not affected
    backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])
    assert reconcile_raw(spark, lake.tables, lake.landing, H10).ok
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e05", "e08"})


def test_a_lost_raw_file_is_detected_and_backfilled(spark, lake, mongo_client):
    before = snapshot(spark, lake, mongo_client)
    lost = source_file_of(spark, lake, "e04")  # file b of hour 10
    assert lost.endswith(lake.paths["b"])
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE source_file = '{lost}'")
    spark.sql(f"DELETE FROM {lake.tables.events_quarantine} WHERE source_file = '{lost}'")

    found = reconcile_raw(spark, lake.tables, lake.landing, H10)

    assert found.counts == {**ZERO_RAW, "missing_events": 3, "missing_quarantine": 2}
    assert found.samples == {"missing_events": ["e04", "e05", "e06"],
                             "missing_quarantine": [f"{lost}:2", f"{lost}:6"],
                             "unexpected_events": [], "unexpected_quarantine": [], "duplicated_events": [],
                             "duplicated_quarantine": []}
    backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])
    assert reconcile_raw(spark, lake.tables, lake.landing, H10).ok
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e04", "e05", "e06"},
                     reinserted_quarantine={(f"{lost}", 2), (f"{lost}", 6)})


def test_rows_claiming_an_hour_without_raw_lines_are_unexpected(spark, lake):
    spark.sql(f"""INSERT INTO {lake.tables.events} SELECT 'ghost', event_type, ticket_id, 9, occurred_at, customer_id,
                  channel, priority, agent_id, author, status, csat_score, source_file, 99, landing_hour, ingested_at
                  FROM {lake.tables.events} WHERE event_id = 'e04'""")
    spark.sql(f"""INSERT INTO {lake.tables.events_quarantine} SELECT raw_line, source_file, 42, landing_hour, reason,
                  ingested_at FROM {lake.tables.events_quarantine} WHERE line_number = 2""")
    source = source_file_of(spark, lake, "e04")
    try:
        found = reconcile_raw(spark, lake.tables, lake.landing, H10)
    finally:  # leave the shared module lake as it was
        spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id = 'ghost'")
        spark.sql(f"DELETE FROM {lake.tables.events_quarantine} WHERE line_number = 42")

    assert found.counts == {**ZERO_RAW, "unexpected_events": 1, "unexpected_quarantine": 1}
    assert found.samples["unexpected_events"] == ["ghost"]
    assert found.samples["unexpected_quarantine"] == [f"{source}:42"]
    assert reconcile_raw(spark, lake.tables, lake.landing, H10).ok


def test_rows_written_twice_are_duplicated_and_backfill_keeps_each_first_delivery(spark, lake, mongo_client):
    """Two writers outside the query's lock (two query names on one landing zone, a hand-run INSERT) can
    both insert a row: an insert-only MERGE commits as a plain append, with no conflict check."""
    from cs_platform.adapters.lake_tables import EVENT_COLUMNS

    before = snapshot(spark, lake, mongo_client)
    events, quarantine = lake.tables.events, lake.tables.events_quarantine
    source = source_file_of(spark, lake, "e04")  # file b of hour 10
    # e05 copied as it is; e01's hour-10 re-delivery (file b, line 4) inserted beside its hour-9 row
    spark.sql(f"INSERT INTO {events} SELECT * FROM {events} WHERE event_id = 'e05'")
    redelivery = {"source_file": f"'{source}'", "line_number": "4L", "landing_hour": "timestamp'2026-11-26 10:00:00'"}
    spark.sql(f"INSERT INTO {events} SELECT {', '.join(redelivery.get(c, c) for c in EVENT_COLUMNS)} "
              f"FROM {events} WHERE event_id = 'e01'")
    spark.sql(f"INSERT INTO {quarantine} SELECT * FROM {quarantine} WHERE source_file = '{source}' AND line_number = 2")

    found = reconcile_raw(spark, lake.tables, lake.landing, H10)

    assert found.counts == {**ZERO_RAW, "duplicated_events": 2, "duplicated_quarantine": 1}
    assert (found.samples["duplicated_events"], found.samples["duplicated_quarantine"]) == (["e01", "e05"],
                                                                                            [f"{source}:2"])
    assert reconcile_raw(spark, lake.tables, lake.landing, H9).counts == {**ZERO_RAW, "duplicated_events": 1}
    assert reconcile_tickets(spark, lake.tables, H10).ok  # an event counts once however often it is stored
    [result] = backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])
    assert (result.duplicates_removed, result.new_events, result.new_quarantined) == (3, 0, 0)
    assert reconcile_raw(spark, lake.tables, lake.landing, H10).ok
    assert reconcile_raw(spark, lake.tables, lake.landing, H9).ok
    assert spark.table(events).count() == len(before["events"])
    assert spark.table(quarantine).count() == len(before["quarantine"])
    assert_unchanged(before, snapshot(spark, lake, mongo_client))  # e01 kept its hour-9 row, ingested_at and all
    [again] = backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])
    assert again.duplicates_removed == 0


def test_a_batch_between_its_events_and_tickets_commits_is_waited_for_not_reported(spark, lake, mongo_client):
    """A batch commits its events, then refolds and commits their tickets: a check in between waits
    for the tickets commit and compares again. A DELETE of events is no batch's: reported at once."""
    import threading
    import time

    from cs_platform.logic.tickets import fold_tickets

    before = snapshot(spark, lake, mongo_client)
    tables = lake.tables
    # the batch's events MERGE, as process_batch runs it: a new message on T2 (touched in hour 10)
    spark.sql(f"SELECT 'e-late' AS event_id, 'message_added' AS event_type, ticket_id, 4L AS seq, occurred_at, "
              f"customer_id, channel, priority, agent_id, 'customer' AS author, status, csat_score, source_file, "
              f"line_number + 100 AS line_number, landing_hour, ingested_at FROM {tables.events} WHERE event_id = 'e06'"
              ).createOrReplaceTempView("in_flight_events")
    tables.run_merge(spark, tables.events, tables.merge_events_sql("in_flight_events"))

    def tickets_commit_of_the_batch():  # 3 s later: its refold of T2, then the tickets MERGE
        time.sleep(3)
        fold_tickets(spark.table(tables.events).where("ticket_id = 'T2'")).createOrReplaceTempView("in_flight_state")
        tables.run_merge(spark, tables.tickets, tables.merge_tickets_sql("in_flight_state"))

    batch = threading.Thread(target=tickets_commit_of_the_batch)
    try:
        assert reconcile_tickets(spark, tables, H10, settle_seconds=0).samples["mismatched_tickets"] == [
            "T2: message_count,last_seq,updated_at,event_count"]  # what a check without the wait reports
        batch.start()
        started = time.monotonic()
        assert reconcile_tickets(spark, tables, H10, settle_seconds=120).ok
        assert time.monotonic() - started >= 2.5  # it waited for the batch
        batch.join()

        spark.sql(f"DELETE FROM {tables.events} WHERE event_id = 'e09'")
        started = time.monotonic()
        found = reconcile_tickets(spark, tables, H10, settle_seconds=120)
        assert time.monotonic() - started < 60  # no batch in flight: reported without waiting
        assert found.samples["mismatched_tickets"] == ["T2: csat_score,event_count"]
    finally:
        if batch.ident is not None:
            batch.join()
        for view in ("in_flight_events", "in_flight_state"):  # SHOW TABLES of other tests would list them
            spark.catalog.dropTempView(view)
        spark.sql(f"DELETE FROM {tables.events} WHERE event_id = 'e-late'")
        backfill_hours(spark, tables, lake.landing, lake.writer(mongo_client), [H10])  # e09 back, T2 refolded
    assert reconcile_tickets(spark, tables, H10).ok
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e09"})


def test_a_corrupted_ticket_row_fails_the_refold_and_backfill_repairs_it(spark, lake, mongo_client):
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"UPDATE {lake.tables.tickets} SET status = 'pending', message_count = 7 WHERE ticket_id = 'T2'")

    found = reconcile_tickets(spark, lake.tables, H10)

    assert found.counts == {"missing_tickets": 0, "mismatched_tickets": 1}
    assert found.samples == {"missing_tickets": [], "mismatched_tickets": ["T2: status,message_count"]}
    assert reconcile_raw(spark, lake.tables, lake.landing, H10).ok  # raw reconciliation does not see it
    backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])
    assert reconcile_tickets(spark, lake.tables, H10).ok
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_documents_match_the_lake_on_a_host_outside_utc(spark, lake, mongo_client, monkeypatch):
    """PySpark renders a timestamp in the Python process's local time zone: the check compares in
    UTC, as the writer writes, so a Dagster host in Berlin does not see every updated_at differ."""
    import time

    collection = mongo_client[lake.database]["tickets"]
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        found = reconcile_documents(spark, lake.tables, collection, H10)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert found.counts == {"missing_documents": 0, "mismatched_documents": 0}


def test_a_corrupted_document_fails_field_by_field_and_reproject_repairs_it(spark, lake, mongo_client):
    collection = mongo_client[lake.database]["tickets"]
    before = snapshot(spark, lake, mongo_client)
    collection.update_one({"_id": "T3"}, {"$set": {"priority": "low", "agent_id": "intruder"}})
    collection.delete_one({"_id": "T2"})

    found = reconcile_documents(spark, lake.tables, collection, H10)

    assert found.counts == {"missing_documents": 1, "mismatched_documents": 1}
    assert found.samples == {"missing_documents": ["T2"], "mismatched_documents": ["T3: priority,agent_id"]}
    assert reconcile_documents(spark, lake.tables, collection, H11).ok  # T1 only
    assert reproject_hours(spark, lake.tables, lake.writer(mongo_client), [H10]) == 3
    assert reconcile_documents(spark, lake.tables, collection, H10).ok
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_cli_reconcile_exits_1_with_counts_and_backfill_repairs_the_hour(spark, lake, mongo_client):
    before = snapshot(spark, lake, mongo_client)
    runner = CliRunner()
    where = ["--namespace", lake.namespace]
    ok = runner.invoke(cli, ["reconcile", "--hour", "2026-11-26T10", *where])
    assert (ok.exit_code, ok.output.splitlines()[0]) == (0, "hour 2026-11-26T10: reconciled")
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id = 'e06'")

    bad = runner.invoke(cli, ["reconcile", "--hour", "2026-11-26T10", *where])

    assert bad.exit_code == 1
    assert bad.output.splitlines() == ["hour 2026-11-26T10: NOT reconciled", "  missing_events: 1  e.g. e06",
                                       "  missing_quarantine: 0", "  unexpected_events: 0", "  unexpected_quarantine: 0",
                                       "  duplicated_events: 0", "  duplicated_quarantine: 0"]
    fixed = runner.invoke(cli, ["backfill", "--hour", "2026-11-26T10", *where, "--documentdb-database", lake.database])
    assert (fixed.exit_code, fixed.output) == (0, "2026-11-26T10: lines=10 valid=7 quarantined=3 new_events=1 "
                                                  "new_quarantined=0 tickets_changed=0 documentdb_writes=3 "
                                                  "duplicates_removed=0\n")
    assert runner.invoke(cli, ["reconcile", "--hour", "2026-11-26T10", "--tickets", *where]).exit_code == 0
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e06"})


def test_cli_backfill_of_a_healthy_range_changes_nothing(spark, lake, mongo_client):
    before = snapshot(spark, lake, mongo_client)
    result = CliRunner().invoke(cli, ["backfill", "--from", "2026-11-26T09", "--to", "2026-11-26T11", "--namespace",
                                      lake.namespace, "--documentdb-database", lake.database])
    assert result.exit_code == 0, result.output
    assert [line.split(" documentdb_writes")[0] for line in result.output.splitlines()] == [
        "2026-11-26T09: lines=3 valid=3 quarantined=0 new_events=0 new_quarantined=0 tickets_changed=0",
        "2026-11-26T10: lines=10 valid=7 quarantined=3 new_events=0 new_quarantined=0 tickets_changed=0",
        "2026-11-26T11: lines=1 valid=1 quarantined=0 new_events=0 new_quarantined=0 tickets_changed=0",
    ]
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_cli_backfill_is_refused_while_an_available_now_query_runs(spark, lake, mongo_client):
    """(A continuous query hands over between batches instead: test_stream_query, test_s3_checkpoint.)"""
    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import writer_lock

    before = snapshot(spark, lake, mongo_client)
    with writer_lock(load_settings(), "once") as held:
        result = CliRunner().invoke(cli, ["backfill", "--hour", "2026-11-26T10", "--namespace", lake.namespace,
                                          "--documentdb-database", lake.database])
        holder = held.path.read_text()
    assert (result.exit_code, result.output) == (1, f"Error: {refusal(held, holder)}\n")
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_cli_backfill_locks_the_named_query_and_waits_for_it_when_asked(spark, lake, mongo_client, tmp_path):
    """A stream run as `csp stream --query-name eu --checkpoint-uri C` holds the lock of that query,
    not of the default one: the backfill of its tables must name it, and `--wait` waits for the run."""
    import time

    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import writer_lock

    before = snapshot(spark, lake, mongo_client)
    where = ["--hour", "2026-11-26T10", "--namespace", lake.namespace, "--documentdb-database", lake.database,
             "--query-name", "eu", "--checkpoint-uri", tmp_path.as_uri()]
    located = load_settings(checkpoint_uri=tmp_path.as_uri())
    with writer_lock(located, "once", query_name="eu") as held:
        refused = CliRunner().invoke(cli, ["backfill", *where])
        holder = held.path.read_text()
    assert (refused.exit_code, refused.output) == (1, f"Error: {refusal(held, holder)}\n")
    assert held.checkpoint == f"{tmp_path.as_uri()}/eu"

    with once_run_releasing_after(located, "eu") as released_at:
        waited = CliRunner().invoke(cli, ["backfill", *where, "--wait", "60"])
        done_at = time.monotonic()
    assert waited.exit_code == 0, waited.output
    assert waited.output.split(" documentdb_writes")[0] == (
        "2026-11-26T10: lines=10 valid=7 quarantined=3 new_events=0 new_quarantined=0 tickets_changed=0")
    assert released_at[0] <= done_at  # it ran after the --once run released the lock
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_cli_backfill_needs_an_hour_or_a_range():
    result = CliRunner().invoke(cli, ["backfill", "--from", "2026-11-26T09"])
    assert result.exit_code == 2
    assert "give either --hour H, or both --from A and --to B" in result.output
    result = CliRunner().invoke(cli, ["reconcile", "--hour", "26/11/2026"])
    assert result.exit_code == 2
    assert "invalid hour '26/11/2026': expected YYYY-MM-DDTHH in UTC" in result.output
