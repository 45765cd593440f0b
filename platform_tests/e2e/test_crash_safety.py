"""kill -9 at the three fault points, then a restart, converges to exactly the tables and documents
of an uninterrupted run; a DocumentDB outage fails the run clearly and the next run converges."""

from __future__ import annotations

import math

import pymongo
import pytest

from cs_platform.adapters.services import SecantusService, free_port
from cs_platform.streaming.checkpoint import committed_batches

from .harness import Env, arrivals, assert_matches_reference, deliver, sample, snapshot, summary_of

pytestmark = pytest.mark.slow

BATCHES = 3  # the crash hits batch 1, after batch 0 committed; batch 2 is still to come
CHUNK = 10   # several DocumentDB bulk writes per batch, so `mid_documentdb` is really mid-write


@pytest.fixture(scope="module")
def sim():
    return sample(seed=23, events=300)


def max_files(sim) -> int:
    return math.ceil(len(sim.planned) / BATCHES)


@pytest.fixture(scope="module")
def uninterrupted(services, spark, mongo_client, tmp_path_factory, sim):
    env = Env(tmp_path_factory.mktemp("uninterrupted"))
    deliver(env.landing, list(sim.objects()))
    summary = summary_of(env.stream_once(max_files=max_files(sim), chunk_size=CHUNK))
    assert summary["batches"] == BATCHES
    snap = snapshot(spark, mongo_client, env)
    mongo_client.drop_database(env.database)
    return snap


@pytest.mark.parametrize("point", ["after_events_merge", "after_lake_commit", "mid_documentdb"])
def test_kill_9_then_restart_converges(point, spark, mongo_client, e2e_env, sim, uninterrupted):
    deliver(e2e_env.landing, list(sim.objects()))
    crashed = e2e_env.stream_once(fault=point, fault_batch=1, max_files=max_files(sim), chunk_size=CHUNK)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    checkpoint = f"{e2e_env.checkpoints.as_uri()}/cs_events"
    assert committed_batches(checkpoint) == [0]
    partial = snapshot(spark, mongo_client, e2e_env)
    assert len(partial["events"]) > 0 and partial != uninterrupted
    if point == "mid_documentdb":  # some, not all, of batch 1's documents were written
        assert len(partial["tickets"]) > len(partial["documents"]) or any(
            partial["documents"][t]["event_count"] != partial["tickets"][t]["event_count"] for t in partial["documents"])

    restarted = summary_of(e2e_env.stream_once(max_files=max_files(sim), chunk_size=CHUNK))
    assert restarted["batches"] == 2  # batch 1 replayed, then batch 2
    assert committed_batches(checkpoint) == [0, 1, 2]
    assert snapshot(spark, mongo_client, e2e_env) == uninterrupted


def test_documentdb_outage_fails_clearly_then_next_run_converges(spark, tmp_path, e2e_env, sim):
    server = SecantusService(tmp_path / "own_secantus")
    port = free_port()
    pid = server.start(port)
    e2e_env.documentdb_uri = f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    client = pymongo.MongoClient(e2e_env.documentdb_uri, retryWrites=False, serverSelectionTimeoutMS=10_000)
    first, second = arrivals(sim)
    try:
        deliver(e2e_env.landing, first)
        summary_of(e2e_env.stream_once())

        server.stop(pid)
        deliver(e2e_env.landing, second)
        failed = e2e_env.stream_once()
        assert failed.returncode == 1
        assert ("error: the streaming query failed; nothing after the last committed batch is lost, rerun "
                "`csp stream` to replay it. Cause: pymongo.errors.ServerSelectionTimeoutError: ") in failed.stderr

        pid = server.start(port)
        summary_of(e2e_env.stream_once())
        assert_matches_reference(snapshot(spark, client, e2e_env), sim, first + second)
    finally:
        client.close()
        server.stop(pid)
