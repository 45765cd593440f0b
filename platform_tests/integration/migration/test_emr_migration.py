"""The Hive migration jobs on EMR Serverless through dagster-aws Pipes (CSP_COMPUTE=emr-serverless):
each action runs the packaged `migration_job.py` next to the legacy metastore, and the ops report
what a local run reports. EMR is the one FAKE part (`fake_emr`: it cannot run here).

The job's Hive metastore is an embedded Derby one under its own CSP_HOME (passed as EMR driver
environment, as an application would receive CSP_HIVE_METASTORE_URI), so this test process never
opens it: Derby admits one JVM at a time. The lake (catalog, warehouse) is shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from cs_platform.defs.migration.jobs import build_migration_job, build_rollback_job
from cs_platform.lakehouse.migration.state import STEPS

from .conftest import HISTORY_PARTITIONS, HISTORY_ROWS

CSP = str(Path(sys.executable).with_name("csp"))


@pytest.fixture
def emr_legacy(settings, emr_compute, monkeypatch, tmp_path, unique_name):
    """A legacy database seeded in the EMR job's own metastore; the job's settings point at it."""
    job_home, database = tmp_path / "emr_home", unique_name("legacy")
    for var, value in {"CSP_CATALOG_URI": settings.catalog, "CSP_WAREHOUSE_URI": settings.warehouse}.items():
        monkeypatch.setenv(var, value)  # forwarded to the job, as a deployment's settings are
    monkeypatch.setenv("CSP_EMR_SPARK_SUBMIT_PARAMETERS", f"--conf spark.emr-serverless.driverEnv.CSP_HOME={job_home}")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CSP_")}, "CSP_HOME": str(job_home),
           "CSP_CATALOG_URI": settings.catalog, "CSP_WAREHOUSE_URI": settings.warehouse,
           "CSP_SPARK_SHUFFLE_PARTITIONS": "2"}
    seeded = subprocess.run([CSP, "legacy", "seed", "--database", database, "--days", "3", "--tickets-per-day", "10"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert f"{database}.cs_ticket_history: created with {HISTORY_ROWS} rows" in seeded.stdout
    return database


def _run(job: dg.JobDefinition, emr_compute) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(jobs=[job], resources=emr_compute.resources)
    return defs.resolve_job_def(job.name).execute_in_process(raise_on_error=False)


def _arguments(emr_compute, start: int = 0) -> list[list[str]]:
    drivers = [r["jobDriver"]["sparkSubmit"] for r in emr_compute.fake.requests[start:]]
    assert {d["entryPoint"] for d in drivers} == {"s3://cs-code/cs/v1/migration_job.py"}
    return [d["entryPointArguments"] for d in drivers]


def test_migration_and_rollback_run_on_emr_serverless(spark, settings, emr_compute, emr_legacy, unique_name):
    source, target = f"{emr_legacy}.cs_ticket_history", f"lake.{unique_name('mig')}.ticket_history"

    migrated = _run(build_migration_job(source, target), emr_compute)

    assert migrated.success, emr_compute.fake.stderr()
    assert _arguments(emr_compute) == [["--source", source, "--target", target, "--action", step] for step in STEPS]
    [materialized] = [e.event_specific_data.materialization for e in migrated.all_events
                      if e.event_type_value == "ASSET_MATERIALIZATION"]
    meta = {k: v.value for k, v in materialized.metadata.items()}
    assert (materialized.asset_key, meta["strategy"], meta["rows"], meta["partitions"], meta["hive_backup"]) == (
        dg.AssetKey(target.split(".")), "add_files", HISTORY_ROWS, len(HISTORY_PARTITIONS),
        f"{emr_legacy}.cs_ticket_history__hive_backup")
    counts = {r["dt"]: r["n"] for r in spark.sql(f"SELECT dt, count(*) AS n FROM {target} GROUP BY dt").collect()}
    assert counts == HISTORY_PARTITIONS
    state = Path(urlsplit(settings.warehouse).path) / "_migrations" / f"{source}.json"
    assert sorted(json.loads(state.read_text())["steps"]) == sorted(STEPS)  # recorded in the lake, seen from here

    rolled_back = _run(build_rollback_job(source, target), emr_compute)

    assert rolled_back.success, emr_compute.fake.stderr()
    assert _arguments(emr_compute, start=len(STEPS)) == [
        ["--source", source, "--target", target, "--action", "rollback"]]
    assert rolled_back.output_for_node("cs_ticket_history__rollback") == [
        f"restored Hive table {source} from {emr_legacy}.cs_ticket_history__hive_backup",
        f"dropped Iceberg table {target}",
    ]
    assert not spark.catalog.tableExists(target) and not state.exists()


def test_a_migration_error_on_emr_fails_the_step_with_the_migrations_own_words(spark, emr_compute, emr_legacy,
                                                                            unique_name):
    source, target = f"{emr_legacy}.cs_ticket_history", f"lake.{unique_name('mig')}.ticket_history"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {target.rsplit('.', 1)[0]}")
    spark.sql(f"CREATE TABLE {target} (id INT) USING iceberg")  # someone else's table under the target name

    result = _run(build_migration_job(source, target), emr_compute)

    assert not result.success
    assert [a[-1] for a in _arguments(emr_compute)] == ["preflight", "copy"]
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "cs_ticket_history__copy"
    assert failure.event_specific_data.error.message.strip().endswith(
        f"{target} already exists and was not created by the migration of {source}: choose another --target or drop it")
    assert spark.table(target).count() == 0  # left alone
