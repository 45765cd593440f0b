"""The maintenance job and the table-operation jobs run in process with the shared resources."""

from __future__ import annotations

import dagster as dg

from cs_platform.defs.maintenance import defs as maintenance_defs
from cs_platform.defs.resources import shared_resources
from cs_platform.lakehouse import table_ops
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import FOUR_SMALL_FILES_STEPS, table_rows


def _run(job_name: str, config: dict, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(maintenance_defs, dg.Definitions(resources=shared_resources()))
    return defs.resolve_job_def(job_name).execute_in_process(run_config={"ops": config}, raise_on_error=raise_on_error)


def test_maintenance_steps_share_one_process_and_jvm_with_local_spark():
    from cs_platform.defs.maintenance.jobs import lake_maintenance_job

    assert lake_maintenance_job.executor_def is dg.in_process_executor


def test_maintenance_job_reports_each_step_with_before_and_after(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for i in range(4):
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")

    result = _run("lake_maintenance_job", {"plan_tables": {"config": {"tables": [f"{namespace}.events", f"{namespace}.absent"]}}})

    assert result.success
    mapping = f"lake__{namespace}__events"
    observed = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert [e.step_key for e in observed] == [f"{step}[{mapping}]" for step in (
        "rewrite_data_files", "rewrite_position_delete_files", "expire_snapshots", "rewrite_manifests", "remove_orphan_files")]
    reports = [e.event_specific_data.asset_observation for e in observed]
    assert {r.asset_key for r in reports} == {dg.AssetKey(["lake", namespace, "events"])}
    assert [(r.metadata["step"].value, r.metadata["status"].value, r.metadata["reason"].value)
            for r in reports] == FOUR_SMALL_FILES_STEPS
    compaction = reports[0]
    assert (compaction.metadata["before_data_files"].value, compaction.metadata["after_data_files"].value) == (4, 1)
    assert table_rows(spark, ref, "event_id") == [("e0",), ("e1",), ("e2",), ("e3",)]


def test_a_table_named_twice_is_maintained_once(spark, iceberg_catalog, namespace):
    """`events` and `lake.<ns>.events` are one table: one mapping (Dagster rejects a duplicate key), in first-named order."""
    from cs_platform.lakehouse.maintenance import plan

    for name in ("events", "tickets"):
        spark.sql(f"CREATE TABLE lake.{namespace}.{name} (event_id STRING) USING iceberg")
    named = [f"{namespace}.tickets", f"{namespace}.events", f"lake.{namespace}.tickets", f"{namespace}.absent"]

    result = _run("lake_maintenance_job", {"plan_tables": {"config": {"tables": named, "dry_run": True}}})

    assert result.success
    observed = [e.step_key for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert sorted(observed) == sorted(f"{step}[lake__{namespace}__{table}]" for table in ("events", "tickets") for step in (
        "rewrite_data_files", "rewrite_position_delete_files", "expire_snapshots", "rewrite_manifests", "remove_orphan_files"))
    assert [t.table for t in plan(iceberg_catalog, named)] == [f"lake.{namespace}.tickets", f"lake.{namespace}.events"]


def test_maintenance_job_rejects_a_bad_policy_naming_the_setting(spark, namespace):
    spark.sql(f"CREATE TABLE lake.{namespace}.events (event_id STRING) USING iceberg")
    result = _run("lake_maintenance_job", {"plan_tables": {"config": {"tables": [f"{namespace}.events"],
                                                                      "orphan_age_days": 1}}}, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("plan_tables")
    assert failure.error.cause.message.strip() == (
        f"cs_platform.lakehouse.policy.PolicyError: invalid maintenance policy for lake.{namespace}.events: "
        "orphan_age_days=1.0 is below the minimum of 3 days: younger files may belong to a commit in flight "
        "and deleting them would corrupt the table")
    result = _run("lake_maintenance_job", {"plan_tables": {"config": {"tables": [f"{namespace}.events"],
                                                                      "target_file_size_mb": 0}}}, raise_on_error=False)
    assert result.failure_data_for_node("plan_tables").error.cause.message.strip() == (
        "cs_platform.lakehouse.policy.PolicyError: target_file_size_mb must be at least 1, got 0")


def test_table_operation_jobs(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.people")
    spark.sql(f"CREATE TABLE {ref.sql} (id INT, name STRING) USING iceberg")
    spark.sql(f"INSERT INTO {ref.sql} VALUES (1, 'ann')")
    first = table_ops.current_snapshot_id(spark, ref)
    spark.sql(f"INSERT INTO {ref.sql} VALUES (2, 'bob')")
    table = f"{namespace}.people"

    def outputs(job_name: str, op: str, config: dict) -> dict:
        """The op's output metadata, as plain values."""
        result = _run(job_name, {op: {"config": {"table": table, **config}}})
        [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        return {k: v.value for k, v in output.event_specific_data.metadata.items()}

    assert outputs("table_rename_column", "rename_column", {"column": "name", "new_name": "full_name"}) == {
        "renamed": "name", "to": "full_name"}
    assert outputs("table_widen_column", "widen_column", {"column": "id", "new_type": "bigint"}) == {
        "column": "id", "from": "int", "to": "bigint"}
    assert outputs("table_tag", "tag_snapshot", {"tag": "first_load", "snapshot_id": first}) == {
        "tag": "first_load", "snapshot_id": first, "changed": True}
    second = table_ops.current_snapshot_id(spark, ref)
    moved = _run("table_tag", {"tag_snapshot": {"config": {"table": table, "tag": "first_load"}}}, raise_on_error=False)
    assert moved.failure_data_for_node("tag_snapshot").error.cause.message.strip() == (
        f"cs_platform.lakehouse.table_ops.TableOpError: tag first_load of {ref} already names snapshot {first}: "
        f"moving it to {second} would let snapshot expiry remove {first}; choose another tag name, or move it "
        "explicitly (`csp table tag ... --move`; in Dagster: the table_tag job with config move: true)")
    assert outputs("table_tag", "tag_snapshot", {"tag": "moved", "snapshot_id": first}) == {
        "tag": "moved", "snapshot_id": first, "changed": True}
    assert outputs("table_tag", "tag_snapshot", {"tag": "moved", "move": True}) == {
        "tag": "moved", "snapshot_id": second, "changed": True, "moved_from": first}
    assert outputs("table_rollback", "rollback_table", {"to_snapshot_id": first}) == {
        "previous_snapshot_id": second, "current_snapshot_id": first, "changed": True,
        "procedure": "rollback_to_snapshot"}
    history = outputs("table_history", "show_table_history", {})
    assert history["refs"] == {"main": first, "first_load": first, "moved": second}
    assert str(first) in history["snapshots"] and str(second) in history["snapshots"]  # a rollback keeps both

    table_ops.refresh(spark, ref)
    assert [(f.name, f.dataType.simpleString()) for f in spark.table(ref.sql).schema.fields] == [
        ("id", "bigint"), ("full_name", "string")]
    assert table_rows(spark, ref, "id, full_name") == [(1, "ann")]
    crafted = _run("table_add_column", {"add_column": {"config": {"table": table, "column": "x; DROP TABLE y", "type": "int"}}},
                   raise_on_error=False)
    assert not crafted.success
    assert crafted.failure_data_for_node("add_column").error.cause.message.strip() == (
        "cs_platform.adapters.identifiers.InvalidIdentifier: invalid column name 'x; DROP TABLE y': "
        "use letters, digits and underscores, starting with a letter or underscore")
