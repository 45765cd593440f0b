"""`raw/cs_events`: the Firehose archive, produced outside Dagster (Kinesis Data Firehose, or
`csp generate` locally). Partitioned by arrival hour; the landing sensor reports what lands."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from cs_platform.defs.partitions import landing_hours

RAW_CS_EVENTS = dg.AssetKey(["raw", "cs_events"])

raw_cs_events = dg.AssetSpec(
    key=RAW_CS_EVENTS,
    description=(
        "Raw cs-event v1 lines archived by Kinesis Data Firehose: newline-delimited JSON objects "
        "(some gzip) under YYYY/MM/DD/HH/ arrival-hour prefixes of the landing zone (CSP_LANDING_URI). "
        "Each partition is one arrival hour, reported by the `landing_sensor` as files land."
    ),
    group_name="raw",
    partitions_def=landing_hours,
    kinds={"s3", "json"},
    metadata={"contract": "DESIGN 3.1 cs-event v1", "layout": "YYYY/MM/DD/HH/<stream>-<version>-<time>-<uuid>[.gz]"},
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=2),
                                                    warn_window=dt.timedelta(hours=1)),
)
