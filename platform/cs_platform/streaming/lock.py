"""One writer per checkpoint (a query, or a repair of the tables it writes).

A local checkpoint is guarded by an exclusive `fcntl` lock on a file next to it: the kernel drops
the lock when the holder dies, even by kill -9, so a crash never leaves a stale lock behind. An S3
checkpoint is shared by machines (a query on EMR, Dagster elsewhere): it is guarded by a lease
object next to it (`cs_platform.streaming.lease`). `checkpoint_lock` and `checkpoint_holder`
choose by the checkpoint's scheme."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from cs_platform.adapters.storage import local_path
from cs_platform.streaming.checkpoint import checkpoint_location


class CheckpointBusy(RuntimeError):
    """Another streaming query, or a repair, holds the checkpoint."""


REPAIR_MODES = ("backfill", "reproject")  # lock holders that are not a query (see query.writer_lock)


def holder_text(held: dict) -> str:
    """The holder in words, with where it runs when known: `a backfill (pid 42 on ip-10-0-1-5)`,
    `a query (mode continuous; pid 7 on ip-10-0-1-6)`."""
    mode = held.get("mode")
    where = f"pid {held['pid']} on {held['host']}" if held.get("pid") and held.get("host") else ""
    if mode in REPAIR_MODES:
        return f"a {mode}" + (f" ({where})" if where else "")
    return f"a query (mode {mode or 'unknown'}" + (f"; {where})" if where else ")")


def refusal(checkpoint: str, guard: str, current: str) -> str:
    """Why a writer may not start: `guard` (the lock or lease) is held, `current` is its holder's JSON."""
    held_by = f"{guard} held by {current or 'an unknown process'}"
    try:
        mode = json.loads(current).get("mode") if current else None
    except ValueError:
        mode = None
    if mode in REPAIR_MODES:
        return (f"a {mode} is writing the tables of checkpoint {checkpoint} ({held_by}); "
                f"wait for it to finish, then retry")
    return (f"another streaming query is already running on checkpoint {checkpoint} ({held_by}); "
            f"wait for it to finish or stop it, then retry")


def lock_path(settings, query_name: str) -> Path:
    """The lock file of a LOCAL checkpoint (an S3 one has a lease instead)."""
    root = local_path(settings.checkpoint)
    if root is None:
        raise ValueError(f"checkpoint {settings.checkpoint} is on S3: it has a lease, not a lock file")
    return root / f"{query_name}.lock"


def checkpoint_lock(settings, query_name: str, mode: str, wait_seconds: float = 0):
    """The writer lock of `<settings.checkpoint>/<query_name>`: a file lock, or an S3 lease."""
    checkpoint = checkpoint_location(settings, query_name)
    if local_path(settings.checkpoint) is not None:
        return CheckpointLock(lock_path(settings, query_name), checkpoint, mode, wait_seconds)
    from cs_platform.streaming.lease import S3Lease, lease_uri

    return S3Lease(lease_uri(settings.checkpoint, query_name), checkpoint, mode, wait_seconds, settings)


def checkpoint_holder(settings, query_name: str) -> dict | None:
    """Who writes through `<settings.checkpoint>/<query_name>` now (mode, since ...), or None. Never blocks."""
    if local_path(settings.checkpoint) is not None:
        return holder(lock_path(settings, query_name))
    from cs_platform.streaming.lease import lease_holder, lease_uri

    return lease_holder(lease_uri(settings.checkpoint, query_name), settings)


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
                    raise CheckpointBusy(refusal(self.checkpoint, f"lock {self.path}", current)) from None
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "mode": self.mode,
                                 "since": time.time()}))
        handle.flush()
        self._handle = handle
        return self

    def ensure_held(self) -> None:
        """A file lock cannot be lost while its holder lives (see the lease for one that can)."""

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.flush()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
