"""Migration progress lives with the lake (`<warehouse>/_migrations/`), on S3 in production, so a
migration resumes on whatever machine its next run starts."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from cs_platform.lakehouse.migration.state import MigrationStateStore


@pytest.fixture
def s3_store(moto_endpoint, settings):
    bucket = f"warehouse-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    located = settings.with_overrides(s3_endpoint_url=moto_endpoint)
    return MigrationStateStore(f"s3://{bucket}/lake/_migrations", located), bucket


def test_the_state_on_s3_is_recorded_reloaded_by_another_store_and_forgotten(s3_store, moto_endpoint):
    store, bucket = s3_store
    assert store.load("legacy.cs_ticket_history", "lake.cs.ticket_history").steps == {}
    state = store.load("legacy.cs_ticket_history", "lake.cs.ticket_history")
    store.record(state, "preflight", {"strategy": "add_files"})
    store.record(state, "copy", {"files_adopted": 4})

    body = boto3.client("s3", endpoint_url=moto_endpoint).get_object(
        Bucket=bucket, Key="lake/_migrations/legacy.cs_ticket_history.json")["Body"].read()
    assert json.loads(body)["target"] == "lake.cs.ticket_history"
    elsewhere = MigrationStateStore(store.root, store.settings)  # a fresh run, on another machine
    resumed = elsewhere.load("legacy.cs_ticket_history", "lake.cs.ticket_history")
    assert (resumed.next_step(), resumed.metadata("copy")) == ("verify", {"files_adopted": 4})
    with pytest.raises(ValueError) as other_target:
        elsewhere.load("legacy.cs_ticket_history", "lake.cs.history")
    assert str(other_target.value) == (
        "legacy.cs_ticket_history is being migrated to lake.cs.ticket_history, not lake.cs.history: roll it back "
        "first (csp migrate-hive rollback legacy.cs_ticket_history) or use --target lake.cs.ticket_history")

    elsewhere.forget("legacy.cs_ticket_history")
    assert store.read("legacy.cs_ticket_history") is None
    elsewhere.forget("legacy.cs_ticket_history")  # forgetting twice is harmless
