"""The landing sensor on a real landing directory, evaluated with dg.build_sensor_context."""

from __future__ import annotations

import datetime as dt
import os
import time

import dagster as dg
import pytest

from cs_platform.adapters.landing import LandingZone
from cs_platform.defs.raw import defs as raw_defs
from cs_platform.defs.raw.assets import RAW_CS_EVENTS
from cs_platform.defs.raw.sensors import landing_sensor
from cs_platform.defs.resources import SettingsResource
from cs_platform.logic.firehose import LandingCursor

UTC = dt.timezone.utc


@pytest.fixture
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    uri = (tmp_path / "landing").as_uri()
    monkeypatch.setenv("CSP_LANDING_URI", uri)
    return LandingZone(uri)


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"settings": SettingsResource()})
    return landing_sensor(context)


def put(landing: LandingZone, key: str, data: bytes, mtime: float) -> None:
    landing.write_object(key, data)
    os.utime(os.path.join(landing.root, key), (mtime, mtime))


def reported(result) -> dict:
    out = {}
    for event in result.asset_events:
        assert isinstance(event, dg.AssetMaterialization)
        assert event.asset_key == RAW_CS_EVENTS
        meta = event.metadata
        out[event.partition] = (meta["file_count"].value, meta["bytes"].value, meta["newest_file_time"].value)
    return out


def test_reports_each_hour_once_and_advances_the_cursor(landing, instance):
    now = time.time()
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a", b"x" * 10, now - 50)
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-05-00-b.gz", b"y" * 20, now - 40)
    put(landing, "2026/11/26/11/cs-events-1-2026-11-26-11-00-00-c", b"z" * 5, now - 30)

    first = tick(instance, None)
    replayed = tick(instance, None)
    assert reported(first) == {
        "2026-11-26-10:00": (2, 30, pytest.approx(now - 40)),
        "2026-11-26-11:00": (1, 5, pytest.approx(now - 30)),
    }
    assert reported(replayed) == reported(first)  # same cursor, same answer: a retried tick is harmless

    again = tick(instance, first.cursor)
    assert again.asset_events == []
    assert again.skip_reason.skip_message == f"no new objects in {landing.uri}"
    assert again.cursor == first.cursor

    put(landing, "2026/11/26/11/cs-events-1-2026-11-26-11-10-00-d", b"w" * 7, now - 5)
    put(landing, "2026/11/26/12/cs-events-1-2026-11-26-12-00-00-e.gz", b"v" * 3, now - 4)
    third = tick(instance, again.cursor)
    assert reported(third) == {"2026-11-26-11:00": (1, 7, pytest.approx(now - 5)),
                               "2026-11-26-12:00": (1, 3, pytest.approx(now - 4))}
    assert json_watermark(third.cursor) == pytest.approx(now - 4)
    assert tick(instance, third.cursor).asset_events == []


def test_an_object_appearing_late_with_an_older_mtime_is_reported_once(landing, instance):
    now = time.time()
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a", b"a", now - 10)
    first = tick(instance, None)
    # a slow upload becomes visible after the tick, with an mtime before the watermark
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-slow", b"bb", now - 120)
    second = tick(instance, first.cursor)
    assert reported(second) == {"2026-11-26-10:00": (1, 2, pytest.approx(now - 120))}
    assert tick(instance, second.cursor).asset_events == []


def test_objects_outside_the_layout_are_not_reported(landing, instance):
    now = time.time()
    put(landing, "stray/file.json", b"{}", now - 10)
    put(landing, "2025/06/01/00/cs-events-1-2025-06-01-00-00-00-old", b"{}", now - 10)
    result = tick(instance, None)
    assert (result.asset_events, result.skip_reason.skip_message) == ([], f"no new objects in {landing.uri}")
    again = tick(instance, result.cursor)
    assert (again.asset_events, again.skip_reason.skip_message, again.cursor) == (
        [], f"no new objects in {landing.uri}", result.cursor)


def test_the_first_tick_looks_back_a_day_not_over_the_whole_archive(landing, instance):
    now = time.time()
    put(landing, "2026/11/20/10/cs-events-1-2026-11-20-10-00-00-old", b"a", now - 2 * 86400)
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-new", b"bb", now - 86400 + 60)

    first = tick(instance, None)

    assert reported(first) == {"2026-11-26-10:00": (1, 2, pytest.approx(now - 86400 + 60))}
    assert tick(instance, first.cursor).asset_events == []


def test_materializations_land_in_the_instance_as_partitions(landing, instance):
    now = time.time()
    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a", b"abc", now - 10)
    defs = dg.Definitions.merge(raw_defs, dg.Definitions(resources={"settings": SettingsResource()}))
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"settings": SettingsResource()})
    result = landing_sensor(context)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    assert instance.get_materialized_partitions(RAW_CS_EVENTS) == {"2026-11-26-10:00"}


def test_cursor_survives_serialization():
    cursor = LandingCursor(watermark=1000.5, recent={1000: {LandingCursor.digest("k1"), LandingCursor.digest("k2")}})
    parsed = LandingCursor.parse(cursor.serialize())
    assert parsed.watermark == 1000.5 and parsed.recent == cursor.recent
    assert parsed.seen("k1") and not parsed.seen("k3")
    assert parsed.list_since(now=5000.0) == 1000.5 - 600


def json_watermark(cursor: str) -> float:
    return LandingCursor.parse(cursor).watermark


def test_a_tick_starts_no_jvm(landing, tmp_path):
    import subprocess
    import sys

    put(landing, "2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a", b"abc", time.time() - 10)
    code = (
        "import dagster as dg, pyspark\n"
        "from cs_platform.defs.raw.sensors import landing_sensor\n"
        "from cs_platform.defs.resources import SettingsResource\n"
        "ctx = dg.build_sensor_context(resources={'settings': SettingsResource()})\n"
        "result = landing_sensor(ctx)\n"
        "print(len(result.asset_events), pyspark.SparkContext._gateway is None, pyspark.SparkContext._jvm is None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=120, check=True)
    assert out.stdout.split() == ["1", "True", "True"]
