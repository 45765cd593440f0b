"""The Structured Streaming sensor (never starts a JVM: it reads files only).

- Landing files that no committed batch has processed, and no query holding the checkpoint:
  request one availableNow `cs_stream` run (run key = digest of the pending files, so the same
  backlog is requested once).
- Batches committed by a query outside Dagster (a continuous `csp stream`, or `--once` from the
  CLI), read from the progress log and checked against the checkpoint's commits: runless
  materializations of the streamed assets per committed landing hour.
"""

import dagster as dg

from cs_platform.defs.partitions import partition_key_of
from cs_platform.defs.resources import SettingsResource
from cs_platform.defs.stream.assets import STREAMED
from cs_platform.defs.stream.jobs import cs_stream_job
from cs_platform.streaming.follow import FollowCursor, observe
from cs_platform.streaming.lock import holder_label
from cs_platform.streaming.metadata import parse_hour
from cs_platform.streaming.query import DEFAULT_QUERY


@dg.sensor(job=cs_stream_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Follows the streaming query: launches availableNow runs for new landing files; reports "
                       "hours committed by a query running outside Dagster.")
def cs_stream_sensor(context: dg.SensorEvaluationContext, settings: SettingsResource) -> dg.SensorResult:
    obs = observe(settings.get(), DEFAULT_QUERY, FollowCursor.parse(context.cursor))
    events = [
        dg.AssetMaterialization(asset_key=asset, partition=partition_key_of(parse_hour(hour)),
                                metadata={"runless": True, **metadata})
        for hour, metadata in obs.runless.items() for asset in STREAMED
    ]
    requests = [dg.RunRequest(run_key=obs.run_key, tags={"cs/pending_files": str(obs.pending_files)})] if obs.run_key else []
    skip = None
    if not requests and not events:
        if obs.running is not None:
            skip = dg.SkipReason(f"{holder_label(obs.running.get('mode'))} holds the checkpoint")
        elif obs.pending_files:
            skip = dg.SkipReason(f"{obs.pending_files} unprocessed landing file(s), already requested")
        else:
            skip = dg.SkipReason("no unprocessed landing files")
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=obs.cursor.dump(), skip_reason=skip)
