"""The reconciliation domain's Dagster wiring, without running Spark: partitions, sensors, cursor."""

from __future__ import annotations

import datetime as dt
import time

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
    cursor = RepairCursor(watermark=7.5, recent={"c|3": 7.5}, attempts={"x|2026-11-26-10:00": 2})
    assert RepairCursor.parse(cursor.dump()) == cursor
    assert RepairCursor.parse(None) == RepairCursor() == RepairCursor.parse(RepairCursor().dump())
    # a cursor of execution ids (an earlier version) goes on from what has finished, with its attempts
    assert RepairCursor.parse('{"seen": {"c": 4}, "attempts": {"x": 1}}') == RepairCursor(attempts={"x": 1}, adopt=True)


def _store(instance, run_id: str, data) -> None:
    from dagster._core.events import DagsterEvent
    from dagster._core.events.log import EventLogEntry

    kind = (dg.DagsterEventType.ASSET_CHECK_EVALUATION if isinstance(data, dg.AssetCheckEvaluation)
            else dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
    instance.event_log_storage.store_event(EventLogEntry(
        error_info=None, level="INFO", user_message="", run_id=run_id, timestamp=time.time(),
        dagster_event=DagsterEvent(event_type_value=kind.value, job_name="reconcile", event_specific_data=data)))


def _planned(instance, run_id: str, check: str, asset: str, hour: str) -> None:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned

    subset = landing_hours.subset_with_partition_keys([hour]).to_serializable_subset()
    _store(instance, run_id, AssetCheckEvaluationPlanned(asset_key=dg.AssetKey.from_user_string(asset),
                                                         check_name=check, partitions_subset=subset))


def _evaluated(instance, run_id: str, check: str, asset: str, hour: str, passed: bool = False) -> None:
    _store(instance, run_id, dg.AssetCheckEvaluation(asset_key=dg.AssetKey.from_user_string(asset), check_name=check,
                                                     passed=passed, partition=hour, severity=dg.AssetCheckSeverity.WARN))


def test_repair_sensor_takes_evaluations_in_the_order_they_finished(tmp_path, monkeypatch):
    """A check planned first but finishing last is repaired too: an execution's id is given when its
    run is planned, so a cursor of ids left it behind. On Dagster's default local storage."""
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    with dg.instance_for_test() as instance:  # sqlite, one event log per run: the default local storage
        def tick(cursor):
            context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                              resources={"settings": SettingsResource()})
            return [(r.job_name, r.partition_key) for r in sensors.reconciliation_repair(context)], context.cursor

        raw = ("reconciles_with_raw", "lake/cs/events")
        nothing, cursor = tick(None)
        assert nothing == []
        _planned(instance, "run-10", *raw, "2026-11-26-10:00")  # planned first ...
        _planned(instance, "run-11", *raw, "2026-11-26-11:00")
        _evaluated(instance, "run-11", *raw, "2026-11-26-11:00")
        first, cursor = tick(cursor)
        assert first == [("backfill", "2026-11-26-11:00")]
        _evaluated(instance, "run-10", *raw, "2026-11-26-10:00")  # ... finished last
        _evaluated(instance, "run-12", "documentdb_matches_lake", "documentdb/cs/tickets", "2026-11-26-12:00")
        _evaluated(instance, "run-12", "tickets_match_events", "lake/cs/tickets", "2026-11-26-12:00", passed=True)
        second, cursor = tick(cursor)
        assert second == [("backfill", "2026-11-26-10:00"), ("reproject", "2026-11-26-12:00")]
        assert RepairCursor.parse(cursor).attempts == {
            "lake/cs/events:reconciles_with_raw|2026-11-26-11:00": 1,
            "lake/cs/events:reconciles_with_raw|2026-11-26-10:00": 1,
            "documentdb/cs/tickets:documentdb_matches_lake|2026-11-26-12:00": 1}
        assert tick(cursor)[0] == []
        # a cursor of an earlier version: history is not replayed, what finishes next is taken
        legacy = '{"seen": {"lake/cs/events:reconciles_with_raw": 3}, "attempts": {}}'
        none, cursor = tick(legacy)
        assert none == []
        _evaluated(instance, "run-13", *raw, "2026-11-26-13:00")
        assert tick(cursor)[0] == [("backfill", "2026-11-26-13:00")]


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
