"""`lake_maintenance_job` on EMR Serverless through dagster-aws Pipes (CSP_COMPUTE=emr-serverless):
each step runs as its own job run of the packaged `maintenance_job.py`, and the run reports the
observations and metadata a local run reports. EMR is the one FAKE part (`fake_emr`: it cannot run here)."""

from __future__ import annotations

import json

import dagster as dg

from cs_platform.defs.maintenance import defs as maintenance_defs
from cs_platform.lakehouse.maintenance import STEPS
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import FOUR_SMALL_FILES_STEPS, table_rows


def test_each_maintenance_step_runs_on_emr_serverless_and_reports_like_a_local_run(spark, namespace, emr_compute):
    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for i in range(4):  # four small files, as a streaming writer leaves them
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")
    defs = dg.Definitions.merge(maintenance_defs, dg.Definitions(resources=emr_compute.resources))

    result = defs.resolve_job_def("lake_maintenance_job").execute_in_process(
        run_config={"ops": {"plan_tables": {"config": {"tables": [f"{namespace}.events"]}}}}, raise_on_error=False)

    assert result.success, emr_compute.fake.stderr()
    drivers = [request["jobDriver"]["sparkSubmit"] for request in emr_compute.fake.requests]
    assert [d["entryPoint"] for d in drivers] == ["s3://cs-code/cs/v1/maintenance_job.py"] * len(STEPS)
    arguments = [d["entryPointArguments"] for d in drivers]
    assert [(a[0], a[2], a[3]) for a in arguments] == [("--target", "--step", step) for step in STEPS]
    target = json.loads(arguments[0][1])
    assert (target["table"], target["dry_run"], target["overrides"]) == (f"lake.{namespace}.events", False, {})
    assert {a[1] for a in arguments} == {arguments[0][1]}  # every step with the same cut-off time

    mapping = f"lake__{namespace}__events"
    observed = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert [e.step_key for e in observed] == [f"{step}[{mapping}]" for step in STEPS]
    reports = [e.event_specific_data.asset_observation for e in observed]
    assert {r.asset_key for r in reports} == {dg.AssetKey(["lake", namespace, "events"])}
    assert [(r.metadata["step"].value, r.metadata["status"].value, r.metadata["reason"].value)
            for r in reports] == FOUR_SMALL_FILES_STEPS
    compaction = reports[0].metadata
    assert (compaction["before_data_files"].value, compaction["after_data_files"].value) == (4, 1)
    assert compaction["result_rewritten_data_files_count"].value == 4
    assert table_rows(spark, ref, "event_id") == [("e0",), ("e1",), ("e2",), ("e3",)]


def test_a_failed_step_on_emr_fails_the_op_with_its_message(spark, namespace, emr_compute):
    """A compaction that cannot rewrite a group (a data file is gone) fails on EMR as it does locally:
    the op's failure carries the step's message, not EMR's bare "job run failed"."""
    from pathlib import Path
    from urllib.parse import urlparse

    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for i in range(3):
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")
    Path(urlparse(spark.sql(f"SELECT file_path FROM {ref.sql}.files").first()[0]).path).unlink()
    defs = dg.Definitions.merge(maintenance_defs, dg.Definitions(resources=emr_compute.resources))

    result = defs.resolve_job_def("lake_maintenance_job").execute_in_process(
        run_config={"ops": {"plan_tables": {"config": {"tables": [f"{namespace}.events"]}}}}, raise_on_error=False)

    assert not result.success
    failure = result.failure_data_for_node("rewrite_data_files")
    assert failure.user_failure_data.description == (
        f"rewrite_data_files on lake.{namespace}.events: 3 data file(s) could not be rewritten (0 were); the cause "
        'is in the driver log ("Failure during rewrite group")')
    assert len(emr_compute.fake.requests) == 1  # the later steps of the table did not run
