"""Landing helpers on moto's S3 server (`moto_endpoint`, in the root conftest)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def s3_landing_uri(moto_endpoint, monkeypatch):
    """A fresh bucket; CSP_S3_ENDPOINT_URL points at moto for code that reads settings."""
    import boto3

    bucket = f"landing-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    monkeypatch.setenv("CSP_S3_ENDPOINT_URL", moto_endpoint)
    return f"s3://{bucket}/firehose"
