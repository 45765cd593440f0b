"""The progress log: one JSON line per committed micro-batch, written by a StreamingQueryListener.

Spark reports a batch's progress after its commit is written to the checkpoint, so a line here
means "committed". The line merges Spark's progress (batch id, ids, rows, durations) with the
BatchResult counters of process_batch; the Structured Streaming sensor reads it without a JVM.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from pyspark.sql.streaming import StreamingQueryListener

from cs_platform.streaming.storage import local_path


def progress_log_path(settings, query_name: str) -> Path:
    root = local_path(settings.checkpoint)
    if root is not None:
        return root / f"{query_name}.progress.jsonl"
    digest = hashlib.sha256(f"{settings.checkpoint}/{query_name}".encode()).hexdigest()[:16]
    return settings.home_dir / "streaming" / f"{query_name}-{digest}.progress.jsonl"


def read_progress(path: Path) -> list[dict]:
    """Every entry of a progress log (a torn last line from a crash is skipped)."""
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


class ProgressLogListener(StreamingQueryListener):
    """Appends one line per batch of ONE query (by id) to the progress log."""

    def __init__(self, path: Path, results: dict, extra: dict | None = None):
        self.path, self.results, self.extra = path, results, dict(extra or {})
        self.query_id: str | None = None
        self.written: set[int] = set()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

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
        with self._lock, open(self.path, "a") as log:
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()
        self.written.add(progress.batchId)
