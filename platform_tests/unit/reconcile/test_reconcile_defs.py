"""The reconciliation domain's Dagster wiring, without running Spark: partitions, schedule, cursor."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile import defs as reconcile_defs
from cs_platform.defs.reconcile.jobs import reconcile_closed_hours
from cs_platform.defs.reconcile.sensors import RepairCursor
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


def test_schedule_checks_the_hour_that_closed():
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 26, 11, 20, tzinfo=dt.timezone.utc))
    request = reconcile_closed_hours(context)
    assert (request.run_key, request.tags) == ("reconcile:2026-11-26-10:00", {"dagster/partition": "2026-11-26-10:00"})


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
