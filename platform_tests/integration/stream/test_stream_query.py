"""The streaming query in-process: gzip + plain files in nested hour folders, availableNow twice,
the progress log, `csp stream --status`, and the checkpoint lock."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cs_platform.cli import cli
from cs_platform.streaming.checkpoint import committed_batches, unprocessed_files
from cs_platform.streaming.lock import CheckpointBusy, CheckpointLock, holder, lock_path
from cs_platform.streaming.progress import progress_log_path, read_progress
from cs_platform.streaming.query import checkpoint_location, start_stream

from .landing_files import event_line, utc, write_landing_file


def test_once_processes_new_files_then_only_the_next_arrival(spark, stream_env, mongo_client):
    settings, tables, landing = stream_env["settings"], stream_env["tables"], stream_env["landing"]
    t = utc(2026, 11, 26, 9)
    write_landing_file(landing, utc(2026, 11, 26, 9), [
        event_line("e1", "ticket_created", "T1", 1, t, customer_id="c1", channel="chat"),
        "",
        "{broken",
    ], gz=True)
    write_landing_file(landing, utc(2026, 11, 26, 10), [
        event_line("e2", "message_added", "T1", 2, t.replace(minute=3), author="agent", agent_id="a1"),
        event_line("e1", "ticket_created", "T1", 1, t, customer_id="c1", channel="chat"),
    ])
    checkpoint = checkpoint_location(settings)
    assert len(unprocessed_files(settings.landing, checkpoint)) == 2

    first = start_stream(spark, settings, once=True, tables=tables, writer=stream_env["writer"]())
    assert (len(first.batches), first.total("lines_read"), first.total("valid"), first.total("quarantined")) == (1, 4, 3, 1)
    assert (first.total("new_events"), first.total("tickets_changed"), first.total("documentdb_writes")) == (2, 1, 1)
    assert first.landing_hours == ["2026-11-26T09:00:00Z", "2026-11-26T10:00:00Z"]
    assert committed_batches(checkpoint) == [0]
    assert unprocessed_files(settings.landing, checkpoint) == []

    q = spark.table(tables.events_quarantine).collect()
    assert [(r.raw_line, r.line_number, r.reason) for r in q] == [("{broken", 3, "invalid_json")]
    assert q[0].source_file.endswith(".gz") and "/2026/11/26/09/" in q[0].source_file

    again = start_stream(spark, settings, once=True, tables=tables, writer=stream_env["writer"]())
    assert again.batches == []

    late = write_landing_file(landing, utc(2026, 11, 26, 11), [
        event_line("e3", "status_changed", "T1", 3, t.replace(minute=9), status="solved"),
    ], gz=True)
    assert unprocessed_files(settings.landing, checkpoint) == [str(late)]
    second = start_stream(spark, settings, once=True, tables=tables, writer=stream_env["writer"]())
    assert (second.total("lines_read"), second.total("new_events"), second.landing_hours) == (1, 1, ["2026-11-26T11:00:00Z"])
    doc = mongo_client[stream_env["database"]]["tickets"].find_one({"_id": "T1"})
    assert (doc["status"], doc["message_count"], doc["event_count"], doc["last_seq"]) == ("solved", 1, 3, 3)

    entries = read_progress(progress_log_path(settings, "cs_events"))
    assert [(e["batch_id"], e["mode"], e["lines_read"], e["new_events"], e["landing_hours"]) for e in entries] == [
        (0, "once", 4, 2, ["2026-11-26T09:00:00Z", "2026-11-26T10:00:00Z"]),
        (1, "once", 1, 1, ["2026-11-26T11:00:00Z"]),
    ]
    assert entries[0]["query_id"] == first.query_id and set(entries[0]["snapshot_ids"]) == {"events", "events_quarantine", "tickets"}

    write_landing_file(landing, utc(2026, 11, 26, 12),
                       [event_line("e4", "priority_changed", "T1", 4, t, priority="high")])
    with CheckpointLock(lock_path(settings, "cs_events"), checkpoint, "continuous"):
        shown = CliRunner().invoke(cli, ["stream", "--status", "--landing-uri", settings.landing,
                                         "--checkpoint-uri", settings.checkpoint], catch_exceptions=False)
    status = json.loads(shown.output)
    assert (status["checkpoint"], status["holder"]["mode"], status["committed_batches"], status["last_committed_batch"],
            status["pending_files"]) == (checkpoint, "continuous", 2, 1, 1)
    assert {k: status["last_batch"][k] for k in ("batch_id", "mode", "lines_read", "new_events", "landing_hours")} == {
        "batch_id": 1, "mode": "once", "lines_read": 1, "new_events": 1, "landing_hours": ["2026-11-26T11:00:00Z"]}



def test_an_unreadable_object_is_quarantined_as_one_line_and_the_query_goes_on(spark, stream_env):
    """A truncated gzip fails Spark's read of the whole batch: replayed, it would fail again forever."""
    import gzip

    from cs_platform.adapters.landing import LandingZone
    from cs_platform.lakehouse.reconciliation import backfill_hours, reconcile_raw

    settings, tables, landing = stream_env["settings"], stream_env["tables"], stream_env["landing"]
    t, ten = utc(2026, 11, 26, 9), utc(2026, 11, 26, 10)
    write_landing_file(landing, t, [event_line("e1", "ticket_created", "T1", 1, t, customer_id="c1", channel="chat")],
                       gz=True)
    whole = gzip.compress(("\n".join(event_line(f"x{i}", "message_added", "T1", i + 2, t, author="customer")
                                     for i in range(200)) + "\n").encode())
    bad = write_landing_file(landing, ten, [], gz=True)
    bad.write_bytes(whole[: len(whole) // 2])  # an upload cut short

    run = start_stream(spark, settings, once=True, tables=tables, writer=stream_env["writer"]())

    assert (run.total("lines_read"), run.total("valid"), run.total("quarantined"), run.total("new_events")) == (2, 1, 1, 1)
    rows = spark.sql(f"SELECT * FROM {tables.events_quarantine}").collect()
    assert [(r.source_file.endswith(bad.name), r.line_number, r.landing_hour.hour, r.reason, r.raw_line) for r in rows] == [
        (True, 0, 10, "unreadable_file:java.io.EOFException: Unexpected end of input stream", None)]
    checkpoint = checkpoint_location(settings)
    assert (committed_batches(checkpoint), unprocessed_files(settings.landing, checkpoint)) == ([0], [])
    # the raw check and a backfill read the hour as the stream did: the object is the one quarantined line
    zone = LandingZone.from_settings(settings)
    assert reconcile_raw(spark, tables, zone, ten).ok
    [again] = backfill_hours(spark, tables, zone, None, [ten])
    assert (again.lines_read, again.quarantined, again.new_quarantined, again.new_events) == (1, 1, 0, 0)
    # a good copy uploaded over it: a backfill inserts its lines and drops the whole-object row
    bad.write_bytes(whole)
    [fixed] = backfill_hours(spark, tables, zone, None, [ten])
    assert (fixed.lines_read, fixed.quarantined, fixed.new_events) == (200, 0, 200)
    assert spark.table(tables.events_quarantine).count() == 0
    assert reconcile_raw(spark, tables, zone, ten).ok


def test_a_file_older_than_the_max_file_age_is_neither_taken_nor_pending(spark, stream_env):
    """Spark's file source never takes a file modified more than `maxFileAge` (7 days) before the
    newest file it planned: the pending count agrees, so the sensor asks no run for it forever
    (and its listing need not reach that far back). Reconciliation finds its hour's lines missing."""
    import os
    import time

    settings, tables, landing = stream_env["settings"], stream_env["tables"], stream_env["landing"]
    t = utc(2026, 11, 26, 9)
    write_landing_file(landing, t, [event_line("e1", "ticket_created", "T1", 1, t, customer_id="c1", channel="chat")])
    assert start_stream(spark, settings, once=True, tables=tables, use_documentdb=False).total("lines_read") == 1

    now = time.time()
    too_old = write_landing_file(landing, utc(2026, 11, 16, 9), [event_line("e2", "agent_assigned", "T1", 2, t, agent_id="a1")])
    os.utime(too_old, (now - 8 * 86400, now - 8 * 86400))
    os.utime(too_old.parent, (now - 8 * 86400, now - 8 * 86400))
    old_enough = write_landing_file(landing, utc(2026, 11, 20, 9), [event_line("e3", "agent_assigned", "T1", 3, t, agent_id="a2")])
    os.utime(old_enough, (now - 6 * 86400, now - 6 * 86400))
    checkpoint = checkpoint_location(settings)
    assert unprocessed_files(settings.landing, checkpoint) == [str(old_enough)]

    second = start_stream(spark, settings, once=True, tables=tables, use_documentdb=False)
    assert (second.total("lines_read"), second.total("new_events")) == (1, 1)
    assert sorted(r.event_id for r in spark.table(tables.events).collect()) == ["e1", "e3"]
    assert unprocessed_files(settings.landing, checkpoint) == []


def test_second_query_on_the_same_checkpoint_is_refused(spark, stream_env):
    settings = stream_env["settings"]
    path = lock_path(settings, "cs_events")
    checkpoint = checkpoint_location(settings)
    with CheckpointLock(path, checkpoint, "continuous"):
        assert holder(path)["mode"] == "continuous"
        with pytest.raises(CheckpointBusy) as refused:
            start_stream(spark, settings, once=True, tables=stream_env["tables"], use_documentdb=False)
        held = json.loads(path.read_text())
        assert str(refused.value) == (
            f"another streaming query is already running on checkpoint {checkpoint} (lock {path} held by "
            f"{json.dumps(held)}); wait for it to finish or stop it, then retry"
        )
    assert holder(path) is None


def test_a_query_is_refused_while_a_repair_holds_the_checkpoint(spark, stream_env):
    from cs_platform.streaming.query import writer_lock

    settings = stream_env["settings"]
    with writer_lock(settings, "backfill") as held:
        with pytest.raises(CheckpointBusy) as refused:
            start_stream(spark, settings, once=True, tables=stream_env["tables"], use_documentdb=False)
        assert str(refused.value) == (
            f"a backfill is writing the tables of checkpoint {checkpoint_location(settings)} (lock {held.path} "
            f"held by {held.path.read_text()}); wait for it to finish, then retry"
        )


def test_continuous_query_processes_arrivals_until_stopped_and_hands_over_to_a_repair(spark, stream_env, monkeypatch):
    import threading
    import time

    from cs_platform.streaming import handover
    from cs_platform.streaming.query import writer_lock

    monkeypatch.setattr(handover, "WATCH_SECONDS", 0.2)
    settings, landing = stream_env["settings"], stream_env["landing"]
    settings = settings.model_copy(update={"stream_trigger_seconds": 1})
    t = utc(2026, 11, 26, 9)
    write_landing_file(landing, utc(2026, 11, 26, 9), [event_line("e1", "ticket_created", "T1", 1, t, customer_id="c", channel="chat")])
    stop, outcome = threading.Event(), {}

    def run():
        outcome["run"] = start_stream(spark, settings, once=False, tables=stream_env["tables"], use_documentdb=False, stop=stop)

    thread = threading.Thread(target=run)
    thread.start()
    log = progress_log_path(settings, "cs_events")
    try:
        deadline = time.monotonic() + 240
        while len(read_progress(log)) < 1 and time.monotonic() < deadline:
            time.sleep(1)
        assert holder(lock_path(settings, "cs_events"))["mode"] == "continuous"
        with writer_lock(settings, "backfill"):  # the query hands over between batches, then waits
            assert holder(lock_path(settings, "cs_events"))["mode"] == "backfill"
            write_landing_file(landing, utc(2026, 11, 26, 10), [event_line("e2", "status_changed", "T1", 2, t, status="pending")])
            time.sleep(4)  # four triggers: no batch runs beside the repair
            assert len(read_progress(log)) == 1
        while len(read_progress(log)) < 2 and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        stop.set()
        thread.join(120)
    assert not thread.is_alive()
    entries = read_progress(log)
    assert [(e["batch_id"], e["mode"], e["new_events"], e["landing_hours"]) for e in entries] == [
        (0, "continuous", 1, ["2026-11-26T09:00:00Z"]), (1, "continuous", 1, ["2026-11-26T10:00:00Z"])]
    assert outcome["run"].batches == []
    assert holder(lock_path(settings, "cs_events")) is None


def test_the_packaged_entry_point_runs_the_continuous_query_until_sigterm(spark, stream_env, mongo_client):
    """`stream_job.py --continuous`, as a long-running EMR job runs it: outside Dagster (its batches
    are runless for the sensor), stopped by SIGTERM with exit code 0 and its lock released."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from cs_platform.remote import stream_job

    settings, landing = stream_env["settings"], stream_env["landing"]
    t = utc(2026, 11, 26, 9)
    write_landing_file(landing, t, [event_line("e1", "ticket_created", "T1", 1, t, customer_id="c", channel="chat"),
                                    event_line("e2", "status_changed", "T1", 2, t, status="pending")])
    env = {**os.environ, "CSP_LANDING_URI": settings.landing, "CSP_CHECKPOINT_URI": settings.checkpoint,
           "CSP_STREAM_TRIGGER_SECONDS": "1"}
    job = subprocess.Popen([sys.executable, str(Path(stream_job.__file__)), "--continuous",
                            "--namespace", stream_env["tables"].namespace, "--database", stream_env["database"]],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = progress_log_path(settings, "cs_events")
    try:
        deadline = time.monotonic() + 240
        while not read_progress(log) and job.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        assert holder(lock_path(settings, "cs_events"))["pid"] == job.pid
        job.send_signal(signal.SIGTERM)
        assert job.wait(120) == 0, job.stderr.read()[-3000:]
    finally:
        if job.poll() is None:
            job.kill()
    [entry] = read_progress(log)
    assert (entry["mode"], entry["new_events"], entry["landing_hours"], "dagster_run_id" in entry) == (
        "continuous", 2, ["2026-11-26T09:00:00Z"], False)
    assert holder(lock_path(settings, "cs_events")) is None
    document = mongo_client[stream_env["database"]].tickets.find_one({"_id": "T1"})
    assert (document["status"], document["event_count"]) == ("pending", 2)
