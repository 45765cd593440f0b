"""The progress log: one JSON line per committed micro-batch, written by a StreamingQueryListener.

Spark reports a batch's progress after its commit is written to the checkpoint, so a line here
means "committed". The line merges Spark's progress (batch id, ids, rows, durations) with the
BatchResult counters of process_batch; the Structured Streaming sensor reads it without a JVM.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path

from pyspark.sql.streaming import StreamingQueryListener

from cs_platform.adapters.storage import local_path, s3_client, s3_location


def progress_log_path(settings, query_name: str) -> Path:
    """The progress log of a LOCAL checkpoint: a JSON-lines file next to it."""
    root = local_path(settings.checkpoint)
    if root is None:
        raise ValueError(f"checkpoint {settings.checkpoint} is on S3: its progress log is S3 objects")
    return root / f"{query_name}.progress.jsonl"


def read_progress(path: Path) -> list[dict]:
    """Every entry of a local progress log (a torn last line from a crash is skipped)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


class LocalProgressLog:
    """A JSON-lines file; a reader's position is the number of lines it has seen."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, entry: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as log:
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()

    def read(self, after: int | str | None = None) -> tuple[list[dict], int]:
        """(entries after position `after`, the new position); a log shorter than `after` was
        truncated and is read from its start."""
        entries = read_progress(self.path)
        start = after if isinstance(after, int) and after <= len(entries) else 0
        return entries[start:], len(entries)

    def last(self) -> dict | None:
        entries = read_progress(self.path)
        return entries[-1] if entries else None


READ_BUDGET_SECONDS = 20.0


class S3ProgressLog:
    """S3 has no append: one object per entry under a prefix next to the checkpoint, named so that
    keys sort in writing order; a reader's position is the last key it has seen (listed after)."""

    def __init__(self, uri: str, settings=None):
        self.uri, (self.bucket, path) = uri, s3_location(uri)
        self.prefix = path.strip("/") + "/"
        self._client = s3_client(settings)

    def append(self, entry: dict) -> None:
        millis, batch = time.time_ns() // 1_000_000, int(entry.get("batch_id", 0))
        key = f"{self.prefix}{millis:015d}-{batch:012d}-{uuid.uuid4().hex[:8]}.json"
        self._client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(entry, default=str).encode(),
                                ContentType="application/json")

    def read(self, after: int | str | None = None, limit: int = 500,
             budget_seconds: float = READ_BUDGET_SECONDS) -> tuple[list[dict], str | None]:
        """At most `limit` entries after key `after`, in key order, and the last key read. A sensor tick
        has 60 s: objects are fetched 16 at a time, and the read stops after `budget_seconds` (far from
        the bucket, 500 sequential GETs took longer than a tick, which then saved no cursor and read the
        same entries again forever); the next read goes on from where this one stopped."""
        start = after if isinstance(after, str) and after.startswith(self.prefix) else ""
        deadline = time.monotonic() + budget_seconds
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, StartAfter=start or self.prefix,
            PaginationConfig={"MaxItems": limit})
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        entries, last = [], start or None
        with ThreadPoolExecutor(max_workers=16) as pool:
            bodies = [(key, pool.submit(self._body, key)) for key in keys]
            for key, body in bodies:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    text = body.result(timeout=left)
                except FuturesTimeout:
                    break
                try:
                    entries.append(json.loads(text))
                except ValueError:
                    pass
                last = key
            for _, body in bodies:
                body.cancel()
        return entries, last

    def _body(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def last(self) -> dict | None:
        """The latest entry (lists every key: for an operator's command, not for a sensor tick)."""
        keys = [obj["Key"] for page in self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.prefix) for obj in page.get("Contents", [])]
        if not keys:
            return None
        return json.loads(self._client.get_object(Bucket=self.bucket, Key=max(keys))["Body"].read())


def progress_log(settings, query_name: str) -> LocalProgressLog | S3ProgressLog:
    """The progress log of `<settings.checkpoint>/<query_name>`, next to it: on S3 for an S3
    checkpoint, so that the sensor sees what a query on another machine (EMR) committed."""
    if local_path(settings.checkpoint) is not None:
        return LocalProgressLog(progress_log_path(settings, query_name))
    return S3ProgressLog(f"{settings.checkpoint.rstrip('/')}/{query_name}.progress/", settings)


class ProgressLogListener(StreamingQueryListener):
    """Appends one line per batch of ONE query (by id) to the progress log."""

    def __init__(self, log: LocalProgressLog | S3ProgressLog, results: dict, extra: dict | None = None,
                 on_entry=None):
        self.log, self.results, self.extra = log, results, dict(extra or {})
        self.on_entry = on_entry  # called with each entry once it is in the log (the batch has committed)
        self.query_id: str | None = None
        self.written: set[int] = set()
        self._lock = threading.Lock()

    def onQueryStarted(self, event) -> None:
        pass

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        pass

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        if self.query_id is not None and str(progress.id) != self.query_id:
            return
        result = self.results.pop(progress.batchId, None)
        if result is None:  # a trigger without data
            return
        entry = {
            "query_id": str(progress.id), "run_id": str(progress.runId), "name": progress.name,
            "batch_id": progress.batchId, "timestamp": progress.timestamp, "written_at": time.time(),
            "num_input_rows": progress.numInputRows, "duration_ms": dict(progress.durationMs or {}),
            **self.extra, **result.as_dict(),
        }
        with self._lock:
            self.log.append(entry)
        self.written.add(progress.batchId)
        if self.on_entry is not None:
            self.on_entry(entry)
