"""Reading a file-source Structured Streaming checkpoint without Spark (for the sensor).

Layout (Spark 3.5): `commits/<batchId>` marks a finished batch; `sources/0/<batchId>[.compact]`
holds `v1` then one JSON object per file (`path`, `batchId`), compacted every 10 batches.
A file counts as processed once the batch that planned it has committed: files of a planned
but uncommitted batch (a crash) are replayed by the next run, so they still count as pending.
Each entry also holds the file's `timestamp` (mtime, ms): the query ignores files older than
`MAX_FILE_AGE` before the newest file it has planned, and so does the pending count.
"""

from __future__ import annotations

import datetime as dt
import json

from cs_platform.adapters.landing import LandingZone
from cs_platform.adapters.storage import child_names, normalize, read_text

# The file source's `maxFileAge` (Spark's default, set explicitly on the query): once a file has
# been planned, files modified more than this before it are never taken. Bounds the pending
# listing, which on S3 then starts a day before that (`LandingZone.list_files`) instead of
# listing the whole archive on every sensor tick.
MAX_FILE_AGE = dt.timedelta(days=7)


def checkpoint_location(settings, query_name: str) -> str:
    """The checkpoint of query `query_name`: `<settings.checkpoint>/<query_name>`."""
    return f"{settings.checkpoint}/{query_name}"


def committed_batches(checkpoint: str, settings=None) -> list[int]:
    return sorted(int(n) for n in child_names(f"{checkpoint}/commits", settings) if n.isdigit())


def planned_files(checkpoint: str, settings=None) -> dict[str, tuple[int, int]]:
    """normalized file path -> (batch id that planned it, the file's mtime in ms)."""
    planned: dict[str, tuple[int, int]] = {}
    names = child_names(f"{checkpoint}/sources/0", settings)
    compacts = [n for n in names if n.endswith(".compact") and n.split(".")[0].isdigit()]
    start = max((int(n.split(".")[0]) for n in compacts), default=-1)
    chosen = ([f"{start}.compact"] if start >= 0 else []) + sorted(
        (n for n in names if n.isdigit() and int(n) > start), key=int)
    for name in chosen:
        for entry in _source_entries(read_text(f"{checkpoint}/sources/0/{name}", settings)):
            planned[normalize(entry["path"])] = (int(entry["batchId"]), int(entry["timestamp"]))
    return planned


def _source_entries(text: str | None) -> list[dict]:
    """The file entries of one source-log file (`v1`, then one JSON object per line)."""
    return [json.loads(line) for line in (text or "").splitlines()[1:] if line.strip()]


def batch_files(checkpoint: str, batch_id: int, settings=None) -> list[str]:
    """The files batch `batch_id` planned, as the source log spells them (readable by Spark). The
    log of a compacting batch (every 10th) is `<id>.compact`, which holds all earlier batches too."""
    for name in (str(batch_id), f"{batch_id}.compact"):
        text = read_text(f"{checkpoint}/sources/0/{name}", settings)
        if text:
            return [e["path"] for e in _source_entries(text) if int(e["batchId"]) == batch_id]
    return []


def unprocessed_files(landing: str, checkpoint: str, settings=None) -> list[str]:
    """Landing files that the query will take and no committed batch has processed (sorted)."""
    last_commit = max(committed_batches(checkpoint, settings), default=-1)
    planned = planned_files(checkpoint, settings)
    done = {path for path, (batch, _) in planned.items() if batch <= last_commit}
    newest_ms = max((mtime for _, mtime in planned.values()), default=None)
    since = None if newest_ms is None else newest_ms / 1000 - MAX_FILE_AGE.total_seconds()
    zone = LandingZone(landing, s3_endpoint_url=getattr(settings, "s3_endpoint_url", None))
    return sorted(path for path in (normalize(f.uri) for f in zone.list_files(since_mtime=since)) if path not in done)
