"""The migration and rollback jobs, executed by Dagster in process with the shared resources."""

from __future__ import annotations

import dagster as dg

from cs_platform.defs.migration.jobs import build_migration_job, build_rollback_job
from cs_platform.defs.resources import EmrServerlessResource, LakeSparkResource, SettingsResource

from .conftest import HISTORY_ROWS


def resources():
    return {"pyspark_hive": LakeSparkResource(hive=True), "settings": SettingsResource(),
            "emr_serverless": EmrServerlessResource()}  # unused: CSP_COMPUTE is local


def test_plan_run_rerun_and_rollback_jobs(spark, legacy_db, lake_ns, history_migration):
    source, target = f"{legacy_db}.cs_ticket_history", f"{lake_ns}.ticket_history"
    job = build_migration_job(source, target)
    assert job.name == "migrate_hive__cs_ticket_history"

    planned = job.execute_in_process(
        run_config={"ops": {"cs_ticket_history__preflight": {"config": {"plan": True}}}}, resources=resources())
    assert planned.success
    observations = [e.event_specific_data.asset_observation for e in planned.all_events
                    if e.event_type_value == "ASSET_OBSERVATION"]
    assert [o.asset_key for o in observations] == [dg.AssetKey(["legacy", "cs_ticket_history"])]
    assert observations[0].metadata["strategy"].value == "add_files"
    assert {e.step_key for e in planned.all_events if e.event_type_value == "STEP_SKIPPED"} == {
        "cs_ticket_history__copy", "cs_ticket_history__verify", "cs_ticket_history__cutover"}
    assert not history_migration.target_exists()

    ran = job.execute_in_process(resources=resources())
    assert ran.success
    materialized = ran.asset_materializations_for_node("cs_ticket_history__cutover")
    assert [m.asset_key for m in materialized] == [dg.AssetKey(["lake", lake_ns, "ticket_history"])]
    assert (materialized[0].metadata["rows"].value, materialized[0].metadata["partitions"].value,
            materialized[0].metadata["strategy"].value) == (HISTORY_ROWS, 5, "add_files")
    assert ran.output_for_node("cs_ticket_history__verify")["skipped"] is False

    rerun = job.execute_in_process(resources=resources())
    assert rerun.success
    assert [rerun.output_for_node(f"cs_ticket_history__{s}")["skipped"] for s in ("copy", "verify", "cutover")] == [
        True, True, True]

    # A write after the cutover: the rollback job refuses to drop it, unless forced in its config.
    spark.sql(f"DELETE FROM lake.{target} WHERE history_id = 'T-20240301-000001#1'")
    rollback_job = build_rollback_job(source, target)
    refused = rollback_job.execute_in_process(resources=resources(), raise_on_error=False)
    assert not refused.success
    assert refused.failure_data_for_node("cs_ticket_history__rollback").error.cause.message.startswith(
        f"cs_platform.lakehouse.migration.migrator.MigrationError: lake.{target} has 1 commit after the cutover of {source}")
    assert history_migration.target_exists()
    rolled = rollback_job.execute_in_process(
        run_config={"ops": {"cs_ticket_history__rollback": {"config": {"force": True}}}}, resources=resources())
    assert rolled.success
    assert rolled.output_for_node("cs_ticket_history__rollback")[-1] == f"dropped Iceberg table lake.{target}"
    assert not history_migration.target_exists()


def test_definitions_expose_legacy_assets_and_jobs():
    from cs_platform.defs.migration import defs

    keys = {spec.key for spec in defs.assets}
    assert keys == {dg.AssetKey(["legacy", "cs_ticket_history"]), dg.AssetKey(["legacy", "cs_agent_roster"]),
                    dg.AssetKey(["lake", "cs", "ticket_history"]), dg.AssetKey(["lake", "cs", "agent_roster"])}
    deps = {spec.key: [d.asset_key for d in spec.deps] for spec in defs.assets}
    assert deps[dg.AssetKey(["lake", "cs", "ticket_history"])] == [dg.AssetKey(["legacy", "cs_ticket_history"])]
    assert sorted(job.name for job in defs.jobs) == [
        "migrate_hive__cs_agent_roster", "migrate_hive__cs_ticket_history",
        "rollback_hive__cs_agent_roster", "rollback_hive__cs_ticket_history"]
