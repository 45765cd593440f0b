"""Shared test fixtures: one CSP_HOME, one set of local services and ONE Spark session per test
session (Spark starts in 5-10 s; sharing it keeps the suite fast).

Tests isolate themselves by using their own namespace in `lake` / database in DocumentDB
(see `unique_name`) and their own tmp landing and checkpoint directories.
"""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session")
def csp_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("csp_home")
    os.environ["CSP_HOME"] = str(home)
    for var in ("CSP_LANDING_URI", "CSP_WAREHOUSE_URI", "CSP_CHECKPOINT_URI", "CSP_CATALOG_URI",
                "CSP_DOCUMENTDB_URI", "CSP_PROFILE"):
        os.environ.pop(var, None)
    return home


@pytest.fixture(scope="session")
def services(csp_home):
    from cs_platform.adapters.services import LocalServices
    from cs_platform.settings import load_settings

    local = LocalServices(load_settings())
    statuses = local.up()
    assert all(s.running for s in statuses.values()), statuses
    yield local
    local.down()


@pytest.fixture(scope="session")
def settings(services):
    from cs_platform.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def spark(settings):
    from cs_platform.adapters.spark import build_spark_session

    session = build_spark_session(settings, app_name="cs-lakehouse-tests", hive=True)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def iceberg_catalog(settings):
    from cs_platform.adapters.catalog import pyiceberg_catalog

    return pyiceberg_catalog(settings)


@pytest.fixture(scope="session")
def mongo_client(settings):
    import pymongo

    client = pymongo.MongoClient(settings.documentdb, **settings.documentdb_client_kwargs())
    yield client
    client.close()


@pytest.fixture
def unique_name():
    """A fresh identifier-safe name (for a namespace, a database or a table) per call."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:6]}"

    return make


# moto's server on 127.0.0.1 (S3, CloudWatch Logs ...): a real HTTP endpoint, no mocks in-process.
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
