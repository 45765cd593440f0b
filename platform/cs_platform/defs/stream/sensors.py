"""The Structured Streaming sensor (never starts a JVM: it reads files only).

- Landing files that no committed batch has processed, and no query holding the checkpoint:
  request one availableNow `cs_stream` run (run key = digest of the pending files, so the same
  backlog is requested once). When that run failed, the backlog is requested again after 2, 4,
  8 ... minutes (at most hourly), under the run key `<digest>:retry-<n>`. Nothing is requested
  while a `cs_stream` run has not finished (queued behind the pool, or starting Spark before it
  takes the lock): its query takes the files.
- Batches committed by a query outside Dagster (a continuous `csp stream`, or `--once` from the
  CLI), read from the progress log and checked against the checkpoint's commits: runless
  materializations of the streamed assets per committed landing hour.
"""

import time

import dagster as dg

from cs_platform.defs.partitions import partition_key_of
from cs_platform.defs.resources import SettingsResource
from cs_platform.defs.stream.assets import STREAMED
from cs_platform.defs.stream.jobs import cs_stream_job
from cs_platform.streaming.follow import FollowCursor, observe, retry_after_failure
from cs_platform.streaming.lock import holder_text
from cs_platform.streaming.metadata import parse_hour
from cs_platform.streaming.query import DEFAULT_QUERY


@dg.sensor(job=cs_stream_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Follows the streaming query: launches availableNow runs for new landing files; reports "
                       "hours committed by a query running outside Dagster.")
def cs_stream_sensor(context: dg.SensorEvaluationContext, settings: SettingsResource) -> dg.SensorResult:
    waiting = _unfinished_run(context.instance)
    obs = observe(settings.get(), DEFAULT_QUERY, FollowCursor.parse(context.cursor), may_request=waiting is None)
    events = [
        dg.AssetMaterialization(asset_key=asset, partition=partition_key_of(parse_hour(hour)),
                                metadata={"runless": True, **metadata})
        for hour, metadata in obs.runless.items() for asset in STREAMED
    ]
    wait = None if waiting else retry_after_failure(obs, _failed_at(context.instance, obs.cursor.last_run_key), _now())
    requests = [dg.RunRequest(run_key=obs.run_key, tags={"cs/pending_files": str(obs.pending_files)})] if obs.run_key else []
    skip = None
    if not requests and not events:
        if obs.running is not None:
            skip = dg.SkipReason(f"{holder_text(obs.running)} holds the checkpoint")
        elif waiting is not None:
            skip = dg.SkipReason(f"{obs.pending_files} unprocessed landing file(s): run {waiting.run_id} of "
                                 f"{cs_stream_job.name} is {waiting.status.value.lower()}, its query will take them")
        elif wait is not None:
            skip = dg.SkipReason(f"{obs.pending_files} unprocessed landing file(s): their run failed, "
                                 f"requested again in {wait:.0f} s")
        elif obs.pending_files:
            skip = dg.SkipReason(f"{obs.pending_files} unprocessed landing file(s), already requested")
        else:
            skip = dg.SkipReason("no unprocessed landing files")
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=obs.cursor.dump(), skip_reason=skip)


_now = time.time  # the clock the retry delays are measured on
_NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                 dg.DagsterRunStatus.STARTED]


def _unfinished_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A `cs_stream` run that has not finished: until its query takes the lock (queued behind the
    pool, or starting Spark) only the instance knows about it, and another request would queue behind it."""
    records = instance.get_run_records(dg.RunsFilter(job_name=cs_stream_job.name, statuses=_NOT_FINISHED), limit=1)
    return records[0].dagster_run if records else None
_GAVE_UP = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _failed_at(instance: dg.DagsterInstance, run_key: str | None) -> float | None:
    """When the latest run requested with `run_key` failed or was canceled (None if it did not)."""
    if run_key is None:
        return None
    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    if not records or records[0].dagster_run.status not in _GAVE_UP:
        return None
    return records[0].end_time or records[0].update_timestamp.timestamp()
