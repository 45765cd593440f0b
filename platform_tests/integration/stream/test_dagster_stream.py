"""The `cs_stream` job and the Structured Streaming sensor, on a real query and real files."""

from __future__ import annotations

import datetime as dt
import os
import socket

import dagster as dg
import pytest

from cs_platform.adapters.catalog import current_snapshot
from cs_platform.defs.reconcile import sensors as reconcile_sensors
from cs_platform.defs.resources import SettingsResource, shared_resources
from cs_platform.defs.stream.assets import STREAMED
from cs_platform.defs.stream.jobs import cs_stream_job
from cs_platform.defs.stream import sensors
from cs_platform.defs.stream.sensors import cs_stream_sensor
from cs_platform.streaming.lock import CheckpointLock, lock_path
from cs_platform.streaming.query import checkpoint_location, start_stream

from .landing_files import event_line, utc, write_landing_file

T = utc(2026, 11, 26, 9)


@pytest.fixture
def located(stream_env, monkeypatch):
    """The sensor reads settings from the environment: point them at this test's dirs."""
    monkeypatch.setenv("CSP_LANDING_URI", stream_env["settings"].landing)
    monkeypatch.setenv("CSP_CHECKPOINT_URI", stream_env["settings"].checkpoint)
    return stream_env


def evaluate(cursor=None, instance=None):
    with dg.build_sensor_context(cursor=cursor, instance=instance or dg.DagsterInstance.ephemeral(),
                                 resources={"settings": SettingsResource()}) as context:
        return cs_stream_sensor(context)


def failed_run(instance, run_key: str) -> float:
    """A cs_stream run requested with `run_key` that failed; returns when it failed."""
    run = instance.create_run_for_job(cs_stream_job, tags={"dagster/run_key": run_key})
    instance.report_run_failed(run)
    return instance.get_run_record_by_id(run.run_id).end_time


def two_hours(landing):
    write_landing_file(landing, utc(2026, 11, 26, 9), [
        event_line("e1", "ticket_created", "T1", 1, T, customer_id="c1", channel="chat"), "oops"], gz=True)
    write_landing_file(landing, utc(2026, 11, 26, 10), [
        event_line("e2", "agent_assigned", "T1", 2, T.replace(minute=2), agent_id="a1")])


def test_sensor_requests_one_run_for_new_files_and_never_a_duplicate(located):
    first = evaluate()
    assert first.run_requests == [] and first.skip_reason.skip_message == "no unprocessed landing files"

    two_hours(located["landing"])
    second = evaluate(first.cursor)
    assert len(second.run_requests) == 1 and second.run_requests[0].run_key.startswith("cs_stream:")
    assert second.run_requests[0].tags["cs/pending_files"] == "2"

    third = evaluate(second.cursor)
    assert third.run_requests == []
    assert third.skip_reason.skip_message == "2 unprocessed landing file(s), already requested"

    write_landing_file(located["landing"], utc(2026, 11, 26, 11), [
        event_line("e3", "status_changed", "T1", 3, T.replace(minute=5), status="solved")])
    fourth = evaluate(third.cursor)
    assert len(fourth.run_requests) == 1 and fourth.run_requests[0].run_key != second.run_requests[0].run_key

    with CheckpointLock(lock_path(located["settings"], "cs_events"), checkpoint_location(located["settings"]), "continuous"):
        busy = evaluate()
    assert busy.run_requests == []
    here = f"pid {os.getpid()} on {socket.gethostname()}"
    assert busy.skip_reason.skip_message == f"a query (mode continuous; {here}) holds the checkpoint"
    with CheckpointLock(lock_path(located["settings"], "cs_events"), checkpoint_location(located["settings"]), "backfill"):
        repairing = evaluate()
    assert repairing.run_requests == []
    assert repairing.skip_reason.skip_message == f"a backfill ({here}) holds the checkpoint"


def test_sensor_requests_the_backlog_of_a_failed_run_again_after_a_growing_delay(located, monkeypatch):
    instance, clock = dg.DagsterInstance.ephemeral(), [0.0]
    monkeypatch.setattr(sensors, "_now", lambda: clock[0])
    two_hours(located["landing"])
    first = evaluate(instance=instance)
    key = first.run_requests[0].run_key

    clock[0] = failed_run(instance, key) + 60
    waiting = evaluate(first.cursor, instance)
    assert waiting.run_requests == []
    assert waiting.skip_reason.skip_message == "2 unprocessed landing file(s): their run failed, requested again in 60 s"
    clock[0] += 60
    retried = evaluate(waiting.cursor, instance)
    assert [(r.run_key, r.tags["cs/pending_files"]) for r in retried.run_requests] == [(f"{key}:retry-1", "2")]
    assert evaluate(retried.cursor, instance).skip_reason.skip_message == "2 unprocessed landing file(s), already requested"

    clock[0] = failed_run(instance, f"{key}:retry-1") + 239  # the second wait is twice as long
    assert evaluate(retried.cursor, instance).skip_reason.skip_message.endswith("requested again in 1 s")
    clock[0] += 1
    again = evaluate(retried.cursor, instance)
    assert [r.run_key for r in again.run_requests] == [f"{key}:retry-2"]

    write_landing_file(located["landing"], utc(2026, 11, 26, 11), [
        event_line("e3", "status_changed", "T1", 3, T.replace(minute=5), status="solved")])
    backlog = evaluate(again.cursor, instance)  # a new backlog: a new digest, its own retries
    assert [r.tags["cs/pending_files"] for r in backlog.run_requests] == ["3"]
    assert ":retry-" not in backlog.run_requests[0].run_key and backlog.run_requests[0].run_key != key


def test_sensor_requests_nothing_while_a_stream_run_is_queued_or_starting(located):
    """A queued run holds no lock yet: without this, each new landing file queued another run."""
    instance = dg.DagsterInstance.ephemeral()
    two_hours(located["landing"])
    first = evaluate(instance=instance)
    run = instance.create_run_for_job(cs_stream_job, tags={"dagster/run_key": first.run_requests[0].run_key})
    write_landing_file(located["landing"], utc(2026, 11, 26, 11), [
        event_line("e3", "status_changed", "T1", 3, T.replace(minute=5), status="solved")])
    waiting = evaluate(first.cursor, instance)
    assert waiting.run_requests == []
    assert waiting.skip_reason.skip_message == (
        f"3 unprocessed landing file(s): run {run.run_id} of cs_stream is not_started, its query will take them")
    assert waiting.cursor == first.cursor
    instance.report_run_failed(run)  # finished (here: failed, before its query took any file)
    after = evaluate(waiting.cursor, instance)
    assert [r.tags["cs/pending_files"] for r in after.run_requests] == ["3"]


def reconcile_requests(cursor, clock: dt.datetime, monkeypatch):
    """The reconcile sensor's evaluation at `clock`: (run keys it requests, its cursor)."""
    monkeypatch.setattr(reconcile_sensors, "_now", clock.timestamp)
    with dg.build_sensor_context(cursor=cursor, resources={"settings": SettingsResource()}) as context:
        result = reconcile_sensors.reconcile_closed_hours(context)
    return [r.run_key for r in result.run_requests], result.cursor


def test_sensor_reports_runless_hours_from_the_progress_log_of_a_real_query(spark, located, monkeypatch):
    _, closed_at_eight = reconcile_requests(None, utc(2026, 11, 26, 9, 30), monkeypatch)
    two_hours(located["landing"])
    before = evaluate()
    # hours 9 and 10 have closed, but their files wait for the stream: nothing to reconcile yet
    assert reconcile_requests(closed_at_eight, utc(2026, 11, 26, 11, 25), monkeypatch) == ([], closed_at_eight)
    # a query outside Dagster (as `csp stream` would run it) writes the progress log
    start_stream(spark, located["settings"], once=True, tables=located["tables"], writer=located["writer"]())
    assert reconcile_requests(closed_at_eight, utc(2026, 11, 26, 11, 25), monkeypatch)[0] == [
        "reconcile:2026-11-26-09:00", "reconcile:2026-11-26-10:00"]
    after = evaluate(before.cursor)
    assert after.run_requests == []
    by_key = {(e.asset_key, e.partition): e.metadata for e in after.asset_events}
    assert set(by_key) == {(asset, hour) for asset in STREAMED for hour in ("2026-11-26-09:00", "2026-11-26-10:00")}
    nine = by_key[(STREAMED[0], "2026-11-26-09:00")]
    assert (nine["runless"].value, nine["lines_read"].value, nine["valid"].value, nine["quarantined"].value) == (True, 2, 1, 1)
    assert (nine["batch_ids"].value, nine["batch_new_events"].value, nine["batch_documentdb_writes"].value) == ("0", 2, 1)
    tables = located["tables"]
    snapshots = {name: current_snapshot(spark, table)[0] for name, table in (
        ("events", tables.events), ("events_quarantine", tables.events_quarantine), ("tickets", tables.tickets))}
    assert nine["snapshot_ids"].value == ", ".join(f"{name}={snapshots[name]}" for name in sorted(snapshots))

    again = evaluate(after.cursor)
    assert again.asset_events == [] and again.run_requests == []


def test_sensor_reports_hours_of_batches_whose_commit_files_spark_has_purged(spark, located):
    """Spark keeps the latest `minBatchesToRetain` commits (100): a sensor off for longer must still
    report the batches before them (here 1 is kept, so batch 0's commit file is gone)."""
    for hour in (9, 10, 11):
        write_landing_file(located["landing"], utc(2026, 11, 26, hour), [
            event_line(f"e{hour}", "ticket_created", f"T{hour}", 1, T, customer_id="c1", channel="chat")])
    before = evaluate()
    spark.conf.set("spark.sql.streaming.minBatchesToRetain", "1")
    try:
        start_stream(spark, located["settings"], once=True, tables=located["tables"], writer=located["writer"](),
                     max_files_per_trigger=1)
    finally:
        spark.conf.unset("spark.sql.streaming.minBatchesToRetain")
    commits = located["checkpoints"] / "cs_events" / "commits"
    assert sorted(p.name for p in commits.iterdir() if p.name.isdigit()) == ["1", "2"]

    after = evaluate(before.cursor)

    assert sorted({e.partition for e in after.asset_events}) == [
        "2026-11-26-09:00", "2026-11-26-10:00", "2026-11-26-11:00"]


def test_cs_stream_job_materializes_touched_hours(located):
    two_hours(located["landing"])
    instance = dg.DagsterInstance.ephemeral()
    config = {"namespace": located["tables"].namespace, "documentdb_database": located["database"],
              "landing_uri": located["settings"].landing, "checkpoint_uri": located["settings"].checkpoint}
    resources = {k: v for k, v in shared_resources().items() if k in ("settings", "pyspark", "documentdb", "emr_serverless")}
    result = cs_stream_job.execute_in_process(
        run_config={"ops": {"stream_available_now": {"config": config}}}, instance=instance, resources=resources)
    assert result.success
    materialized = {(m.asset_key, m.partition): m.metadata for m in result.asset_materializations_for_node("stream_available_now")}
    assert set(materialized) == {(a, h) for a in STREAMED for h in ("2026-11-26-09:00", "2026-11-26-10:00")}
    ten = materialized[(STREAMED[2], "2026-11-26-10:00")]
    assert (ten["lines_read"].value, ten["valid"].value, ten["quarantined"].value, ten["batch_tickets_changed"].value) == (1, 1, 0, 1)
    assert cs_stream_job.tags["cs/stream"] == "cs_events"
    # the run's own batches are not reported again by the sensor
    assert evaluate().asset_events == []


def test_a_failed_cs_stream_run_reports_the_hours_its_committed_batches_wrote(located, tmp_path, monkeypatch):
    """The retry run takes only what is left, so nothing else would report the hours committed before
    the failure: here DocumentDB goes away after batch 0 (hour 9) commits, and batch 1 (hour 10) fails."""
    import signal
    import threading
    import time

    from cs_platform.adapters.services import SecantusService, free_port

    server, port = SecantusService(tmp_path / "own_secantus"), free_port()
    pid = server.start(port)
    monkeypatch.setenv("CSP_DOCUMENTDB_URI", f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false")
    for hour, age in ((9, 120), (10, 60)):  # the file source takes the older file first
        path = write_landing_file(located["landing"], utc(2026, 11, 26, hour), [
            event_line(f"e{hour}", "ticket_created", f"T{hour}", 1, T, customer_id="c1", channel="chat")])
        os.utime(path, (time.time() - age, time.time() - age))
    first_commit = located["checkpoints"] / "cs_events" / "commits" / "0"

    def documentdb_goes_away_after_batch_0():
        deadline = time.monotonic() + 300
        while not first_commit.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=documentdb_goes_away_after_batch_0)
    killer.start()
    config = {"namespace": located["tables"].namespace, "documentdb_database": located["database"],
              "landing_uri": located["settings"].landing, "checkpoint_uri": located["settings"].checkpoint,
              "max_files_per_trigger": 1}
    resources = {k: v for k, v in shared_resources().items() if k in ("settings", "pyspark", "documentdb", "emr_serverless")}
    try:
        result = cs_stream_job.execute_in_process(run_config={"ops": {"stream_available_now": {"config": config}}},
                                                  instance=dg.DagsterInstance.ephemeral(), resources=resources,
                                                  raise_on_error=False)
    finally:
        killer.join()

    assert not result.success
    materialized = {(e.asset_key, e.partition) for e in result.all_events if e.is_step_materialization}
    assert materialized == {(asset, "2026-11-26-09:00") for asset in STREAMED}


def test_cs_stream_job_refuses_a_bad_location_in_its_config_before_streaming(located):
    """The run config's locations are checked as their CSP_* variables are, before Spark starts."""
    write_landing_file(located["landing"], T, [event_line("e1", "ticket_created", "T1", 1, T, customer_id="c1", channel="chat")])
    config = {"namespace": located["tables"].namespace, "documentdb_database": located["database"],
              "landing_uri": str(located["landing"])}  # a path, not a URI
    resources = {k: v for k, v in shared_resources().items() if k in ("settings", "pyspark", "documentdb", "emr_serverless")}
    result = cs_stream_job.execute_in_process(
        run_config={"ops": {"stream_available_now": {"config": config}}}, instance=dg.DagsterInstance.ephemeral(),
        resources=resources, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("stream_available_now").error.cause
    assert failure.message.strip() == (f"cs_platform.settings.SettingsError: invalid settings: CSP_LANDING_URI: "
                                       f"must be a file:// or s3:// URI, got '{located['landing']}'")
    assert result.asset_materializations_for_node("stream_available_now") == []
