"""FAKE EMR Serverless: EMR cannot run here, so this stands in for the boto3 `emr-serverless`
client that dagster-aws Pipes drives. Everything around it is real: the entry point is read from
S3 (moto), run as its own process with the driver environment that `spark-submit` would receive,
and its stdout lands in CloudWatch Logs (moto) under the stream EMR Serverless uses, where Pipes
reads the job's messages. The packaged environment (`spark.archives ...#environment`) is stood in
for by this test run's own virtualenv, linked where EMR would unpack the archive."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

_DRIVER_ENV = "spark.emr-serverless.driverEnv."


def spark_confs(spark_submit_parameters: str) -> dict[str, str]:
    """`--conf K=V` pairs -> {K: V}."""
    parts = shlex.split(spark_submit_parameters)
    return dict(parts[i + 1].split("=", 1) for i, part in enumerate(parts) if part == "--conf")


def driver_environment(spark_submit_parameters: str) -> dict[str, str]:
    """`--conf spark.emr-serverless.driverEnv.K=V` pairs -> {K: V}."""
    return {k[len(_DRIVER_ENV):]: v for k, v in spark_confs(spark_submit_parameters).items() if k.startswith(_DRIVER_ENV)}


class FakeEmrServerless:
    def __init__(self, s3, logs, workdir: Path, python_path: str):
        self.s3, self.logs, self.workdir, self.python_path = s3, logs, workdir, python_path
        self.requests: list[dict] = []  # every start_job_run request, as Pipes sent it
        self.runs: dict[str, dict] = {}  # job run id -> its process, request and files

    def start_job_run(self, **params):
        self.requests.append(params)
        run_id = uuid.uuid4().hex[:16]
        driver = params["jobDriver"]["sparkSubmit"]
        bucket, key = driver["entryPoint"].removeprefix("s3://").split("/", 1)
        script = self.workdir / run_id / Path(key).name
        script.parent.mkdir(parents=True)
        script.write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for archive in filter(None, spark_confs(driver["sparkSubmitParameters"]).get("spark.archives", "").split(",")):
            (script.parent / archive.rsplit("#", 1)[-1]).symlink_to(sys.prefix)
        env = {**os.environ, "PYTHONPATH": self.python_path, **driver_environment(driver["sparkSubmitParameters"])}
        out, err = open(script.parent / "stdout", "wb"), open(script.parent / "stderr", "wb")
        process = subprocess.Popen([sys.executable, str(script), *driver["entryPointArguments"]],
                                   stdout=out, stderr=err, env=env, cwd=script.parent)
        self.runs[run_id] = {"process": process, "params": params, "dir": script.parent, "shipped": False,
                              "files": (out, err)}
        return {"applicationId": params["applicationId"], "jobRunId": run_id, "arn": f"arn:fake:emr:{run_id}"}

    def get_job_run(self, applicationId, jobRunId):
        run = self.runs[jobRunId]
        code = run["process"].poll()
        state = "RUNNING" if code is None else "SUCCESS" if code == 0 else "FAILED"
        if code is not None and not run["shipped"]:
            for file in run["files"]:
                file.close()
            self._ship_logs(applicationId, jobRunId, run)
        details = "" if code in (None, 0) else (run["dir"] / "stderr").read_text()[-2000:]
        return {"jobRun": {"applicationId": applicationId, "jobRunId": jobRunId, "state": state,
                           "stateDetails": details,
                           "configurationOverrides": run["params"].get("configurationOverrides", {})}}

    def stderr(self, index: int = -1) -> str:
        return (list(self.runs.values())[index]["dir"] / "stderr").read_text()

    def get_application(self, applicationId):
        return {"application": {"applicationId": applicationId, "type": "Spark"}}

    def get_dashboard_for_job_run(self, applicationId, jobRunId):
        return {"url": f"https://fake-emr.invalid/{applicationId}/{jobRunId}"}

    def cancel_job_run(self, applicationId, jobRunId):
        self.runs[jobRunId]["process"].kill()
        return {"applicationId": applicationId, "jobRunId": jobRunId}

    def _ship_logs(self, application_id: str, run_id: str, run: dict) -> None:
        """The driver's stdout and stderr to `<group>/applications/<app>/jobs/<run>/SPARK_DRIVER/<file>`,
        as EMR does (Pipes waits a minute for a log stream it expects and does not find)."""
        config = run["params"]["configurationOverrides"]["monitoringConfiguration"]["cloudWatchLoggingConfiguration"]
        group = config["logGroupName"]
        if not self.logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            self.logs.create_log_group(logGroupName=group)
        now = int(time.time() * 1000)
        for name in ("stdout", "stderr"):
            stream = f"/applications/{application_id}/jobs/{run_id}/SPARK_DRIVER/{name}"
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
            lines = [line for line in (run["dir"] / name).read_text().splitlines() if line]
            if lines:
                self.logs.put_log_events(logGroupName=group, logStreamName=stream,
                                         logEvents=[{"timestamp": now, "message": line} for line in lines])
        run["shipped"] = True
