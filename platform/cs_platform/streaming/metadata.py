"""Per-landing-hour metadata of streamed batches (progress-log entries or BatchResults), for
materializations reported by the `cs_stream` job and by the sensor alike. Plain Python."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

UTC = dt.timezone.utc


def parse_hour(text: str) -> dt.datetime:
    """`2026-11-26T10:00:00Z` -> aware UTC datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def hour_metadata(entries: list[dict]) -> dict[str, dict]:
    """landing hour -> metadata: exact line counts of the hour, plus the figures of the batches
    that touched it (new events, tickets changed and DocumentDB writes are per batch)."""
    hours: dict[str, dict] = defaultdict(lambda: {
        "lines_read": 0, "valid": 0, "quarantined": 0, "batch_new_events": 0, "batch_tickets_changed": 0,
        "batch_documentdb_writes": 0, "batch_ids": [], "batch_duration_s": 0.0, "snapshot_ids": {},
    })
    for entry in entries:
        for hour, counts in (entry.get("per_hour") or {}).items():
            if hour == "none":
                continue
            meta = hours[hour]
            for name in ("lines_read", "valid", "quarantined"):
                meta[name] += int(counts.get(name, 0))
            meta["batch_new_events"] += int(entry.get("new_events", 0))
            meta["batch_tickets_changed"] += int(entry.get("tickets_changed", 0))
            meta["batch_documentdb_writes"] += int(entry.get("documentdb_writes", 0))
            meta["batch_ids"].append(entry.get("batch_id"))
            meta["batch_duration_s"] = round(meta["batch_duration_s"] + float(entry.get("duration_s", 0.0)), 3)
            meta["snapshot_ids"] = {k: str(v) for k, v in (entry.get("snapshot_ids") or {}).items() if v is not None}
    return {hour: {**meta, "batch_ids": ",".join(str(b) for b in meta["batch_ids"]),
                   "snapshot_ids": ", ".join(f"{k}={v}" for k, v in sorted(meta["snapshot_ids"].items()))}
            for hour, meta in sorted(hours.items())}
