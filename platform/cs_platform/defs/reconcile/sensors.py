"""The reconciliation sensors.

`reconcile_closed_hours` follows the stream: once a landing hour has closed and the stream has
processed its files, it launches that hour's `reconcile` run (every consistency check of the hour),
hour after hour, none skipped (rules: ``cs_platform.streaming.closing``; it reads the landing zone and
the checkpoint, no JVM).

`reconciliation_repair`: a failed consistency check of hour H launches the repair of exactly H.
`reconciliation_run_failures`: a reconcile or repair run that fails alerts (one that fails before
reporting a check result, e.g. DocumentDB down, leaves no result for the repair sensor to act on).

It reads the checks' executions from Dagster's event log, in the order they finished (no JVM, no
store access), keeps
per-(check, hour) attempt counts in its cursor, and after MAX_REPAIR_ATTEMPTS failed repairs
stops launching: the check stays failed and an alert says so. Every failed ERROR check alerts
through the notifier (log, plus CSP_ALERT_WEBHOOK_URL when set).
"""


import datetime as dt
import json
import time
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from cs_platform.adapters.notifier import Alert, NotifierError, notifier_from_settings
from cs_platform.defs.reconcile.assets import DOCUMENTS, EVENTS, TICKETS
from cs_platform.defs.reconcile.checks import DOCUMENTDB_MATCHES_LAKE, RECONCILES_WITH_RAW, TICKETS_MATCH_EVENTS
from cs_platform.defs.partitions import partition_key_of
from cs_platform.defs.reconcile.jobs import REPAIR_TAG, backfill_job, reconcile_job, reproject_job
from cs_platform.defs.resources import SettingsResource
from cs_platform.streaming.closing import closed_hours
from cs_platform.streaming.query import DEFAULT_QUERY

MAX_REPAIR_ATTEMPTS = 2
_HISTORY_PAGE = 500  # latest executions read per check and tick
RECENT_SECONDS = 3600.0
_COMPLETED = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}

# check key -> the job that repairs its hour
REPAIRS: dict[dg.AssetCheckKey, str] = {
    dg.AssetCheckKey(EVENTS, RECONCILES_WITH_RAW): backfill_job.name,
    dg.AssetCheckKey(TICKETS, TICKETS_MATCH_EVENTS): backfill_job.name,
    dg.AssetCheckKey(DOCUMENTS, DOCUMENTDB_MATCHES_LAKE): reproject_job.name,
}


@dataclass
class RepairCursor:
    """What the repair sensor has acted on, and repair attempts per `check|partition`.

    Evaluations are taken in the order they finished (their evaluation time), not by execution id:
    an execution's id is given when its run is planned, so a check planned first but finishing last
    would fall behind a cursor of ids and never be repaired. ``watermark`` is the latest evaluation
    time seen; ``recent`` the executions acted on within ``RECENT_SECONDS`` of it (an evaluation
    written a little after a later-stamped one is still taken, once)."""

    watermark: float | None = None
    recent: dict[str, float] = field(default_factory=dict)  # "check|execution id" -> evaluation time
    attempts: dict[str, int] = field(default_factory=dict)
    adopt: bool = False  # take what has finished so far as seen, and act on none of it

    @classmethod
    def parse(cls, cursor: str | None) -> "RepairCursor":
        if not cursor:
            return cls()
        data = json.loads(cursor)
        if "watermark" not in data:  # a cursor of execution ids (before 2026-11-28): go on from here
            return cls(attempts=dict(data.get("attempts", {})), adopt=True)
        return cls(data["watermark"], dict(data.get("recent", {})), dict(data.get("attempts", {})))

    def dump(self) -> str:
        return json.dumps({"watermark": self.watermark, "recent": self.recent, "attempts": self.attempts},
                          sort_keys=True)

    def is_new(self, key: str, evaluated_at: float) -> bool:
        if key in self.recent:
            return False
        return self.watermark is None or evaluated_at >= self.watermark - RECENT_SECONDS

    def took(self, key: str, evaluated_at: float) -> None:
        self.recent[key] = evaluated_at
        self.watermark = max(self.watermark or evaluated_at, evaluated_at)
        self.recent = {k: t for k, t in self.recent.items() if t >= self.watermark - RECENT_SECONDS}


_now = time.time  # the clock hours close on


@dg.sensor(name="reconcile_closed_hours", job=reconcile_job, minimum_interval_seconds=120,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs the consistency checks of each landing hour once it has closed (20 min after its end: "
                       "Firehose buffers up to 15 min) and the stream has processed its files.")
def reconcile_closed_hours(context: dg.SensorEvaluationContext, settings: SettingsResource) -> dg.SensorResult:
    watermark = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    now = dt.datetime.fromtimestamp(_now(), dt.timezone.utc)
    ready, watermark = closed_hours(settings.get(), DEFAULT_QUERY, watermark, now)
    keys = [partition_key_of(hour) for hour in ready]
    # a checks-only job carries its hour as the partition tag
    requests = [dg.RunRequest(run_key=f"reconcile:{key}", tags={"dagster/partition": key}) for key in keys]
    upcoming = partition_key_of(watermark + dt.timedelta(hours=1))
    skip = None if requests else dg.SkipReason(f"next hour to reconcile: {upcoming}")
    return dg.SensorResult(run_requests=requests, cursor=watermark.isoformat(), skip_reason=skip)


def _metadata_value(value):
    return getattr(value, "value", value)


def _run_config(evaluation, job_name: str) -> dict:
    """Replay the checked location (namespace, database, landing) recorded in the check metadata."""
    metadata = {k: _metadata_value(v) for k, v in (evaluation.metadata or {}).items()}
    config = {k.removeprefix("config_"): v for k, v in metadata.items() if k.startswith("config_")}
    op = "backfill_landing_hours" if job_name == backfill_job.name else "reproject_landing_hours"
    return {"ops": {op: {"config": config}}} if config else {}


def _notify(notifier, alert: Alert) -> None:
    try:
        notifier.notify(alert)
    except NotifierError:
        pass  # logged by the notifier; an unreachable webhook must not stop the sensor


def _alert(check_key, partition: str, evaluation, title: str) -> Alert:
    metadata = {k: _metadata_value(v) for k, v in (evaluation.metadata or {}).items()}
    details = {k: v for k, v in metadata.items() if not k.startswith("config_")}
    return Alert(title=title, severity=evaluation.severity.value, check=check_key.name,
                 asset=check_key.asset_key.to_user_string(), partition=partition, details=details)


@dg.sensor(name="reconciliation_repair", jobs=[backfill_job, reproject_job], minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Backfills (or reprojects) exactly the hour whose consistency check failed; bounded retries, then alerts.")
def reconciliation_repair(context: dg.SensorEvaluationContext, settings: SettingsResource):
    cursor = RepairCursor.parse(context.cursor)
    notifier = notifier_from_settings(settings.get(), logger=context.log)
    storage = context.instance.event_log_storage
    completed = []
    for check_key, job_name in REPAIRS.items():
        for record in storage.get_asset_check_execution_history(check_key, limit=_HISTORY_PAGE, status=_COMPLETED):
            evaluation = record.evaluation
            if evaluation is not None and record.partition is not None:
                completed.append((record.event.timestamp, record.id, check_key, job_name, evaluation, record.partition))
    requests: list[dg.RunRequest] = []
    launched: set[tuple[str, str]] = set()
    for evaluated_at, execution_id, check_key, job_name, evaluation, partition in sorted(completed, key=lambda c: c[:2]):
        seen_key = f"{check_key.to_user_string()}|{execution_id}"
        if not cursor.is_new(seen_key, evaluated_at):
            continue
        cursor.took(seen_key, evaluated_at)
        if cursor.adopt:
            continue
        slot = f"{check_key.to_user_string()}|{partition}"
        if evaluation.passed:
            cursor.attempts.pop(slot, None)
            continue
        attempt = cursor.attempts.get(slot, 0) + 1
        alerts = []
        if attempt <= MAX_REPAIR_ATTEMPTS:
            cursor.attempts[slot] = attempt
            if (job_name, partition) not in launched:  # one repair run covers all its checks
                launched.add((job_name, partition))
                requests.append(dg.RunRequest(
                    run_key=f"repair:{slot}:{execution_id}", job_name=job_name, partition_key=partition,
                    run_config=_run_config(evaluation, job_name),
                    tags={REPAIR_TAG: "true", "cs_platform/repair_of": check_key.name,
                          "cs_platform/repair_attempt": f"{attempt}/{MAX_REPAIR_ATTEMPTS}"},
                ))
            if evaluation.severity is dg.AssetCheckSeverity.ERROR:
                alerts.append(_alert(check_key, partition, evaluation,
                                     f"{check_key.name} failed for {partition}: "
                                     f"{job_name} launched (attempt {attempt}/{MAX_REPAIR_ATTEMPTS})"))
        else:
            alerts.append(_alert(check_key, partition, evaluation,
                                 f"{check_key.name} still failing for {partition} after "
                                 f"{MAX_REPAIR_ATTEMPTS} repairs: giving up, manual action needed"))
        for alert in alerts:
            _notify(notifier, alert)
    cursor.adopt = False
    context.update_cursor(cursor.dump())
    return requests


def _error_text(error) -> str:
    """The error's first line without its `module.Class: ` prefix."""
    text = error.message.strip().splitlines()[0]
    head, sep, rest = text.partition(f"{error.cls_name}: ")
    return rest if sep and " " not in head.strip() else text


# the asset an alert about a failed run of each job names
_RUN_ASSETS = {reconcile_job.name: EVENTS, backfill_job.name: EVENTS, reproject_job.name: DOCUMENTS}


@dg.run_failure_sensor(name="reconciliation_run_failures", monitored_jobs=[reconcile_job, backfill_job, reproject_job],
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Alerts when a reconcile, backfill or reproject run fails: a run that fails "
                                   "before it reports a check result is not seen by reconciliation_repair.")
def reconciliation_run_failures(context: dg.RunFailureSensorContext, settings: SettingsResource) -> None:
    run = context.dagster_run
    failures = context.get_step_failure_events()
    error = failures[0].event_specific_data.error if failures and failures[0].event_specific_data else None
    reason = _error_text(error) if error and error.message else context.failure_event.message
    partition = run.tags.get("dagster/partition")
    alert = Alert(title=f"{run.job_name} run {run.run_id} failed" + (f" for {partition}" if partition else "")
                  + f": {reason}", severity=dg.AssetCheckSeverity.ERROR.value,
                  check=run.tags.get("cs_platform/repair_of", run.job_name),
                  asset=_RUN_ASSETS[run.job_name].to_user_string(), partition=partition,
                  details={"run_id": run.run_id, "attempt": run.tags.get("cs_platform/repair_attempt")})
    _notify(notifier_from_settings(settings.get(), logger=context.log), alert)
