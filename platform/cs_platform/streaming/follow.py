"""What the Structured Streaming sensor sees, without a JVM: pending landing files, who holds the
checkpoint, and committed batches from the progress log that no Dagster run has reported."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from cs_platform.streaming.checkpoint import checkpoint_location, committed_batches, unprocessed_files
from cs_platform.streaming.lock import checkpoint_holder
from cs_platform.streaming.metadata import hour_metadata
from cs_platform.streaming.progress import progress_log


RETRY_BASE_SECONDS = 120    # a failed run's backlog is requested again after 2, 4, 8 ... minutes
RETRY_MAX_SECONDS = 3600


@dataclass
class FollowCursor:
    progress: int | str | None = None  # position in the progress log: lines read (local), last key read (S3)
    requested: str | None = None   # run key of the last availableNow request for a new backlog
    retries: int = 0               # requests of that backlog again after its run failed

    @classmethod
    def parse(cls, text: str | None) -> "FollowCursor":
        data = json.loads(text) if text else {}
        if "progress_lines" in data:  # a cursor written before S3 progress logs
            data["progress"] = data.pop("progress_lines")
        return cls(**data)

    def dump(self) -> str:
        return json.dumps({"progress": self.progress, "requested": self.requested,
                           "retries": self.retries}, sort_keys=True)

    @property
    def last_run_key(self) -> str | None:
        """The run key of the latest request (the backlog's, or its latest retry's)."""
        if self.requested is None or self.retries == 0:
            return self.requested
        return f"{self.requested}:retry-{self.retries}"


@dataclass
class Observation:
    cursor: FollowCursor
    run_key: str | None = None                 # request an availableNow run with this key
    pending_files: int = 0
    running: dict | None = None                # the lock holder (pid, mode), when a query runs
    runless: dict[str, dict] = field(default_factory=dict)  # hour -> metadata of batches no run reported


def observe(settings, query_name: str, cursor: FollowCursor, may_request: bool = True) -> Observation:
    """What to report and whether to request a run. ``may_request=False`` while a requested run has
    not started its query yet (queued, or starting Spark): it holds no lock, but it will take the files."""
    checkpoint = checkpoint_location(settings, query_name)
    entries, position = progress_log(settings, query_name).read(cursor.progress)
    # Batch ids commit in order, and Spark keeps only the latest commit files (minBatchesToRetain,
    # 100): a sensor that was off for longer than 100 batches finds its entries' commits purged.
    last_commit = max(committed_batches(checkpoint, settings), default=-1)
    fresh = [e for e in entries if not e.get("dagster_run_id") and -1 < e.get("batch_id", -1) <= last_commit]
    obs = Observation(cursor=replace(cursor, progress=position),
                      runless=hour_metadata(fresh), running=checkpoint_holder(settings, query_name))
    if obs.running is not None:  # a query is at work (continuous, or a run/CLI availableNow): it will pick files up
        return obs
    pending = unprocessed_files(settings.landing, checkpoint, settings)
    obs.pending_files = len(pending)
    if pending and may_request:
        key = "cs_stream:" + hashlib.sha256("\n".join(pending).encode()).hexdigest()[:20]
        if key != cursor.requested:
            obs.run_key = key
            obs.cursor.requested, obs.cursor.retries = key, 0
    return obs


_LAST_BATCH_FIELDS = ("batch_id", "mode", "written_at", "lines_read", "valid", "quarantined", "new_events",
                      "tickets_changed", "documentdb_writes", "landing_hours", "duration_s", "dagster_run_id")


def status(settings, query_name: str) -> dict:
    """An operator's view of the query, without a JVM (`csp stream --status`): who holds the
    checkpoint, what has committed, what waits in the landing zone, and the last batch."""
    checkpoint = checkpoint_location(settings, query_name)
    committed = committed_batches(checkpoint, settings)
    last = progress_log(settings, query_name).last()
    return {
        "checkpoint": checkpoint,
        "holder": checkpoint_holder(settings, query_name),
        "committed_batches": len(committed),
        "last_committed_batch": committed[-1] if committed else None,
        "pending_files": len(unprocessed_files(settings.landing, checkpoint, settings)),
        "last_batch": {k: last.get(k) for k in _LAST_BATCH_FIELDS if k in last} if last else None,
    }


def retry_delay(retries: int) -> float:
    """Seconds to wait after the failure of a backlog's run (`retries` requests of it so far)."""
    return min(RETRY_BASE_SECONDS * 2 ** retries, RETRY_MAX_SECONDS)


def retry_after_failure(obs: Observation, failed_at: float | None, now: float) -> float | None:
    """The backlog's last run failed at `failed_at` (None: it did not fail, or is unknown): request
    it again (sets `obs.run_key`) once the delay has passed; else return the seconds left to wait.

    Without this, a backlog whose run failed (DocumentDB down, a bad deploy) would wait for the next
    landing file to change its run key, which never comes in a quiet hour.
    """
    if failed_at is None or obs.run_key is not None or not obs.pending_files:
        return None
    left = failed_at + retry_delay(obs.cursor.retries) - now
    if left > 0:
        return left
    obs.cursor.retries += 1
    obs.run_key = obs.cursor.last_run_key
    return None
