"""The consistency checks, `backfill` and `reproject` on EMR Serverless through dagster-aws Pipes
(CSP_COMPUTE=emr-serverless): the job on EMR checks or repairs the hour; the run reports the
materializations and check results a local run reports. EMR is the one FAKE part (`fake_emr`: it
cannot run here)."""

from __future__ import annotations

import dagster as dg

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile import checks, jobs
from cs_platform.defs.resources import shared_resources
from cs_platform.defs.reconcile.assets import STREAMED, ReconcileConfig
from cs_platform.lakehouse.reconciliation import backfill_hours
from platform_tests.integration.reconcile.conftest import H10
from platform_tests.integration.reconcile.snapshots import assert_unchanged, snapshot

H10_KEY = "2026-11-26-10:00"


def _evaluations(config, resources) -> dict[str, dg.AssetCheckEvaluation]:
    defs = dg.Definitions(assets=[dg.AssetSpec(key, partitions_def=landing_hours) for key in STREAMED],
                          asset_checks=list(checks.consistency_checks), jobs=[jobs.reconcile_job], resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("reconcile").execute_in_process(
        instance=instance, tags={"dagster/partition": H10_KEY}, run_config=jobs.checks_run_config(config),
        raise_on_error=False)  # a failed blocking ERROR check fails its step
    entries = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data for e in entries}


def test_the_spark_checks_run_on_emr_serverless_and_find_what_a_local_run_finds(spark, lake, mongo_client, emr_compute,
                                                                               monkeypatch):
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id IN ('e05', 'e07')")
    config = ReconcileConfig(namespace=lake.namespace, documentdb_database=lake.database)

    remote = _evaluations(config, emr_compute.resources)
    with monkeypatch.context() as local:
        local.setenv("CSP_COMPUTE", "local")
        here = _evaluations(config, shared_resources())

    def seen(evaluation):
        return evaluation.passed, evaluation.partition, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}

    assert {name: seen(e) for name, e in remote.items()} == {name: seen(e) for name, e in here.items()}
    assert (remote["reconciles_with_raw"].metadata["missing_events_samples"].value,
            remote["tickets_match_events"].passed, remote["documentdb_matches_lake"].passed) == (["e05", "e07"], False, True)
    drivers = [request["jobDriver"]["sparkSubmit"] for request in emr_compute.fake.requests]
    assert sorted(d["entryPointArguments"][1] for d in drivers) == ["documents", "raw", "tickets"]
    assert {d["entryPoint"] for d in drivers} == {"s3://cs-code/cs/v1/check_job.py"}
    assert {tuple(d["entryPointArguments"][2:]) for d in drivers} == {
        ("--hour", "2026-11-26T10", "--namespace", lake.namespace, "--database", lake.database)}
    backfill_hours(spark, lake.tables, lake.landing, lake.writer(mongo_client), [H10])  # the module's lake, repaired
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e05", "e07"})


def run_hour_10(job, lake, emr_compute) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    """Run a repair job on partition H10 with this test's namespace and database, on the fake EMR."""
    defs = dg.Definitions(assets=[dg.AssetSpec(key, partitions_def=landing_hours) for key in STREAMED],
                          asset_checks=list(checks.consistency_checks), jobs=[job], resources=emr_compute.resources)
    instance = dg.DagsterInstance.ephemeral()
    [op] = job.graph.node_names()
    result = defs.resolve_job_def(job.name).execute_in_process(
        instance=instance, partition_key=H10_KEY, raise_on_error=False,
        run_config={"ops": {op: {"config": {"namespace": lake.namespace, "documentdb_database": lake.database}}}})
    return result, instance


def test_backfill_on_emr_serverless_repairs_the_hour_and_reports_its_checks(spark, lake, mongo_client, emr_compute):
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id IN ('e05', 'e07')")
    config = ReconcileConfig(namespace=lake.namespace, documentdb_database=lake.database)

    result, instance = run_hour_10(jobs.backfill_job, lake, emr_compute)

    assert result.success, emr_compute.fake.stderr()
    entries = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data for e in entries}
    assert {name: (e.passed, e.partition) for name, e in evaluations.items()} == {
        "reconciles_with_raw": (True, H10_KEY), "tickets_match_events": (True, H10_KEY)}
    assert evaluations["reconciles_with_raw"].metadata["config_namespace"].value == config.namespace
    materialized = {(m.asset_key, m.partition): m.metadata for m in result.asset_materializations_for_node("backfill_landing_hours")}
    assert set(materialized) == {(asset, H10_KEY) for asset in STREAMED}
    figures = materialized[(STREAMED[0], H10_KEY)]
    assert (figures["backfill"].value, figures["lines_read"].value, figures["new_events"].value) == (True, 10, 2)
    [request] = emr_compute.fake.requests
    assert request["jobDriver"]["sparkSubmit"]["entryPoint"] == "s3://cs-code/cs/v1/repair_job.py"
    assert request["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "--hours", "2026-11-26T10", "--namespace", lake.namespace, "--database", lake.database]
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e05", "e07"})


def test_reproject_on_emr_serverless_rewrites_the_hours_documents_and_reports_its_check(spark, lake, mongo_client,
                                                                                          emr_compute):
    before = snapshot(spark, lake, mongo_client)
    collection = mongo_client[lake.database]["tickets"]
    collection.update_one({"_id": "T3"}, {"$set": {"priority": "low", "agent_id": "intruder"}})
    collection.delete_one({"_id": "T2"})

    result, instance = run_hour_10(jobs.reproject_job, lake, emr_compute)

    assert result.success, emr_compute.fake.stderr()
    [entry] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluation = entry.dagster_event.event_specific_data
    assert (evaluation.check_name, evaluation.passed, evaluation.partition) == (
        "documentdb_matches_lake", True, H10_KEY)
    assert evaluation.metadata["total_discrepancies"].value == 0
    [materialization] = result.asset_materializations_for_node("reproject_landing_hours")
    assert (materialization.asset_key, materialization.partition) == (STREAMED[3], H10_KEY)
    assert materialization.metadata["reprojected_documents"].value == 3
    [request] = emr_compute.fake.requests
    assert request["jobDriver"]["sparkSubmit"]["entryPoint"] == "s3://cs-code/cs/v1/repair_job.py"
    assert request["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "--hours", "2026-11-26T10", "--namespace", lake.namespace, "--database", lake.database, "--repair", "reproject"]
    assert_unchanged(before, snapshot(spark, lake, mongo_client))
