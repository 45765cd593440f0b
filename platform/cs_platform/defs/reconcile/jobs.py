"""Repairs: `backfill` (re-run hours' raw files through the foreachBatch body, then re-check) and
`reproject` (rewrite DocumentDB from the lake, then re-check).

Both are op jobs on the shared `landing_hours` partitions: one run covers one hour (sensor
repair, `csp backfill --hour`) or a range in a single run (range tags / UI backfill), always read
through `context.partition_keys`. After repairing an hour each run reports the hour's
materializations and re-evaluates the hour's checks, so the check history shows fail -> repair -> pass.
Both write what the stream writes, so they never run beside it (pool `cs_stream`, checkpoint lock).
With CSP_COMPUTE=emr-serverless both run on EMR Serverless (`cs_platform.remote.repair_job`) and
send each hour's outcome back through Pipes; the events they report are the same.
"""


import datetime as dt
from contextlib import contextmanager
from typing import Callable

import dagster as dg

from cs_platform.defs.partitions import landing_hours, partition_key_of
from cs_platform.defs.reconcile.assets import DOCUMENTS, EVENTS, STREAMED, TICKETS, ReconcileConfig, RepairConfig
from cs_platform.defs.reconcile.checks import (
    DOCUMENTDB_MATCHES_LAKE,
    RECONCILES_WITH_RAW,
    TICKETS_MATCH_EVENTS,
    consistency_checks,
)
from cs_platform.defs.reconcile.context import (
    check_metadata,
    documentdb_writer,
    lake_tables,
    landing_zone,
)
from cs_platform.defs.resources import DocumentDBResource, EmrServerlessResource, LakeSparkResource, SettingsResource
from cs_platform.defs.stream.jobs import POOL
from cs_platform.lakehouse import reconciliation as recon
from cs_platform.remote.repair_job import BACKFILL, MESSAGE_KEYS, REPROJECT, repair_job_arguments
from cs_platform.settings import EMR_SERVERLESS, Settings
from cs_platform.streaming.lock import CheckpointBusy
from cs_platform.streaming.query import writer_lock

REPAIR_TAG = "cs_platform/repair"


@contextmanager
def _beside_no_stream(settings: SettingsResource, mode: str, config: RepairConfig):
    """Repairs write what the stream writes: they run in the stream's pool (never beside a stream
    run) and hold its writer lock (never beside a `csp stream`: on this machine for a local
    checkpoint, on any machine for an S3 one, whose lock is a lease; a continuous query hands the
    lock over between two batches)."""
    try:
        located = settings.get().with_overrides(checkpoint_uri=config.checkpoint_uri)
        with writer_lock(located, mode, query_name=config.query_name, wait_seconds=config.lock_wait_seconds):
            yield
    except CheckpointBusy as exc:
        raise dg.Failure(f"cannot {mode} now: {exc}") from None


def _evaluation(asset, check_name, found, config, hour, severity) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(asset_key=asset, check_name=check_name, passed=found.ok, severity=severity,
                                   partition=partition_key_of(hour),
                                   metadata=check_metadata(found, config, recon.format_hour(hour)))


_OUTCOMES = {BACKFILL: recon.HourRepair, REPROJECT: recon.HourReprojection}  # what a repair reports per hour


def _repair(context, repair: str, hours: list[dt.datetime], config: RepairConfig, settings: SettingsResource,
            emr_serverless: EmrServerlessResource, here: Callable[[Settings], list]) -> list:
    """Each hour's outcome of `repair`, run beside no stream: by repair_job.py on EMR Serverless
    (CSP_COMPUTE=emr-serverless, the same function) or by `here` in this process."""
    current = settings.get()
    with _beside_no_stream(settings, repair, config):
        if current.compute == EMR_SERVERLESS:
            reported = emr_serverless.run(context, current, "repair_job.py",
                                          repair_job_arguments(hours, **config.as_run_config(), repair=repair),
                                          MESSAGE_KEYS[repair])
            outcomes = [_OUTCOMES[repair].from_dict(outcome) for outcome in reported]
        else:
            outcomes = here(current)
    return outcomes


def _every_hour_reported(repair: str, outcomes: list, hours: list[dt.datetime]) -> None:
    """After reporting what came back: a repair that reports fewer hours than it was given fails."""
    if len(outcomes) != len(hours):
        raise dg.Failure(f"the {repair} reported {len(outcomes)} of {len(hours)} hours")


@dg.op(pool=POOL, description="Backfill exactly the run's landing hours from the raw archive, then re-run their checks.")
def backfill_landing_hours(context: dg.OpExecutionContext, config: RepairConfig, pyspark: LakeSparkResource,
                           settings: SettingsResource, documentdb: DocumentDBResource,
                           emr_serverless: EmrServerlessResource) -> None:
    hours = [recon.hour_of_partition_key(key) for key in context.partition_keys]
    repairs = _repair(context, BACKFILL, hours, config, settings, emr_serverless,
                      lambda current: recon.backfill_and_recheck(pyspark.spark_session, lake_tables(config),
                                                                 landing_zone(current, config),
                                                                 documentdb_writer(documentdb, config), hours))
    for repair in repairs:
        for asset in STREAMED:
            context.log_event(dg.AssetMaterialization(asset_key=asset, partition=partition_key_of(repair.hour),
                                                      metadata={"backfill": True, **repair.figures}))
        context.log_event(_evaluation(EVENTS, RECONCILES_WITH_RAW, repair.raw, config, repair.hour,
                                      dg.AssetCheckSeverity.ERROR))
        context.log_event(_evaluation(TICKETS, TICKETS_MATCH_EVENTS, repair.tickets, config, repair.hour,
                                      dg.AssetCheckSeverity.ERROR))
        context.log.info(f"backfilled {recon.format_hour(repair.hour)}: {repair.figures}; reconciled={repair.ok}")
    _every_hour_reported(BACKFILL, repairs, hours)
    unrepaired = [recon.format_hour(r.hour) for r in repairs if not r.ok]
    if unrepaired:
        raise dg.Failure(f"hours still inconsistent after backfill: {', '.join(unrepaired)} "
                         "(see the reconciles_with_raw / tickets_match_events results of these partitions)")


@dg.op(pool=POOL, description="Rewrite the DocumentDB documents of the run's hours from lake.cs.tickets, then re-check.")
def reproject_landing_hours(context: dg.OpExecutionContext, config: RepairConfig, pyspark: LakeSparkResource,
                            settings: SettingsResource, documentdb: DocumentDBResource,
                            emr_serverless: EmrServerlessResource) -> None:
    hours = [recon.hour_of_partition_key(key) for key in context.partition_keys]
    done = _repair(context, REPROJECT, hours, config, settings, emr_serverless, lambda _: recon.reproject_and_recheck(
        pyspark.spark_session, lake_tables(config), documentdb_writer(documentdb, config), hours))
    for hour in done:
        context.log_event(dg.AssetMaterialization(asset_key=DOCUMENTS, partition=partition_key_of(hour.hour),
                                                  metadata={"reprojected_documents": hour.written}))
        context.log_event(_evaluation(DOCUMENTS, DOCUMENTDB_MATCHES_LAKE, hour.documents, config, hour.hour,
                                      dg.AssetCheckSeverity.WARN))
    _every_hour_reported(REPROJECT, done, hours)
    unrepaired = [recon.format_hour(h.hour) for h in done if not h.ok]
    if unrepaired:
        raise dg.Failure(f"documents still differ from the lake after reprojecting: {', '.join(unrepaired)}")


@dg.job(name="backfill", partitions_def=landing_hours, tags={REPAIR_TAG: "true"},
        description="Re-process landing hours from the raw archive (idempotent); re-checks each hour.")
def backfill_job():
    backfill_landing_hours()


@dg.job(name="reproject", partitions_def=landing_hours, tags={REPAIR_TAG: "true"},
        description="Rewrite DocumentDB tickets of landing hours from the lake; re-checks each hour.")
def reproject_job():
    reproject_landing_hours()


# A job of checks only has no partitions of its own (Dagster infers them from assets): its hour is the
# run's `dagster/partition` tag, as the sensor sets it (from the launchpad: add that tag).
reconcile_job = dg.define_asset_job(
    "reconcile", selection=dg.AssetSelection.checks(*consistency_checks),
    description="Run every consistency check of one landing hour, given as the run tag dagster/partition "
                "(e.g. 2026-11-26-09:00).",
    executor_def=dg.in_process_executor,  # the checks share one Spark session instead of one JVM each
)


def checks_run_config(config: ReconcileConfig) -> dict:
    """Run config giving every consistency check of the `reconcile` job the same config."""
    return {"ops": {check.node_def.name: {"config": config.as_run_config()} for check in consistency_checks}}
