"""EMR Serverless compute for integration tests: `make package`'s artifacts in S3 (moto), the
settings of an EMR deployment, and the FAKE EMR (`fake_emr`: EMR cannot run here)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from platform_tests.integration.fake_emr import FakeEmrServerless

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class EmrCompute:
    fake: FakeEmrServerless
    resources: dict  # the shared Dagster resources, `emr_serverless` on the fake


@pytest.fixture
def emr_compute(settings, moto_endpoint, monkeypatch, tmp_path) -> EmrCompute:
    import boto3

    from cs_platform.defs.resources import EmrServerlessResource, LakeSparkResource, shared_resources

    dist = tmp_path / "dist"  # what `make package` builds, uploaded where CSP_EMR_CODE_URI points
    subprocess.run([str(ROOT / "scripts" / "package-emr.sh"), str(dist)], check=True, capture_output=True,
                   env={**os.environ, "PYTHON": sys.executable})
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="cs-code")
    for artifact in dist.iterdir():
        s3.upload_file(str(artifact), "cs-code", f"cs/v1/{artifact.name}")
    for var, value in {"CSP_COMPUTE": "emr-serverless", "CSP_EMR_APPLICATION_ID": "00fcsapp",
                       "CSP_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/cs-emr",
                       "CSP_EMR_CODE_URI": "s3://cs-code/cs/v1", "CSP_EMR_LOG_GROUP": "/cs/emr"}.items():
        monkeypatch.setenv(var, value)
    fake = FakeEmrServerless(s3, boto3.client("logs", endpoint_url=moto_endpoint), tmp_path / "emr",
                             str(ROOT / "platform"))

    class OnFakeEmr(EmrServerlessResource):
        def emr_client(self):
            return fake

    class NoSparkHere(LakeSparkResource):
        """In EMR mode the Dagster process runs no Spark: a step that tries fails its test."""

        def _init_session(self) -> None:
            raise AssertionError("the Dagster process started Spark with CSP_COMPUTE=emr-serverless")

    return EmrCompute(fake, {**shared_resources(), "pyspark": NoSparkHere(), "pyspark_hive": NoSparkHere(hive=True),
                             "emr_serverless": OnFakeEmr(endpoint_url=moto_endpoint, poll_interval_s=0.5)})
