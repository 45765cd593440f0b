"""kill -9 at the three fault points, then a restart, converges to exactly the tables and documents
of an uninterrupted run; a DocumentDB outage fails the run clearly and the next run converges."""

from __future__ import annotations

import math
from collections import Counter

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


def batch_zero_counts(partial: dict, sim) -> dict[str, int]:
    """Each ticket's event count once batch 0 committed: its events first delivered in batch 0's files
    (a later delivery of such an event keeps batch 0's row)."""
    files = {"/" + o.key for o in list(sim.objects())[:max_files(sim)]}
    return dict(Counter(e["ticket_id"] for e in partial["events"].values() if e["source_file"] in files))


def assert_crashed_at(point: str, partial: dict, counts0: dict[str, int]) -> None:
    """The state a kill -9 at `point` of batch 1 leaves: which tables and documents batch 1 reached."""
    tickets = {t: row["event_count"] for t, row in partial["tickets"].items()}
    documents = {t: doc["event_count"] for t, doc in partial["documents"].items()}
    if point == "after_events_merge":  # batch 1's events are in, its tickets and documents are not
        assert len(partial["events"]) > sum(counts0.values())
        assert tickets == counts0 and documents == counts0
        return
    assert sum(tickets.values()) == len(partial["events"])  # the tickets are refolded from every event
    changed = {t for t, n in tickets.items() if n != counts0.get(t, 0)}
    written = {t for t in changed if documents.get(t) == tickets[t]}
    unchanged = {t: n for t, n in counts0.items() if t not in changed}
    assert {t: n for t, n in documents.items() if t not in changed} == unchanged
    if point == "after_lake_commit":  # no document of batch 1 yet
        assert (len(changed) > CHUNK, written) == (True, set())
    else:  # mid_documentdb: the first bulk write of batch 1 (at most CHUNK documents), not the others
        assert 0 < len(written) <= CHUNK < len(changed)


@pytest.mark.parametrize("point", ["after_events_merge", "after_lake_commit", "mid_documentdb"])
def test_kill_9_then_restart_converges(point, spark, mongo_client, e2e_env, sim, uninterrupted):
    deliver(e2e_env.landing, list(sim.objects()))
    crashed = e2e_env.stream_once(fault=point, fault_batch=1, max_files=max_files(sim), chunk_size=CHUNK)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    checkpoint = f"{e2e_env.checkpoints.as_uri()}/cs_events"
    assert committed_batches(checkpoint) == [0]
    partial = snapshot(spark, mongo_client, e2e_env)
    assert_crashed_at(point, partial, batch_zero_counts(partial, sim))

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
