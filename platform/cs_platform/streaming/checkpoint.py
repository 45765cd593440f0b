"""Reading a file-source Structured Streaming checkpoint without Spark (for the sensor).

Layout (Spark 3.5): `commits/<batchId>` marks a finished batch; `sources/0/<batchId>[.compact]`
holds `v1` then one JSON object per file (`path`, `batchId`), compacted every 10 batches.
A file counts as processed once the batch that planned it has committed: files of a planned
but uncommitted batch (a crash) are replayed by the next run, so they still count as pending.
"""

from __future__ import annotations

import json

from cs_platform.adapters.storage import child_names, list_files, normalize, read_text


def checkpoint_location(settings, query_name: str) -> str:
    """The checkpoint of query `query_name`: `<settings.checkpoint>/<query_name>`."""
    return f"{settings.checkpoint}/{query_name}"


def committed_batches(checkpoint: str, settings=None) -> list[int]:
    return sorted(int(n) for n in child_names(f"{checkpoint}/commits", settings) if n.isdigit())


def planned_files(checkpoint: str, settings=None) -> dict[str, int]:
    """normalized file path -> batch id that planned it."""
    planned: dict[str, int] = {}
    names = child_names(f"{checkpoint}/sources/0", settings)
    compacts = [n for n in names if n.endswith(".compact") and n.split(".")[0].isdigit()]
    start = max((int(n.split(".")[0]) for n in compacts), default=-1)
    chosen = ([f"{start}.compact"] if start >= 0 else []) + sorted(
        (n for n in names if n.isdigit() and int(n) > start), key=int)
    for name in chosen:
        text = read_text(f"{checkpoint}/sources/0/{name}", settings) or ""
        for line in text.splitlines()[1:]:
            if line.strip():
                entry = json.loads(line)
                planned[normalize(entry["path"])] = int(entry["batchId"])
    return planned


def unprocessed_files(landing: str, checkpoint: str, settings=None) -> list[str]:
    """Landing files that no committed batch of the checkpoint has processed (sorted)."""
    last_commit = max(committed_batches(checkpoint, settings), default=-1)
    done = {path for path, batch in planned_files(checkpoint, settings).items() if batch <= last_commit}
    return sorted(path for path, _ in list_files(landing, settings) if path not in done)
