"""The maintenance job: per table, the five Iceberg maintenance steps in order, each an op that
reports the table's health before and after as output metadata and as an observation of the
table's lake asset. With CSP_COMPUTE=emr-serverless each step runs on EMR Serverless
(`cs_platform.remote.maintenance_job`, one job run per step) and its result comes back through Pipes."""

from dataclasses import asdict

import dagster as dg
from pydantic import Field

from cs_platform.defs.resources import (
    EmrServerlessResource,
    IcebergCatalogResource,
    LakeSparkResource,
    SettingsResource,
)
from cs_platform.lakehouse.maintenance import STEPS, MaintenanceTarget, StepResult, plan
from cs_platform.lakehouse.policy import KNOWN_TABLES, PolicyError
from cs_platform.lakehouse.table_ops import TableRef
from cs_platform.remote.maintenance_job import STEP_RESULT, maintenance_job_arguments
from cs_platform.settings import EMR_SERVERLESS, load_settings


class MaintenanceConfig(dg.Config):
    tables: list[str] = Field(default=list(KNOWN_TABLES), description="namespace.table names in catalog lake")
    dry_run: bool = Field(default=False, description="probe and list only: nothing is rewritten or deleted")
    orphan_age_days: float | None = Field(default=None, description="override; never below 3")
    target_file_size_mb: int | None = Field(default=None, description="override of the compaction target")
    retain_last_snapshots: int | None = Field(default=None, description="override of snapshot retention")


def lake_asset_key(table: str) -> dg.AssetKey:
    ref = TableRef.parse(table)
    return dg.AssetKey(["lake", ref.namespace, ref.name])


def _overrides(config: MaintenanceConfig) -> dict:
    overrides = {}
    if config.orphan_age_days is not None:
        overrides["orphan_age_days"] = config.orphan_age_days
    if config.target_file_size_mb is not None:
        if config.target_file_size_mb < 1:  # named as the user wrote it, not as the policy field it becomes
            raise PolicyError(f"target_file_size_mb must be at least 1, got {config.target_file_size_mb}")
        overrides["target_file_size_bytes"] = config.target_file_size_mb * 1024 * 1024
    if config.retain_last_snapshots is not None:
        overrides["retain_last_snapshots"] = config.retain_last_snapshots
    return overrides


@dg.op(out=dg.DynamicOut(dict), description="The existing tables to maintain, with their policy checked up front.")
def plan_tables(context: dg.OpExecutionContext, config: MaintenanceConfig, iceberg: IcebergCatalogResource):
    targets = plan(iceberg.catalog(), config.tables, config.dry_run, _overrides(config))
    context.log.info(f"maintaining {[t.table for t in targets]} (of {config.tables})")
    for target in targets:
        yield dg.DynamicOutput(asdict(target), mapping_key=target.table.replace(".", "__"))


def _step_op(step: str) -> dg.OpDefinition:
    @dg.op(name=step, description=f"Iceberg `{step}` on one table, with before/after health.")
    def run_step(context: dg.OpExecutionContext, target: dict, pyspark: LakeSparkResource,
                 iceberg: IcebergCatalogResource, settings: SettingsResource,
                 emr_serverless: EmrServerlessResource) -> dict:
        maintenance = MaintenanceTarget(**target)
        current = settings.get()
        if current.compute == EMR_SERVERLESS:  # the same step, run by maintenance_job.py on EMR
            result = StepResult.from_dict(emr_serverless.run_for_one(
                context, current, "maintenance_job.py", maintenance_job_arguments(target, step), STEP_RESULT,
                f"{step} on {maintenance.table}"))
        else:
            result = maintenance.maintainer(pyspark.spark_session, iceberg.catalog()).run_step(step)
        metadata = result.metadata()
        context.log_event(dg.AssetObservation(asset_key=lake_asset_key(maintenance.table), metadata=metadata))
        context.add_output_metadata(metadata)
        if result.status == "conflict":
            context.log.warning(f"{step} on {maintenance.table} gave up after commit conflicts: {result.reason}")
        return target

    return run_step


STEP_OPS = {step: _step_op(step) for step in STEPS}


# Local Spark: one process and one JVM for every step (a process per step started 20 JVMs, two at a
# time); on EMR Serverless each step is a job run of its own, so the tables go in parallel.
_EXECUTOR = dg.multiprocess_executor if load_settings().compute == EMR_SERVERLESS else dg.in_process_executor


@dg.job(description="Daily Iceberg maintenance of the lake tables: compaction, delete-file rewrite, "
                    "snapshot expiry, manifest rewrite, orphan removal.",
        tags={"domain": "maintenance"}, executor_def=_EXECUTOR)
def lake_maintenance_job():
    def chain(target):
        for step in STEPS:
            target = STEP_OPS[step](target)
        return target

    plan_tables().map(chain)


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_daily",
    job=lake_maintenance_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 03:30 UTC, after the night's hours have closed.",
)
