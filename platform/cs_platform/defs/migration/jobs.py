"""One migration job per Hive table (preflight -> copy -> verify -> cutover) and one rollback job.

The ops only wire resources to `cs_platform.lakehouse.migration.HiveMigration` and report
metadata; every rule lives there. Plan mode (`plan: true` in the preflight op's config) logs the
plan as an observation of the legacy asset and skips the other steps. With
CSP_COMPUTE=emr-serverless each action runs `remote/migration_job.py` on EMR Serverless (next to
the legacy metastore) through Pipes; the ops report the same metadata.
"""

import dagster as dg

from cs_platform.defs.migration.assets import legacy_key, target_key
from cs_platform.defs.resources import EmrServerlessResource, LakeSparkResource, SettingsResource
from cs_platform.lakehouse.migration import HiveMigration, MigrationNames
from cs_platform.lakehouse.migration.state import MigrationStateStore
from cs_platform.remote.migration_job import OUTCOME, migration_job_arguments
from cs_platform.settings import EMR_SERVERLESS


class MigrationRunConfig(dg.Config):
    plan: bool = False  # dry run: report what would happen, change nothing


def _metadata(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            out[key] = dg.MetadataValue.json(value)
        elif isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif value is not None:
            out[key] = str(value)
    return out


def _act(context, names: MigrationNames, action: str, pyspark_hive: LakeSparkResource, settings: SettingsResource,
         emr_serverless: EmrServerlessResource):
    """The outcome of one migration action: by migration_job.py on EMR Serverless, or here."""
    current = settings.get()
    if current.compute != EMR_SERVERLESS:
        return HiveMigration(pyspark_hive.spark_session, current, names).act(action)
    return emr_serverless.run_for_one(context, current, "migration_job.py", migration_job_arguments(
        names.source_name, names.target_name, action), OUTCOME, f"{action} of {names.source_name}")


def _step(context, names: MigrationNames, step: str, *resources) -> dict:
    """Run a step (skipped if recorded by an earlier run) and return its metadata."""
    outcome = _act(context, names, step, *resources)
    if outcome["skipped"]:
        context.log.info(f"{step} of {names.source_name} already done: skipped")
    return outcome


def build_migration_job(source: str, target: str | None = None) -> dg.JobDefinition:
    names = MigrationNames.parse(source, target)
    prefix = names.source_table

    @dg.op(name=f"{prefix}__preflight", out=dg.Out(dict, is_required=False),
           description="Inspect format, bucketing, partitioning and size; choose the strategy.")
    def preflight(context: dg.OpExecutionContext, config: MigrationRunConfig, pyspark_hive: LakeSparkResource,
                  settings: SettingsResource, emr_serverless: EmrServerlessResource):
        if config.plan:
            plan = _act(context, names, "plan", pyspark_hive, settings, emr_serverless)
            for step in plan["steps"]:
                context.log.info(f"[{step['status']}] {step['step']}: " + " ; ".join(step["actions"]))
            context.log_event(dg.AssetObservation(asset_key=legacy_key(names), metadata=_metadata(
                {"plan": plan["steps"], "strategy": plan["strategy"], "reason": plan["reason"], "facts": plan["facts"]})))
            return
        meta = _step(context, names, "preflight", pyspark_hive, settings, emr_serverless)
        yield dg.Output(meta, metadata=_metadata({**meta["facts"], **meta, "facts": None}))

    @dg.op(name=f"{prefix}__copy", description="Create the Iceberg table: adopt the files (add_files) or rewrite (CTAS).")
    def copy(context: dg.OpExecutionContext, preflight: dict, pyspark_hive: LakeSparkResource,
             settings: SettingsResource, emr_serverless: EmrServerlessResource) -> dict:
        meta = _step(context, names, "copy", pyspark_hive, settings, emr_serverless)
        context.add_output_metadata(_metadata(meta))
        return meta

    @dg.op(name=f"{prefix}__verify", description="Row counts per partition, column checksums, schema mapping.")
    def verify(context: dg.OpExecutionContext, copy: dict, pyspark_hive: LakeSparkResource,
               settings: SettingsResource, emr_serverless: EmrServerlessResource) -> dict:
        meta = _step(context, names, "verify", pyspark_hive, settings, emr_serverless)
        context.add_output_metadata(_metadata(meta))
        return meta

    @dg.op(name=f"{prefix}__cutover", description="Keep the Hive table as a named backup; the lake table is live.")
    def cutover(context: dg.OpExecutionContext, verify: dict, pyspark_hive: LakeSparkResource,
                settings: SettingsResource, emr_serverless: EmrServerlessResource) -> dict:
        meta = _step(context, names, "cutover", pyspark_hive, settings, emr_serverless)
        recorded = MigrationStateStore.of(settings.get()).load(names.source_name, names.target_name)
        context.log_event(dg.AssetMaterialization(asset_key=target_key(names), metadata=_metadata({
            "strategy": verify.get("strategy") or recorded.metadata("preflight")["strategy"],
            "rows": verify["target_rows"], "partitions": verify["partitions"],
            "columns_checked": verify["columns_checked"], "hive_backup": meta["hive_backup"],
            "snapshot_id": str(meta["snapshot_id"]),
        })))
        context.add_output_metadata(_metadata(meta))
        return meta

    @dg.graph(name=f"migrate_hive__{prefix}")
    def migrate():
        cutover(verify(copy(preflight())))

    return migrate.to_job(
        description=f"Migrate Hive table {names.source_name} to {names.target_name} (resumable; plan mode in config).",
        tags={"domain": "migration"},
        # One process, one Spark session for all steps: a JVM per step would be slow, and the embedded
        # Derby metastore admits one JVM at a time.
        executor_def=dg.in_process_executor,
    )


class RollbackConfig(dg.Config):
    force: bool = False  # drop the Iceberg table even with writes made to it after the cutover


def build_rollback_job(source: str, target: str | None = None) -> dg.JobDefinition:
    names = MigrationNames.parse(source, target)

    @dg.op(name=f"{names.source_table}__rollback",
           description="Restore the Hive table under its name; drop the Iceberg table the migration created.")
    def rollback(context: dg.OpExecutionContext, config: RollbackConfig, pyspark_hive: LakeSparkResource,
                 settings: SettingsResource, emr_serverless: EmrServerlessResource) -> list:
        action = "rollback_force" if config.force else "rollback"
        done = _act(context, names, action, pyspark_hive, settings, emr_serverless)
        for line in done:
            context.log.info(line)
        context.add_output_metadata({"actions": dg.MetadataValue.json(done)})
        return done

    @dg.job(name=f"rollback_hive__{names.source_table}", tags={"domain": "migration"},
            executor_def=dg.in_process_executor,
            description=f"Roll back the migration of {names.source_name} to {names.target_name}.")
    def rollback_job():
        rollback()

    return rollback_job
