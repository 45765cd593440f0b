"""Per-test isolation for the stream tests: own namespace, Mongo database, landing and checkpoint."""

from __future__ import annotations

import pytest


@pytest.fixture
def stream_env(settings, spark, unique_name, tmp_path, mongo_client):
    from cs_platform.adapters.documentdb import DocumentDBWriter
    from cs_platform.adapters.lake_tables import LakeTables

    namespace, database = unique_name("ns"), unique_name("db")
    landing, checkpoints = tmp_path / "landing", tmp_path / "checkpoints"
    landing.mkdir()
    local = settings.model_copy(update={"landing_uri": landing.as_uri(), "checkpoint_uri": checkpoints.as_uri()})
    tables = LakeTables(namespace=namespace)
    env = {
        "settings": local, "tables": tables, "database": database, "landing": landing, "checkpoints": checkpoints,
        "writer": lambda **kw: DocumentDBWriter.from_settings(local, database=database, **kw),
    }
    yield env
    mongo_client.drop_database(database)
