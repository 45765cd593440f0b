"""e2e fixtures: an isolated pipeline environment per test (namespace, database, dirs)."""

from __future__ import annotations

import pytest

from .harness import Env


@pytest.fixture
def e2e_env(services, tmp_path, mongo_client):
    env = Env(tmp_path)
    env.landing.mkdir(parents=True)
    yield env
    mongo_client.drop_database(env.database)
