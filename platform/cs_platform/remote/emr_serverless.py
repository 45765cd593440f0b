"""The EMR Serverless job-run request of a packaged entry point (plain Python, unit-tested).

EMR runs ``<CSP_EMR_CODE_URI>/<entry point>`` with the Python of the packaged environment
(``<CSP_EMR_CODE_URI>/environment.tar.gz``, see ``make package``). The job gets this process's
``CSP_*`` settings as driver environment, except the secrets: job parameters are visible to anyone
who can list job runs, so passwords reach the job through the application's configuration instead
(README, Going to production). Logs go to CloudWatch, where Pipes reads the job's messages.
"""

from __future__ import annotations

from typing import Mapping

from cs_platform.adapters.jars import resolve_jars
from cs_platform.settings import SECRET_VARIABLES, Profile, Settings

ENVIRONMENT_ARCHIVE = "environment.tar.gz"
_PYTHON = "./environment/bin/python"
_DRIVER_ENV = "spark.emr-serverless.driverEnv."
# Not forwarded: secrets; where the orchestrator keeps its local state; how it launches jobs.
_LOCAL_ONLY = {"CSP_HOME", "CSP_COMPUTE"}


def forwarded_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``CSP_*`` variables the job receives (sorted; no secrets, no launcher settings)."""
    chosen = {k: v for k, v in environ.items()
              if k.startswith("CSP_") and v and k not in SECRET_VARIABLES and k not in _LOCAL_ONLY
              and not k.startswith("CSP_EMR_")}  # an empty variable is an unset one (as in Settings)
    for name, value in chosen.items():
        if any(c.isspace() for c in value):
            raise ValueError(f"{name}: cannot be passed to EMR Serverless as a spark-submit --conf "
                             f"(contains whitespace): {value!r}")
    return dict(sorted(chosen.items()))


def job_run_params(settings: Settings, entry_point: str, arguments: list[str], name: str,
                   environ: Mapping[str, str]) -> dict:
    """``start_job_run`` parameters (dagster-aws Pipes adds its own bootstrap variables and tags)."""
    conf = {
        "spark.archives": f"{settings.emr_code_uri}/{ENVIRONMENT_ARCHIVE}#environment",
        f"{_DRIVER_ENV}PYSPARK_DRIVER_PYTHON": _PYTHON,
        f"{_DRIVER_ENV}PYSPARK_PYTHON": _PYTHON,
        "spark.executorEnv.PYSPARK_PYTHON": _PYTHON,
    }
    # Maven coordinates (prod, or CSP_SPARK_PACKAGES); otherwise EMR's bundled Iceberg, named in
    # CSP_EMR_SPARK_SUBMIT_PARAMETERS. Never this machine's offline jars: EMR cannot read them.
    if settings.spark_packages or settings.profile is Profile.PROD:
        packages = resolve_jars(settings).packages
        if packages:
            conf["spark.jars.packages"] = ",".join(packages)
    conf.update({f"{_DRIVER_ENV}{k}": v for k, v in forwarded_variables(environ).items()})
    submit = " ".join(f"--conf {k}={v}" for k, v in conf.items())
    if settings.emr_spark_submit_parameters:
        submit = f"{submit} {settings.emr_spark_submit_parameters}"
    return {
        "applicationId": settings.emr_application_id,
        "executionRoleArn": settings.emr_execution_role_arn,
        "name": name,
        "jobDriver": {"sparkSubmit": {"entryPoint": f"{settings.emr_code_uri}/{entry_point}",
                                      "entryPointArguments": list(arguments),
                                      "sparkSubmitParameters": submit}},
        "configurationOverrides": {"monitoringConfiguration": {"cloudWatchLoggingConfiguration": {
            "enabled": True, "logGroupName": settings.emr_log_group}}},
    }


def driver_log(settings: Settings, application_id: str, job_run_id: str) -> str:
    """The CloudWatch stream of a job run's driver stderr (where a failure's traceback is)."""
    return f"{settings.emr_log_group}/applications/{application_id}/jobs/{job_run_id}/SPARK_DRIVER/stderr"
