"""Validation splits a simulated landing zone exactly as the simulator's manifest says."""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import functions as F

from cs_platform.adapters.landing import LandingZone, read_raw_lines
from cs_platform.logic.events import validate_lines
from cs_platform.logic.simulator import MALFORMED_REASONS, SimulationConfig, simulate

KEY = re.compile(r"\d{4}/\d{2}/\d{2}/\d{2}/[^/]+$")


def test_validation_splits_generated_data_exactly_as_the_manifest_says(spark, tmp_path):
    sim = simulate(SimulationConfig(events=600, hours=2, start=dt.datetime(2026, 11, 26, 22, tzinfo=dt.timezone.utc),
                                    seed=5, gzip_share=0.5, redelivery_rate=0.1, late_rate=0.1,
                                    malformed_rate=0.05))
    landing = LandingZone((tmp_path / "landing").as_uri())
    for obj in sim.objects():
        landing.write_object(obj.key, obj.data)
    manifest = sim.manifest()

    lines = read_raw_lines(spark, landing.list_files()).cache()
    valid, quarantined = validate_lines(lines)
    got_quarantine = sorted((KEY.search(r.source_file).group(0), r.line_number, r.reason)
                            for r in quarantined.collect())
    expected_quarantine = sorted((m["key"], m["line_number"], m["reason"]) for m in manifest["malformed"])
    assert got_quarantine == expected_quarantine
    assert len(expected_quarantine) == manifest["malformed_lines"] == round(0.05 * manifest["valid_lines"])
    assert {reason for _, _, reason in got_quarantine} == set(MALFORMED_REASONS)

    assert valid.count() == manifest["valid_lines"] == 600 + manifest["redelivered"]
    distinct = (valid.drop("source_file", "line_number", "landing_hour").distinct()
                .withColumn("occurred_at", F.date_format("occurred_at", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")))
    got_events = sorted((r.asDict() for r in distinct.collect()), key=lambda e: e["event_id"])
    assert got_events == sorted(manifest["events"], key=lambda e: e["event_id"])

    per_hour = {r.hour: r.n for r in lines.groupBy(F.date_format("landing_hour", "yyyy-MM-dd'T'HH").alias("hour"))
                .agg(F.count("*").alias("n")).collect()}
    assert per_hour == {hour: counts["lines"] for hour, counts in manifest["hours"].items()}
    lines.unpersist()
