"""One query per checkpoint: an exclusive `fcntl` lock on a file next to the checkpoint (or under
CSP_HOME for an S3 checkpoint). The kernel drops the lock when the holder dies, even by kill -9,
so a crash never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from cs_platform.streaming.storage import local_path


class CheckpointBusy(RuntimeError):
    """Another streaming query, or a repair, holds the checkpoint."""


REPAIR_MODES = ("backfill", "reproject")  # lock holders that are not a query (see query.writer_lock)


def holder_label(mode: str | None) -> str:
    """The lock holder in words: a repair by its name, a query with its mode."""
    return f"a {mode}" if mode in REPAIR_MODES else f"a query (mode {mode or 'unknown'})"


def lock_path(settings, query_name: str) -> Path:
    checkpoint = f"{settings.checkpoint}/{query_name}"
    root = local_path(settings.checkpoint)
    if root is not None:
        return root / f"{query_name}.lock"
    digest = hashlib.sha256(checkpoint.encode()).hexdigest()[:16]
    return settings.home_dir / "streaming" / f"{query_name}-{digest}.lock"


def holder(path: Path) -> dict | None:
    """Who holds the lock (pid, mode, since), or None when nobody does. Never blocks."""
    if not path.exists():
        return None
    with open(path, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(path.read_text() or "{}")
            except ValueError:
                return {}
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class CheckpointLock:
    """Context manager; `wait_seconds=0` refuses at once when the checkpoint is busy."""

    def __init__(self, path: Path, checkpoint: str, mode: str, wait_seconds: float = 0):
        self.path, self.checkpoint, self.mode, self.wait_seconds = path, checkpoint, mode, wait_seconds
        self._handle = None

    def __enter__(self) -> "CheckpointLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    current = handle.read().strip()
                    handle.close()
                    raise CheckpointBusy(self._refusal(current)) from None
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "mode": self.mode, "since": time.time()}))
        handle.flush()
        self._handle = handle
        return self

    def _refusal(self, current: str) -> str:
        held_by = f"lock {self.path} held by {current or 'an unknown process'}"
        try:
            mode = json.loads(current).get("mode") if current else None
        except ValueError:
            mode = None
        if mode in REPAIR_MODES:
            return (f"{holder_label(mode)} is writing the tables of checkpoint {self.checkpoint} ({held_by}); "
                    f"wait for it to finish, then retry")
        return (f"another streaming query is already running on checkpoint {self.checkpoint} ({held_by}); "
                f"wait for it to finish or stop it, then retry")

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.flush()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
