"""The reconciliation sensors.

`reconcile_closed_hours` follows the stream: once a landing hour has closed and the stream has
processed its files, it launches that hour's `reconcile` run (every consistency check of the hour),
hour after hour, none skipped (rules: ``cs_platform.streaming.closing``; it reads the landing zone and
the checkpoint, no JVM).

`reconciliation_repair`: a failed consistency check of hour H launches the repair of exactly H.

It follows the checks' execution history (Dagster's event log; no JVM, no store access), keeps
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
_HISTORY_PAGE = 500
_COMPLETED = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}

# check key -> the job that repairs its hour
REPAIRS: dict[dg.AssetCheckKey, str] = {
    dg.AssetCheckKey(EVENTS, RECONCILES_WITH_RAW): backfill_job.name,
    dg.AssetCheckKey(TICKETS, TICKETS_MATCH_EVENTS): backfill_job.name,
    dg.AssetCheckKey(DOCUMENTS, DOCUMENTDB_MATCHES_LAKE): reproject_job.name,
}


@dataclass
class RepairCursor:
    """Last execution id seen per check, and repair attempts per `check|partition`."""

    seen: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, cursor: str | None) -> "RepairCursor":
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(seen=dict(data.get("seen", {})), attempts=dict(data.get("attempts", {})))

    def dump(self) -> str:
        return json.dumps({"seen": self.seen, "attempts": self.attempts}, sort_keys=True)


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


def _evaluation(record):
    event = record.event.dagster_event if record.event else None
    return event.event_specific_data if event is not None else None


def _run_config(evaluation, job_name: str) -> dict:
    """Replay the checked location (namespace, database, landing) recorded in the check metadata."""
    metadata = {k: _metadata_value(v) for k, v in (evaluation.metadata or {}).items()}
    config = {k.removeprefix("config_"): v for k, v in metadata.items() if k.startswith("config_")}
    op = "backfill_landing_hours" if job_name == backfill_job.name else "reproject_landing_hours"
    return {"ops": {op: {"config": config}}} if config else {}


def _alert(check_key, record, evaluation, title: str) -> Alert:
    metadata = {k: _metadata_value(v) for k, v in (evaluation.metadata or {}).items()}
    details = {k: v for k, v in metadata.items() if not k.startswith("config_")}
    return Alert(title=title, severity=evaluation.severity.value, check=check_key.name,
                 asset=check_key.asset_key.to_user_string(), partition=record.partition, details=details)


@dg.sensor(name="reconciliation_repair", jobs=[backfill_job, reproject_job], minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Backfills (or reprojects) exactly the hour whose consistency check failed; bounded retries, then alerts.")
def reconciliation_repair(context: dg.SensorEvaluationContext, settings: SettingsResource):
    cursor = RepairCursor.parse(context.cursor)
    notifier = notifier_from_settings(settings.get(), logger=context.log)
    storage = context.instance.event_log_storage
    requests: list[dg.RunRequest] = []
    launched: set[tuple[str, str]] = set()
    for check_key, job_name in REPAIRS.items():
        name = check_key.to_user_string()
        records = storage.get_asset_check_execution_history(check_key, limit=_HISTORY_PAGE, status=_COMPLETED)
        fresh = sorted((r for r in records if r.id > cursor.seen.get(name, 0)), key=lambda r: r.id)
        for record in fresh:
            cursor.seen[name] = record.id
            evaluation = _evaluation(record)
            if record.partition is None or evaluation is None:
                continue
            slot = f"{name}|{record.partition}"
            if record.status is AssetCheckExecutionRecordStatus.SUCCEEDED:
                cursor.attempts.pop(slot, None)
                continue
            attempt = cursor.attempts.get(slot, 0) + 1
            alerts = []
            if attempt <= MAX_REPAIR_ATTEMPTS:
                cursor.attempts[slot] = attempt
                if (job_name, record.partition) not in launched:  # one repair run covers all its checks
                    launched.add((job_name, record.partition))
                    requests.append(dg.RunRequest(
                        run_key=f"repair:{slot}:{record.id}", job_name=job_name, partition_key=record.partition,
                        run_config=_run_config(evaluation, job_name),
                        tags={REPAIR_TAG: "true", "cs_platform/repair_of": check_key.name,
                              "cs_platform/repair_attempt": f"{attempt}/{MAX_REPAIR_ATTEMPTS}"},
                    ))
                if evaluation.severity is dg.AssetCheckSeverity.ERROR:
                    alerts.append(_alert(check_key, record, evaluation,
                                         f"{check_key.name} failed for {record.partition}: "
                                         f"{job_name} launched (attempt {attempt}/{MAX_REPAIR_ATTEMPTS})"))
            else:
                alerts.append(_alert(check_key, record, evaluation,
                                     f"{check_key.name} still failing for {record.partition} after "
                                     f"{MAX_REPAIR_ATTEMPTS} repairs: giving up, manual action needed"))
            for alert in alerts:
                try:
                    notifier.notify(alert)
                except NotifierError:
                    pass  # logged by the notifier; an unreachable webhook must not stop repairs
    context.update_cursor(cursor.dump())
    return requests
