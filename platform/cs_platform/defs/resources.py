"""Resources shared by every domain. Clients are small ConfigurableResources; secrets come only
from the environment (`dg.EnvVar`), and the profile is decided once, in `cs_platform.settings`."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster_pyspark import LazyPySparkResource
from pydantic import PrivateAttr

from cs_platform.settings import Settings, load_settings


class SettingsResource(dg.ConfigurableResource):
    """The platform settings, read from CSP_* variables when a run starts."""

    def get(self) -> Settings:
        return load_settings()


class LakeSparkResource(LazyPySparkResource):
    """dagster-pyspark's lazy resource, configured by the platform's one session factory.

    The session starts on first use, so steps and sensors that need no Spark never pay for a JVM.
    `spark_config` holds extra overrides on top of `cs_platform.adapters.spark.spark_conf`.
    """

    spark_config: dict[str, Any] = {}
    hive: bool = False

    def _init_session(self) -> None:
        if self._spark_session is None:
            from cs_platform.adapters.spark import build_spark_session

            session = build_spark_session(load_settings(), app_name="cs-lakehouse-dagster", hive=self.hive)
            for key, value in self.spark_config.items():
                session.conf.set(key, str(value))
            self._spark_session = session


class IcebergCatalogResource(dg.ConfigurableResource):
    """PyIceberg view of catalog `lake`: metadata reads in milliseconds, no JVM."""

    catalog_password: str | None = None
    _catalog: Any = PrivateAttr(default=None)

    def catalog(self):
        if self._catalog is None:
            from cs_platform.adapters.catalog import pyiceberg_catalog

            self._catalog = pyiceberg_catalog(load_settings().with_overrides(catalog_password=self.catalog_password))
        return self._catalog


class DocumentDBResource(dg.ConfigurableResource):
    """A pymongo client with DocumentDB-safe options (retryWrites=false, TLS in prod)."""

    password: str | None = None
    _client: Any = PrivateAttr(default=None)

    def client(self):
        if self._client is None:
            import pymongo

            settings = load_settings()
            kwargs = settings.documentdb_client_kwargs()
            if self.password:
                kwargs["password"] = self.password
            self._client = pymongo.MongoClient(settings.documentdb, **kwargs)
        return self._client


class EmrServerlessResource(dg.ConfigurableResource):
    """Runs a packaged entry point on EMR Serverless through dagster-aws Pipes (CSP_COMPUTE=emr-serverless).

    The job's messages come back through its CloudWatch logs. `endpoint_url` points both AWS
    clients at an AWS-compatible endpoint (tests); unset on AWS.
    """

    endpoint_url: str | None = None
    poll_interval_s: float = 10.0

    def emr_client(self):
        import boto3

        return boto3.client("emr-serverless", endpoint_url=self.endpoint_url)

    def run(self, context, settings: Settings, entry_point: str, arguments: list[str], key: str) -> list[Any]:
        """Run the entry point to completion; return what its custom messages carry under `key`. A
        failed job fails the step with EMR's reason and where its driver log is (Pipes alone says
        only "job failed")."""
        import boto3
        from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesEMRServerlessClient

        from cs_platform.remote.emr_serverless import driver_log, job_run_params

        emr = _Started(self.emr_client())
        pipes = PipesEMRServerlessClient(
            client=emr, poll_interval=self.poll_interval_s,
            message_reader=PipesCloudWatchMessageReader(client=boto3.client("logs", endpoint_url=self.endpoint_url)))
        params = job_run_params(settings, entry_point, arguments, name=f"{context.job_name}-{context.run_id[:8]}",
                                environ=os.environ)
        try:
            messages = pipes.run(context=context, start_job_run_params=params).get_custom_messages()
        except RuntimeError:
            if emr.started is None:
                raise
            app, run_id = emr.started["applicationId"], emr.started["jobRunId"]
            job = emr.get_job_run(applicationId=app, jobRunId=run_id)["jobRun"]
            if job["state"] not in ("FAILED", "CANCELLED", "CANCELLING"):  # not the job's failure
                raise
            reason = job.get("stateDetails", "").strip() or job["state"]
            raise dg.Failure(description=f"EMR Serverless job run {run_id} ({entry_point}) failed: {reason}",
                             metadata={"driver_log": driver_log(settings, app, run_id)}) from None
        return [message[key] for message in messages if key in message]

    def run_for_one(self, context, settings: Settings, entry_point: str, arguments: list[str], key: str,
                    what: str) -> Any:
        """:meth:`run` for a job that reports exactly one result under `key` (`what` names it in the failure).

        A job that reports ``{"error": message}`` failed in its own words: the op fails with them."""
        reported = self.run(context, settings, entry_point, arguments, key)
        if len(reported) != 1:
            raise dg.Failure(f"the EMR job of {what} reported {len(reported)} results, not 1")
        if isinstance(reported[0], dict) and "error" in reported[0]:
            raise dg.Failure(reported[0]["error"])
        return reported[0]


class _Started:
    """The boto3 EMR Serverless client, remembering the job run it started."""

    def __init__(self, client):
        self._client, self.started = client, None

    def start_job_run(self, **params):
        self.started = self._client.start_job_run(**params)
        return self.started

    def __getattr__(self, name):
        return getattr(self._client, name)


def _secret(name: str):
    """An EnvVar when the variable is set (prod), else None: secrets never live in code or config."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def shared_resources() -> dict[str, Any]:
    return {
        "settings": SettingsResource(),
        "pyspark": LakeSparkResource(),
        "pyspark_hive": LakeSparkResource(hive=True),
        "iceberg": IcebergCatalogResource(catalog_password=_secret("CSP_CATALOG_PASSWORD")),
        "documentdb": DocumentDBResource(password=_secret("CSP_DOCUMENTDB_PASSWORD")),
        "emr_serverless": EmrServerlessResource(),
    }
