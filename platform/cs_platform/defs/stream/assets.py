"""The streamed assets: produced by the `cs_stream` job (availableNow runs) or, when a query runs
continuously, reported by the Structured Streaming sensor. Hourly partitions by landing hour."""

import datetime as dt

import dagster as dg

from cs_platform.defs.partitions import landing_hours

RAW_CS_EVENTS = dg.AssetKey(["raw", "cs_events"])
EVENTS = dg.AssetKey(["lake", "cs", "events"])
TICKETS = dg.AssetKey(["lake", "cs", "tickets"])
QUARANTINE = dg.AssetKey(["lake", "cs", "events_quarantine"])
DOCUMENTS = dg.AssetKey(["documentdb", "cs", "tickets"])
STREAMED = (EVENTS, QUARANTINE, TICKETS, DOCUMENTS)

_GROUP = "cs_stream"
# The stream commits at least every few minutes while files land; an hour without a commit warns.
_FRESH = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=2), warn_window=dt.timedelta(hours=1))

streamed_assets = [
    dg.AssetSpec(EVENTS, deps=[RAW_CS_EVENTS], partitions_def=landing_hours, group_name=_GROUP,
                 freshness_policy=_FRESH, kinds={"iceberg", "spark"},
                 description="One row per distinct valid cs-event (first committed delivery wins); "
                             "partitioned by days(landing_hour). DESIGN 3.2."),
    dg.AssetSpec(QUARANTINE, deps=[RAW_CS_EVENTS], partitions_def=landing_hours, group_name=_GROUP,
                 freshness_policy=_FRESH,
                 kinds={"iceberg", "spark"},
                 description="Every invalid line once, keyed by (source_file, line_number), with its reason."),
    dg.AssetSpec(TICKETS, deps=[EVENTS], partitions_def=landing_hours, group_name=_GROUP,
                 freshness_policy=_FRESH, kinds={"iceberg", "spark"},
                 description="Current state per ticket, refolded from the set of its events (order-independent)."),
    dg.AssetSpec(DOCUMENTS, deps=[TICKETS], partitions_def=landing_hours, group_name=_GROUP,
                 freshness_policy=_FRESH, kinds={"mongodb"},
                 description="OLTP projection of touched tickets: unordered bulk upserts guarded by event_count, "
                             "zero reads. DESIGN 3.3."),
]
