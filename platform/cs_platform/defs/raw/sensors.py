"""The landing sensor: lists the landing zone (no Spark, no JVM) and reports each arrival hour
that received new objects as a runless materialization of `raw/cs_events` for that partition.

Materializations (not observations) so that the partition bar shows which hours hold data and
freshness follows arrivals. Metadata describes the objects new since the previous tick; the
cursor (see `LandingCursor`) makes sure no object is reported twice.
"""

from __future__ import annotations

import time

import dagster as dg

from cs_platform.adapters.landing import LandingZone
from cs_platform.defs.partitions import landing_hours, partition_key_of
from cs_platform.defs.raw.assets import RAW_CS_EVENTS
from cs_platform.defs.resources import SettingsResource
from cs_platform.logic.firehose import HourReport, LandingCursor, report_new_files


def hour_materialization(report: HourReport, landing_uri: str) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=RAW_CS_EVENTS,
        partition=partition_key_of(report.hour),
        description=f"{report.file_count} new object(s) in arrival hour {report.hour:%Y-%m-%dT%H} UTC",
        metadata={
            "file_count": report.file_count,
            "bytes": report.bytes,
            "newest_file_time": dg.MetadataValue.timestamp(report.newest_file_time),
            "gzip_files": report.gzip_files,
            "landing_uri": landing_uri,
            "sample_keys": dg.MetadataValue.json(report.sample_keys),
        },
    )


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=30,
    description="Reports new Firehose objects per arrival hour as runless materializations of raw/cs_events.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: dg.SensorEvaluationContext, settings: SettingsResource) -> dg.SensorResult:
    landing = LandingZone.from_settings(settings.get())
    cursor = LandingCursor.parse(context.cursor)
    files = landing.list_files(since_mtime=cursor.list_since(time.time()))
    reports, unplaced, next_cursor = report_new_files(files, cursor)
    first = landing_hours.start
    events = [hour_materialization(r, landing.uri) for hour, r in reports.items() if hour >= first]
    outside = [r for hour, r in reports.items() if hour < first]
    if outside or unplaced:
        context.log.warning(
            f"not reported: {len(unplaced)} new object(s) outside the YYYY/MM/DD/HH/ layout (the stream "
            f"quarantines their lines; e.g. {[f.key for f in unplaced[:3]]}) and "
            f"{sum(r.file_count for r in outside)} landed before {first:%Y-%m-%d} (CSP_LANDING_HOURS_START)")
    if not events:
        return dg.SensorResult(skip_reason=f"no new objects in {landing.uri}", cursor=next_cursor.serialize())
    context.log.info(f"{sum(r.file_count for r in reports.values())} new object(s) in {len(events)} hour(s)")
    return dg.SensorResult(asset_events=events, cursor=next_cursor.serialize())
