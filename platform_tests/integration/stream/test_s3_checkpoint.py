"""A checkpoint on S3 (moto's server) is shared by machines: its writer lease and its progress log
live next to it on S3, so that a query on EMR, a Dagster backfill and the sensor see each other."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from cs_platform.streaming.follow import FollowCursor, observe, status
from cs_platform.streaming.lease import S3Lease, lease_uri
from cs_platform.streaming.lock import CheckpointBusy, checkpoint_holder, checkpoint_lock
from cs_platform.streaming.progress import S3ProgressLog, progress_log, read_progress
from cs_platform.streaming.query import start_stream

from .landing_files import event_line, utc, write_landing_file

PLATFORM = Path(__file__).resolve().parents[3] / "platform"


@pytest.fixture
def s3_checkpoint(settings, moto_endpoint, monkeypatch):
    """Settings whose checkpoint root is a fresh S3 bucket on moto."""
    bucket = f"checkpoints-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    monkeypatch.setenv("CSP_S3_ENDPOINT_URL", moto_endpoint)
    return settings.with_overrides(checkpoint_uri=f"s3://{bucket}/cs", s3_endpoint_url=moto_endpoint)


def _lease_body(settings) -> dict:
    uri = lease_uri(settings.checkpoint, "cs_events")
    bucket, key = uri[len("s3://"):].split("/", 1)
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _refusal(settings, mode: str) -> str:
    """The message refusing a writer in `mode` while the lease is held."""
    with pytest.raises(CheckpointBusy) as refused:
        with checkpoint_lock(settings, "cs_events", mode):
            pass
    return str(refused.value)


def test_a_second_writer_is_refused_while_the_lease_is_held(s3_checkpoint):
    settings = s3_checkpoint
    uri, checkpoint = lease_uri(settings.checkpoint, "cs_events"), f"{settings.checkpoint}/cs_events"
    with checkpoint_lock(settings, "cs_events", "continuous") as held:
        assert isinstance(held, S3Lease) and uri == f"{settings.checkpoint}/cs_events.lease"
        body = _lease_body(settings)
        assert (body["mode"], body["pid"], body["ttl_seconds"]) == ("continuous", os.getpid(), 120.0)
        assert checkpoint_holder(settings, "cs_events") == body
        assert _refusal(settings, "backfill") == (
            f"another streaming query is already running on checkpoint {checkpoint} (lease {uri} held by "
            f"{json.dumps(body)}); wait for it to finish or stop it, then retry")
        held.ensure_held()
    assert checkpoint_holder(settings, "cs_events") is None

    with checkpoint_lock(settings, "cs_events", "backfill"):
        assert _refusal(settings, "once") == (
            f"a backfill is writing the tables of checkpoint {checkpoint} (lease {uri} held by "
            f"{json.dumps(_lease_body(settings))}); wait for it to finish, then retry")
    assert checkpoint_holder(settings, "cs_events") is None


_HOLDER = textwrap.dedent("""
    import sys, time
    from types import SimpleNamespace
    from cs_platform.streaming.lease import S3Lease
    from cs_platform.streaming.lock import CheckpointBusy

    uri, endpoint = sys.argv[1], sys.argv[2]
    with S3Lease(uri, "s3://checkpoint", "continuous", settings=SimpleNamespace(s3_endpoint_url=endpoint),
                 ttl_seconds=2) as held:
        print("held", flush=True)
        while True:
            try:
                held.ensure_held()
            except CheckpointBusy as exc:
                print(exc, flush=True)
                sys.exit(3)
            time.sleep(0.1)
""")


def _start_holder(uri: str, endpoint: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PLATFORM)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, uri, endpoint], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_lease_of_a_killed_holder_expires_and_is_taken_over(s3_checkpoint):
    settings = s3_checkpoint
    uri = lease_uri(settings.checkpoint, "cs_events")
    holder_proc = _start_holder(uri, settings.s3_endpoint_url)
    os.kill(holder_proc.pid, signal.SIGKILL)
    holder_proc.wait()
    assert checkpoint_holder(settings, "cs_events")["pid"] == holder_proc.pid  # until its TTL has passed
    with pytest.raises(CheckpointBusy):
        with S3Lease(uri, "s3://checkpoint", "once", settings=settings):
            pass
    with S3Lease(uri, "s3://checkpoint", "once", wait_seconds=30, settings=settings):
        assert (_lease_body(settings)["pid"], _lease_body(settings)["mode"]) == (os.getpid(), "once")
    assert checkpoint_holder(settings, "cs_events") is None


def test_a_paused_holder_loses_its_lease_and_stops_writing(s3_checkpoint):
    settings = s3_checkpoint
    uri = lease_uri(settings.checkpoint, "cs_events")
    paused = _start_holder(uri, settings.s3_endpoint_url)
    os.kill(paused.pid, signal.SIGSTOP)  # a long GC pause, a frozen VM
    try:
        with S3Lease(uri, "s3://checkpoint", "backfill", wait_seconds=30, settings=settings):
            os.kill(paused.pid, signal.SIGCONT)
            out, _ = paused.communicate(timeout=30)
            assert paused.returncode == 3
            assert out.strip() == (f"lost the lease {uri} of checkpoint s3://checkpoint: it was not renewed within "
                                   "2 s, so another writer may have taken it over; this continuous stops")
            assert _lease_body(settings)["mode"] == "backfill"  # the loser did not delete the winner's lease
    finally:
        if paused.poll() is None:
            os.kill(paused.pid, signal.SIGCONT)
            paused.kill()
    assert checkpoint_holder(settings, "cs_events") is None


def test_the_s3_progress_log_is_read_in_writing_order_from_a_position(s3_checkpoint):
    log = progress_log(s3_checkpoint, "cs_events")
    assert isinstance(log, S3ProgressLog) and log.uri == f"{s3_checkpoint.checkpoint}/cs_events.progress/"
    assert log.read(None) == ([], None)
    for batch in (0, 1, 2):
        log.append({"batch_id": batch, "lines_read": 10 + batch})
    entries, position = log.read(None, limit=2)
    assert [e["batch_id"] for e in entries] == [0, 1]
    entries, position = log.read(position)
    assert [e["batch_id"] for e in entries] == [2]
    assert log.read(position) == ([], position)
    log.append({"batch_id": 3, "lines_read": 13})
    assert [e["lines_read"] for e in log.read(position)[0]] == [13]


def test_a_read_of_the_s3_progress_log_stops_at_its_time_budget_and_goes_on_from_there(s3_checkpoint):
    log = progress_log(s3_checkpoint, "cs_events")
    for batch in range(40):
        log.append({"batch_id": batch})
    assert log.read(None, budget_seconds=0) == ([], None)  # out of time before the first entry: nothing skipped
    entries, position = log.read(None, limit=25)
    rest, end = log.read(position, budget_seconds=60)
    assert [e["batch_id"] for e in entries + rest] == list(range(40))
    assert log.read(end) == ([], end)


def test_the_sensor_follows_a_query_whose_checkpoint_is_on_s3(spark, stream_env, s3_checkpoint):
    """A real query's checkpoint and progress log, moved to S3 as a query on EMR leaves them there:
    the sensor sees the lease holder, the committed hours and, once the query is gone, new files."""
    settings, landing = stream_env["settings"], stream_env["landing"]
    t = utc(2026, 11, 26, 9)
    write_landing_file(landing, t, [event_line("e1", "ticket_created", "T1", 1, t, customer_id="c", channel="chat")])
    start_stream(spark, settings, once=True, tables=stream_env["tables"], use_documentdb=False)
    entries = read_progress(stream_env["checkpoints"] / "cs_events.progress.jsonl")
    assert [e["batch_id"] for e in entries] == [0]

    remote = settings.with_overrides(checkpoint_uri=s3_checkpoint.checkpoint,
                                     s3_endpoint_url=s3_checkpoint.s3_endpoint_url)
    s3 = boto3.client("s3", endpoint_url=remote.s3_endpoint_url)
    bucket, prefix = remote.checkpoint[len("s3://"):].split("/", 1)
    local = stream_env["checkpoints"] / "cs_events"
    for path in sorted(p for p in local.rglob("*") if p.is_file() and not p.name.endswith(".crc")):
        s3.upload_file(str(path), bucket, f"{prefix}/cs_events/{path.relative_to(local)}")
    progress_log(remote, "cs_events").append(entries[0])
    shutil.rmtree(local)

    with checkpoint_lock(remote, "cs_events", "continuous"):
        seen = observe(remote, "cs_events", FollowCursor())
        assert (seen.running["mode"], seen.run_key, seen.pending_files) == ("continuous", None, 0)
        assert {hour: (m["lines_read"], m["batch_new_events"], m["batch_ids"]) for hour, m in seen.runless.items()} == {
            "2026-11-26T09:00:00Z": (1, 1, "0")}
        again = observe(remote, "cs_events", FollowCursor.parse(seen.cursor.dump()))
        assert (again.runless, again.cursor.progress) == ({}, seen.cursor.progress)
        shown = status(remote, "cs_events")  # `csp stream --status`
        assert (shown["holder"]["mode"], shown["committed_batches"], shown["pending_files"],
                shown["last_batch"]["batch_id"], shown["last_batch"]["lines_read"]) == ("continuous", 1, 0, 0, 1)

    write_landing_file(landing, utc(2026, 11, 26, 10),
                       [event_line("e2", "status_changed", "T1", 2, t, status="solved")])
    after = observe(remote, "cs_events", again.cursor)
    assert (after.running, after.pending_files, after.runless) == (None, 1, {})
    assert after.run_key is not None and after.cursor.requested == after.run_key


def _repair_in_thread(settings, seen: dict):
    """A backfill taking the writer lock in a thread (as a Dagster run elsewhere would)."""
    import threading

    from cs_platform.streaming.query import writer_lock

    def repair():
        try:
            with writer_lock(settings, "backfill"):
                seen["holder"] = checkpoint_holder(settings, "cs_events")["mode"]
        except CheckpointBusy as exc:
            seen["refused"] = str(exc)

    thread = threading.Thread(target=repair)
    thread.start()
    return thread


def test_a_continuous_query_hands_its_lease_over_to_a_repair_between_batches(s3_checkpoint, monkeypatch):
    """Without the hand-over, no backfill could ever run while the production query does."""
    import time

    from cs_platform.adapters import storage
    from cs_platform.streaming import handover
    from cs_platform.streaming.handover import Handover, request_uri

    monkeypatch.setattr(handover, "WATCH_SECONDS", 0.1)
    settings, seen = s3_checkpoint, {}
    with checkpoint_lock(settings, "cs_events", "continuous") as held, Handover(settings, "cs_events", held) as query:
        with query.batch():  # a batch in progress: the repair waits for its end
            repair = _repair_in_thread(settings, seen)
            time.sleep(1.5)
            assert checkpoint_holder(settings, "cs_events")["mode"] == "continuous" and seen == {}
            assert json.loads(storage.read_text(request_uri(settings, "cs_events"), settings))["mode"] == "backfill"
        repair.join(30)
        assert seen == {"holder": "backfill"}
        with query.batch():  # the next batch runs once the query holds its lease again
            assert checkpoint_holder(settings, "cs_events")["mode"] == "continuous"
            held.ensure_held()
        assert storage.read_text(request_uri(settings, "cs_events"), settings) is None
    assert checkpoint_holder(settings, "cs_events") is None


def test_a_repair_gives_up_when_the_query_does_not_hand_over_in_time(s3_checkpoint, monkeypatch):
    from cs_platform.adapters import storage
    from cs_platform.streaming import handover
    from cs_platform.streaming.handover import Handover, request_uri

    monkeypatch.setattr(handover, "WATCH_SECONDS", 0.1)
    monkeypatch.setattr(handover, "HANDOVER_WAIT_SECONDS", 2.0)
    settings, seen = s3_checkpoint, {}
    with checkpoint_lock(settings, "cs_events", "continuous") as held, Handover(settings, "cs_events", held) as query:
        with query.batch():  # a batch longer than the repair is willing to wait
            _repair_in_thread(settings, seen).join(30)
            current = json.dumps(_lease_body(settings))  # read while held (after the batch the query may
            # still serve the request it saw, letting go of its lease for a moment)
        assert seen == {"refused": (
            f"the continuous query did not hand the checkpoint over within 2 s: another streaming query is already "
            f"running on checkpoint {settings.checkpoint}/cs_events (lease {held.uri} held by {current}); wait for "
            f"it to finish or stop it, then retry")}
        assert storage.read_text(request_uri(settings, "cs_events"), settings) is None
        with query.batch():
            assert checkpoint_holder(settings, "cs_events")["mode"] == "continuous"


def test_a_request_whose_repair_died_costs_the_query_its_lease_for_seconds_only(s3_checkpoint, monkeypatch):
    """A repair killed after asking: the query lets go, waits TAKE_WAIT_SECONDS for it, takes its lease
    back and deletes the request (else each restart would let go again)."""
    import time

    from cs_platform.adapters import storage
    from cs_platform.streaming import handover
    from cs_platform.streaming.handover import Handover, request_uri

    monkeypatch.setattr(handover, "WATCH_SECONDS", 0.1)
    monkeypatch.setattr(handover, "TAKE_WAIT_SECONDS", 1.0)
    settings = s3_checkpoint
    with checkpoint_lock(settings, "cs_events", "continuous") as held, Handover(settings, "cs_events", held) as query:
        storage.write_text(request_uri(settings, "cs_events"), json.dumps(
            {"id": "dead", "mode": "backfill", "host": "gone", "pid": 1, "since": 0}), settings)
        deadline = time.monotonic() + 30
        while storage.read_text(request_uri(settings, "cs_events"), settings) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        with query.batch():
            assert storage.read_text(request_uri(settings, "cs_events"), settings) is None
            assert checkpoint_holder(settings, "cs_events")["mode"] == "continuous"
            held.ensure_held()
