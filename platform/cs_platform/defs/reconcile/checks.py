"""Hourly-partitioned consistency checks: raw archive vs lake, events vs tickets, lake vs DocumentDB,
quarantine rate (freshness is a policy on the streamed assets themselves).

Partitioned asset checks (Dagster 1.13, `partitions_def` on `@asset_check`, same partitions as
the target asset): each landing hour has its own check result, so a failure names its hour and
the repair sensor backfills exactly that hour.
"""

import dagster as dg

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile.assets import DOCUMENTS, EVENTS, QUARANTINE, TICKETS, ReconcileConfig
from cs_platform.defs.reconcile.context import (
    check_metadata,
    documents_collection,
    lake_tables,
    landing_zone,
)
from cs_platform.defs.resources import DocumentDBResource, IcebergCatalogResource, LakeSparkResource, SettingsResource
from cs_platform.lakehouse import reconciliation as recon

RECONCILES_WITH_RAW = "reconciles_with_raw"
TICKETS_MATCH_EVENTS = "tickets_match_events"
DOCUMENTDB_MATCHES_LAKE = "documentdb_matches_lake"
QUARANTINE_RATE = "quarantine_rate_below_threshold"


def _result(found, config, hour, severity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=found.ok, severity=severity,
                               metadata=check_metadata(found, config, recon.format_hour(hour)))


@dg.asset_check(asset=EVENTS, name=RECONCILES_WITH_RAW, blocking=True, partitions_def=landing_hours,
                description="Every valid raw event of hour H is in lake.cs.events (any hour), every invalid raw "
                            "line of H is quarantined, and no lake row claims H without a raw line in H.")
def reconciles_with_raw(context: dg.AssetCheckExecutionContext, config: ReconcileConfig, pyspark: LakeSparkResource,
                        settings: SettingsResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = recon.reconcile_raw(pyspark.spark_session, lake_tables(config), landing_zone(settings.get(), config), hour)
    return _result(found, config, hour, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=TICKETS, name=TICKETS_MATCH_EVENTS, blocking=True, partitions_def=landing_hours,
                description="The tickets touched in hour H, refolded from lake.cs.events, equal their "
                            "lake.cs.tickets rows (catches a partial commit or a fold bug).")
def tickets_match_events(context: dg.AssetCheckExecutionContext, config: ReconcileConfig,
                         pyspark: LakeSparkResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = recon.reconcile_tickets(pyspark.spark_session, lake_tables(config), hour)
    return _result(found, config, hour, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=DOCUMENTS, name=DOCUMENTDB_MATCHES_LAKE, partitions_def=landing_hours,
                description="Field by field, the documents of the tickets touched in hour H equal the OLTP "
                            "projection of their lake.cs.tickets rows. Repair: the `reproject` job.")
def documentdb_matches_lake(context: dg.AssetCheckExecutionContext, config: ReconcileConfig,
                            pyspark: LakeSparkResource, documentdb: DocumentDBResource) -> dg.AssetCheckResult:
    hour = recon.hour_of_partition_key(context.partition_key)
    found = recon.reconcile_documents(pyspark.spark_session, lake_tables(config),
                                      documents_collection(documentdb, config), hour)
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
