"""The reconciliation domain's Dagster wiring, without running Spark: partitions, sensors, cursor."""

from __future__ import annotations

import datetime as dt

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
    cursor = RepairCursor(seen={"lake/cs/events:reconciles_with_raw": 7}, attempts={"x|2026-11-26-10:00": 2})
    assert RepairCursor.parse(cursor.dump()) == cursor
    assert RepairCursor.parse(None) == RepairCursor()


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
