"""The reconciliation domain's Dagster wiring, without running Spark: partitions, sensors, cursor."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile import defs as reconcile_defs
from cs_platform.defs.reconcile import sensors
from cs_platform.defs.reconcile.sensors import RepairCursor, reconcile_closed_hours
from cs_platform.defs.resources import SettingsResource
from cs_platform.lakehouse.reconciliation import HourError, format_hour, hour_of_partition_key, hours_between, parse_hour


def test_checks_are_hourly_partitioned_and_attached_to_the_streamed_assets():
    checks = {spec.key.to_user_string(): spec for ac in reconcile_defs.asset_checks for spec in ac.check_specs}
    assert {k: (s.blocking, s.partitions_def == landing_hours) for k, s in checks.items()
            if not k.endswith("freshness_check")} == {
        "lake/cs/events:reconciles_with_raw": (True, True),
        "lake/cs/tickets:tickets_match_events": (True, True),
        "documentdb/cs/tickets:documentdb_matches_lake": (False, True),
        "lake/cs/events_quarantine:quarantine_rate_below_threshold": (False, True),
    }


def test_repairs_share_the_stream_pool_so_they_never_run_beside_it():
    from cs_platform.defs.reconcile.jobs import backfill_landing_hours, reproject_landing_hours
    from cs_platform.defs.stream.jobs import POOL, stream_available_now

    assert (backfill_landing_hours.pool, reproject_landing_hours.pool, stream_available_now.pool) == (POOL, POOL, "cs_stream")


def test_closed_hours_sensor_checks_each_hour_the_stream_has_processed(tmp_path, monkeypatch):
    for var in ("CSP_LANDING_URI", "CSP_CHECKPOINT_URI", "CSP_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CSP_HOME", str(tmp_path))
    clock = [dt.datetime(2026, 11, 26, 11, 25, tzinfo=dt.timezone.utc)]
    monkeypatch.setattr(sensors, "_now", lambda: clock[0].timestamp())

    def evaluate(cursor):
        with dg.build_sensor_context(cursor=cursor, resources={"settings": SettingsResource()}) as context:
            return reconcile_closed_hours(context)

    first = evaluate(None)
    assert (first.run_requests, first.skip_reason.skip_message) == ([], "next hour to reconcile: 2026-11-26-11:00")
    waiting = tmp_path / "landing" / "2026" / "11" / "26" / "11" / "cs-events-1-2026-11-26-11-59-00-a"
    waiting.parent.mkdir(parents=True)
    waiting.write_text("{}\n")  # no checkpoint has processed it
    clock[0] = dt.datetime(2026, 11, 26, 13, 20, tzinfo=dt.timezone.utc)  # hours 11 and 12 have closed
    held = evaluate(first.cursor)
    assert (held.run_requests, held.skip_reason.skip_message) == ([], "next hour to reconcile: 2026-11-26-11:00")
    waiting.unlink()  # (as if processed)
    ready = evaluate(held.cursor)
    assert [(r.run_key, r.tags, r.job_name) for r in ready.run_requests] == [
        (f"reconcile:2026-11-26-{h}:00", {"dagster/partition": f"2026-11-26-{h}:00"}, None) for h in (11, 12)]
    assert evaluate(ready.cursor).run_requests == []


def test_repair_cursor_round_trips():
    cursor = RepairCursor(after=7, attempts={"x|2026-11-26-10:00": 2}, fresh=False)
    assert RepairCursor.parse(cursor.dump()) == cursor
    assert RepairCursor.parse(None) == RepairCursor() == RepairCursor.parse(RepairCursor().dump())
    # a cursor of execution ids (an earlier version) goes on from the end of the event log
    assert RepairCursor.parse('{"seen": {"c": 4}, "attempts": {}}') == RepairCursor(after=None, fresh=False)


def _failed(instance, check: str, asset: str, hour: str, passed: bool = False) -> None:
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey.from_user_string(asset), check_name=check, passed=passed, partition=hour,
        severity=dg.AssetCheckSeverity.WARN))


def test_repair_sensor_reads_evaluations_in_the_order_they_were_written_a_page_per_tick(tmp_path, monkeypatch):
    """Every failed evaluation is repaired once, whichever run planned it first: the cursor is the
    event log's position (an execution id is given at planning, and a check planned first may finish last)."""
    monkeypatch.setenv("CSP_HOME", str(tmp_path))
    monkeypatch.setattr(sensors, "_HISTORY_PAGE", 2)
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"settings": SettingsResource()})
        return [(r.job_name, r.partition_key) for r in sensors.reconciliation_repair(context)], context.cursor

    nothing, cursor = tick(None)  # no evaluation yet: the next tick still reads from the start
    assert nothing == [] and RepairCursor.parse(cursor) == RepairCursor()
    _failed(instance, "documentdb_matches_lake", "documentdb/cs/tickets", "2026-11-26-11:00")
    _failed(instance, "reconciles_with_raw", "lake/cs/events", "2026-11-26-10:00")
    _failed(instance, "quarantine_rate_below_threshold", "lake/cs/events_quarantine", "2026-11-26-10:00")
    first, cursor = tick(cursor)
    assert first == [("reproject", "2026-11-26-11:00"), ("backfill", "2026-11-26-10:00")]  # a page of two
    second, cursor = tick(cursor)
    assert second == []  # the quarantine rate has no repair; the page ended
    _failed(instance, "tickets_match_events", "lake/cs/tickets", "2026-11-26-08:00", passed=True)
    _failed(instance, "reconciles_with_raw", "lake/cs/events", "2026-11-26-09:00")
    third, cursor = tick(cursor)
    assert third == [("backfill", "2026-11-26-09:00")]
    assert RepairCursor.parse(cursor).attempts == {
        "documentdb/cs/tickets:documentdb_matches_lake|2026-11-26-11:00": 1,
        "lake/cs/events:reconciles_with_raw|2026-11-26-10:00": 1,
        "lake/cs/events:reconciles_with_raw|2026-11-26-09:00": 1}
    assert tick(cursor)[0] == []
    # a cursor of an earlier version: history is not replayed, what comes next is read
    old = '{"seen": {"lake/cs/events:reconciles_with_raw": 3}, "attempts": {}}'
    assert tick(old)[0] == []
    _failed(instance, "tickets_match_events", "lake/cs/tickets", "2026-11-26-12:00")
    later, _ = tick(json.dumps({"after": RepairCursor.parse(cursor).after, "attempts": {}}))
    assert later == [("backfill", "2026-11-26-12:00")]


def test_hours_parse_format_and_ranges():
    hour = parse_hour("2026-11-26T10")
    assert hour == dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)
    assert format_hour(hour) == "2026-11-26T10"
    assert hour_of_partition_key("2026-11-26-10:00") == hour
    assert [format_hour(h) for h in hours_between(hour, parse_hour("2026-11-26T12"))] == [
        "2026-11-26T10", "2026-11-26T11", "2026-11-26T12"]
    for bad in ("2026-11-26 10", "2026-11-26T25", "yesterday"):
        with pytest.raises(HourError) as err:
            parse_hour(bad)
        assert str(err.value) == f"invalid hour {bad!r}: expected YYYY-MM-DDTHH in UTC, e.g. 2026-11-26T10"
    with pytest.raises(HourError, match=r"^--to 2026-11-26T09 is before --from 2026-11-26T10$"):
        hours_between(hour, parse_hour("2026-11-26T09"))
