"""Hourly-partitioned consistency checks: raw archive vs lake, events vs tickets, lake vs DocumentDB,
quarantine rate (freshness is a policy on the streamed assets themselves).

Partitioned asset checks (Dagster 1.13, `partitions_def` on `@asset_check`, same partitions as
the target asset): each landing hour has its own check result, so a failure names its hour and
the repair sensor backfills exactly that hour. With CSP_COMPUTE=emr-serverless the three Spark
checks run on EMR Serverless (`cs_platform.remote.check_job`, one job run per check and hour) and
their discrepancies come back through Pipes; the quarantine rate is a PyIceberg read here.
"""

import datetime as dt
from typing import Callable

import dagster as dg

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile.assets import DOCUMENTS, EVENTS, QUARANTINE, TICKETS, ReconcileConfig
from cs_platform.defs.reconcile.context import (
    check_metadata,
    documents_collection,
    lake_tables,
    landing_zone,
)
from cs_platform.defs.resources import (
    DocumentDBResource,
    EmrServerlessResource,
    IcebergCatalogResource,
    LakeSparkResource,
    SettingsResource,
)
from cs_platform.lakehouse import reconciliation as recon
from cs_platform.logic.reconcile import Discrepancies
from cs_platform.remote.check_job import (
    DISCREPANCIES,
    RECONCILE_DOCUMENTS,
    RECONCILE_RAW,
    RECONCILE_TICKETS,
    check_job_arguments,
)
from cs_platform.settings import EMR_SERVERLESS, Settings

RECONCILES_WITH_RAW = "reconciles_with_raw"
TICKETS_MATCH_EVENTS = "tickets_match_events"
DOCUMENTDB_MATCHES_LAKE = "documentdb_matches_lake"
QUARANTINE_RATE = "quarantine_rate_below_threshold"


def _result(found, config, hour, severity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=found.ok, severity=severity,
                               metadata=check_metadata(found, config, recon.format_hour(hour)))


def _reconciled(context: dg.AssetCheckExecutionContext, reconciliation: str, hour: dt.datetime,
                config: ReconcileConfig, settings: SettingsResource, emr_serverless: EmrServerlessResource,
                here: Callable[[Settings], Discrepancies]) -> Discrepancies:
    """The hour's discrepancies: found by check_job.py on EMR Serverless (CSP_COMPUTE=emr-serverless,
    the same function) or by `here` in this process."""
    current = settings.get()
    if current.compute != EMR_SERVERLESS:
        return here(current)
    found = emr_serverless.run_for_one(context.op_execution_context, current, "check_job.py",
                                       check_job_arguments(reconciliation, hour, **config.as_run_config()),
                                       DISCREPANCIES, f"the {reconciliation} check")
    return Discrepancies(**found)


@dg.asset_check(asset=EVENTS, name=RECONCILES_WITH_RAW, blocking=True, partitions_def=landing_hours,
                description="Every valid raw event of hour H is in lake.cs.events (any hour), every invalid raw "
                            "line of H is quarantined, and no lake row claims H without a raw line in H.")
def reconciles_with_raw(context: dg.AssetCheckExecutionContext, config: ReconcileConfig, pyspark: LakeSparkResource,
                        settings: SettingsResource, emr_serverless: EmrServerlessResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = _reconciled(context, RECONCILE_RAW, hour, config, settings, emr_serverless,
                        lambda current: recon.reconcile_raw(pyspark.spark_session, lake_tables(config),
                                                            landing_zone(current, config), hour))
    return _result(found, config, hour, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=TICKETS, name=TICKETS_MATCH_EVENTS, blocking=True, partitions_def=landing_hours,
                description="The tickets touched in hour H, refolded from lake.cs.events, equal their "
                            "lake.cs.tickets rows (catches a partial commit or a fold bug).")
def tickets_match_events(context: dg.AssetCheckExecutionContext, config: ReconcileConfig,
                         pyspark: LakeSparkResource, settings: SettingsResource,
                         emr_serverless: EmrServerlessResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = _reconciled(context, RECONCILE_TICKETS, hour, config, settings, emr_serverless,
                        lambda _: recon.reconcile_tickets(pyspark.spark_session, lake_tables(config), hour))
    return _result(found, config, hour, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=DOCUMENTS, name=DOCUMENTDB_MATCHES_LAKE, partitions_def=landing_hours,
                description="Field by field, the documents of the tickets touched in hour H equal the OLTP "
                            "projection of their lake.cs.tickets rows. Repair: the `reproject` job.")
def documentdb_matches_lake(context: dg.AssetCheckExecutionContext, config: ReconcileConfig,
                            pyspark: LakeSparkResource, documentdb: DocumentDBResource, settings: SettingsResource,
                            emr_serverless: EmrServerlessResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = _reconciled(context, RECONCILE_DOCUMENTS, hour, config, settings, emr_serverless,
                        lambda _: recon.reconcile_documents(pyspark.spark_session, lake_tables(config),
                                                            documents_collection(documentdb, config), hour))
    return _result(found, config, hour, dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=QUARANTINE, name=QUARANTINE_RATE, partitions_def=landing_hours,
                description="Share of hour H's lines that were quarantined stays at or below "
                            "CSP_QUARANTINE_RATE_THRESHOLD (PyIceberg read, no JVM).")
def quarantine_rate_below_threshold(context: dg.AssetCheckExecutionContext, config: ReconcileConfig,
                                    iceberg: IcebergCatalogResource, settings: SettingsResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    threshold = settings.get().quarantine_rate_threshold
    counts = recon.quarantine_rate_of_hour(iceberg.catalog(), lake_tables(config), hour)
    return dg.AssetCheckResult(
        passed=counts.rate <= threshold, severity=dg.AssetCheckSeverity.WARN,
        metadata={"hour": recon.format_hour(hour), "quarantined": counts.quarantined, "valid": counts.valid,
                  "quarantine_rate": round(counts.rate, 6), "threshold": threshold},
    )


consistency_checks = [reconciles_with_raw, tickets_match_events, documentdb_matches_lake,
                      quarantine_rate_below_threshold]
