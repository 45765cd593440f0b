"""Write cs-event v1 lines into a Firehose-layout landing dir (tests write their own small files)."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path


def event_line(event_id, event_type, ticket_id, seq, occurred_at: datetime, **data) -> str:
    return json.dumps({
        "event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "seq": seq,
        "occurred_at": occurred_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred_at.microsecond // 1000:03d}Z",
        "data": data,
    })


def write_landing_file(landing: Path, hour: datetime, lines: list[str], gz: bool = False, minute: int = 0,
                       stream: str = "cs-events") -> Path:
    """`<landing>/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]`, written atomically."""
    folder = landing / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = hour.replace(minute=minute).strftime("%Y-%m-%d-%H-%M-%S")
    name = f"{stream}-1-{stamp}-{uuid.uuid4()}" + (".gz" if gz else "")
    payload = ("\n".join(lines) + "\n").encode()
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(gzip.compress(payload) if gz else payload)
    tmp.rename(folder / name)
    return folder / name


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
