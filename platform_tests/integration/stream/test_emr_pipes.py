"""`cs_stream` on EMR Serverless through dagster-aws Pipes (CSP_COMPUTE=emr-serverless).

EMR is the one FAKE part (`fake_emr.FakeEmrServerless`, it cannot run here): the Pipes client,
its CloudWatch message reader, S3 and CloudWatch Logs (moto's server), the entry point, Spark,
Iceberg and DocumentDB are real. The remote run must report what a local run reports."""

from __future__ import annotations

import dagster as dg
import pytest

from cs_platform.defs.stream.assets import STREAMED
from cs_platform.defs.stream.jobs import cs_stream_job

from platform_tests.integration.fake_emr import driver_environment
from .landing_files import event_line, utc, write_landing_file

T = utc(2026, 11, 26, 9)


@pytest.fixture
def emr(stream_env, emr_compute, monkeypatch):
    monkeypatch.setenv("CSP_LANDING_URI", stream_env["settings"].landing)
    monkeypatch.setenv("CSP_CHECKPOINT_URI", stream_env["settings"].checkpoint)
    return {**stream_env, "fake": emr_compute.fake, "resources": emr_compute.resources}


def run_job(emr, **config):
    config = {"namespace": emr["tables"].namespace, "documentdb_database": emr["database"], **config}
    return cs_stream_job.execute_in_process(run_config={"ops": {"stream_available_now": {"config": config}}},
                                            instance=dg.DagsterInstance.ephemeral(), resources=emr["resources"],
                                            raise_on_error=False)


def test_cs_stream_runs_on_emr_serverless_and_reports_its_hours_through_pipes(emr, spark, mongo_client):
    write_landing_file(emr["landing"], utc(2026, 11, 26, 9), [
        event_line("e1", "ticket_created", "T1", 1, T, customer_id="c1", channel="chat"), "oops"], gz=True)
    write_landing_file(emr["landing"], utc(2026, 11, 26, 10), [
        event_line("e2", "agent_assigned", "T1", 2, T.replace(minute=2), agent_id="a1")])

    result = run_job(emr, max_files_per_trigger=1)  # two batches: a Pipes message each

    assert result.success, emr["fake"].stderr()
    materialized = {(m.asset_key, m.partition): m.metadata for m in result.asset_materializations_for_node("stream_available_now")}
    assert set(materialized) == {(a, h) for a in STREAMED for h in ("2026-11-26-09:00", "2026-11-26-10:00")}
    nine, ten = materialized[(STREAMED[0], "2026-11-26-09:00")], materialized[(STREAMED[2], "2026-11-26-10:00")]
    assert (nine["lines_read"].value, nine["valid"].value, nine["quarantined"].value) == (2, 1, 1)
    assert (ten["lines_read"].value, ten["valid"].value, ten["quarantined"].value, ten["batch_tickets_changed"].value) == (1, 1, 0, 1)
    assert {nine["batch_ids"].value, ten["batch_ids"].value} == {"0", "1"}
    # the remote query wrote the lake and DocumentDB
    assert spark.table(emr["tables"].events).select("event_id").orderBy("event_id").collect() == [("e1",), ("e2",)]
    assert mongo_client[emr["database"]]["tickets"].find_one({"_id": "T1"}, {"agent_id": 1, "event_count": 1}) == {
        "_id": "T1", "agent_id": "a1", "event_count": 2}

    [request] = emr["fake"].requests
    driver = request["jobDriver"]["sparkSubmit"]
    assert (request["applicationId"], driver["entryPoint"]) == ("00fcsapp", "s3://cs-code/cs/v1/stream_job.py")
    assert driver["entryPointArguments"] == ["--namespace", emr["tables"].namespace, "--database", emr["database"],
                                             "--query-name", "cs_events", "--max-files-per-trigger", "1"]
    env = driver_environment(driver["sparkSubmitParameters"])
    assert env["CSP_LANDING_URI"] == emr["settings"].landing and {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(env)
    assert not {"CSP_HOME", "CSP_COMPUTE", "CSP_EMR_CODE_URI"} & set(env)
    assert request["tags"]["dagster/run-id"] == result.run_id


def test_a_failed_emr_job_fails_the_step_with_emrs_reason_and_its_driver_log(emr, monkeypatch):
    # A setting that only the job's environment on EMR holds (the op checks its own before submitting)
    monkeypatch.setenv("CSP_EMR_SPARK_SUBMIT_PARAMETERS",
                       "--conf spark.emr-serverless.driverEnv.CSP_STREAM_TRIGGER_SECONDS=0")
    result = run_job(emr)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = failure.step_failure_data
    [run_id] = emr["fake"].runs
    assert data.user_failure_data.description.startswith(
        f"EMR Serverless job run {run_id} (stream_job.py) failed: ")
    # EMR's reason (here, the tail of the driver's stderr) names the bad setting
    assert ("invalid settings: CSP_STREAM_TRIGGER_SECONDS: Input should be greater than or equal to 1"
            in data.user_failure_data.description)
    assert data.user_failure_data.metadata["driver_log"].value == (
        f"/cs/emr/applications/00fcsapp/jobs/{run_id}/SPARK_DRIVER/stderr")


def test_a_busy_checkpoint_is_refused_before_an_emr_job_is_submitted(emr):
    import os
    import socket

    from cs_platform.streaming.lock import CheckpointLock, lock_path
    from cs_platform.streaming.query import checkpoint_location

    settings = emr["settings"]
    with CheckpointLock(lock_path(settings, "cs_events"), checkpoint_location(settings), "continuous"):
        result = run_job(emr)

    assert not result.success and emr["fake"].requests == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_failure_data.user_failure_data.description == (
        f"not submitted to EMR Serverless: a query (mode continuous; pid {os.getpid()} on {socket.gethostname()}) "
        f"holds checkpoint {checkpoint_location(settings)}; retry when it has finished")
