"""moto's S3 server on 127.0.0.1 (a real HTTP endpoint, no mocks in-process) and landing helpers."""

from __future__ import annotations

import os
import uuid

import pytest

_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_landing_uri(moto_endpoint, monkeypatch):
    """A fresh bucket; CSP_S3_ENDPOINT_URL points at moto for code that reads settings."""
    import boto3

    bucket = f"landing-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    monkeypatch.setenv("CSP_S3_ENDPOINT_URL", moto_endpoint)
    return f"s3://{bucket}/firehose"
