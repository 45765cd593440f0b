"""One writer per S3 checkpoint, across machines: a lease object next to the checkpoint.

A file lock only excludes processes of one machine. With the checkpoint on S3 the query may run
on EMR while Dagster (the sensor, a backfill) runs elsewhere, so the lock is an S3 object written
with conditional requests: created with `If-None-Match: *` (only one writer can create it),
renewed and taken over with `If-Match: <etag>` (only the writer that read that version wins).

A holder renews its lease every quarter of the TTL. One that dies (kill -9, a lost node) stops
renewing, and its lease counts as free once the TTL has passed since S3 last wrote it. Expiry is
judged on S3's clocks alone (the object's LastModified against the response's Date header), so
machines with skewed clocks agree. A holder that could not renew in time (a long pause) finds
its lease taken over, or possibly so, and must stop writing: `ensure_held` then raises.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from email.utils import parsedate_to_datetime

from cs_platform.adapters.storage import s3_client, s3_location
from cs_platform.streaming.lock import CheckpointBusy, refusal

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 120.0
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def lease_uri(checkpoint_root: str, query_name: str) -> str:
    """The lease of the query's checkpoint `<root>/<query_name>`: a sibling object."""
    return f"{checkpoint_root.rstrip('/')}/{query_name}.lease"


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _read(client, uri: str) -> tuple[dict, str, bool] | None:
    """(holder, etag, expired) of the lease object, or None when there is none."""
    bucket, key = s3_location(uri)
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    text = got["Body"].read().decode()
    try:
        held = json.loads(text)
    except ValueError:
        held = {}
    date = got["ResponseMetadata"].get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date).timestamp() if date else time.time()
    age = now - got["LastModified"].timestamp()
    return held, got["ETag"], age > float(held.get("ttl_seconds", LEASE_TTL_SECONDS))


def lease_holder(uri: str, settings=None) -> dict | None:
    """Who holds the lease (host, pid, mode, since), or None when nobody does or it expired."""
    found = _read(s3_client(settings), uri)
    if found is None or found[2]:
        return None
    return found[0]


class S3Lease:
    """Context manager, like :class:`~cs_platform.streaming.lock.CheckpointLock`; `wait_seconds=0`
    refuses at once when another writer holds a live lease."""

    def __init__(self, uri: str, checkpoint: str, mode: str, wait_seconds: float = 0, settings=None,
                 ttl_seconds: float = LEASE_TTL_SECONDS):
        self.uri, self.checkpoint, self.mode, self.wait_seconds = uri, checkpoint, mode, wait_seconds
        self.ttl_seconds = ttl_seconds
        self._client = s3_client(settings)
        self._body = {"owner": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid(), "mode": mode,
                      "since": time.time(), "ttl_seconds": ttl_seconds}
        self._etag: str | None = None
        self._written_at = 0.0  # monotonic time of this holder's last write of the lease
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> "S3Lease":
        self._stop.clear()  # a lease given up (a hand-over) may be taken again
        self._lost.clear()
        deadline = time.monotonic() + self.wait_seconds
        while not self._try_acquire():
            if time.monotonic() >= deadline:
                found = _read(self._client, self.uri)
                current = json.dumps(found[0]) if found else ""
                raise CheckpointBusy(refusal(self.checkpoint, f"lease {self.uri}", current))
            time.sleep(1)
        self._renewer = threading.Thread(target=self._renew_until_stopped, name=f"lease {self.uri}", daemon=True)
        self._renewer.start()
        return self

    def _put(self, **condition) -> bool:
        bucket, key = s3_location(self.uri)
        try:
            put = self._client.put_object(Bucket=bucket, Key=key, Body=json.dumps(self._body).encode(),
                                          ContentType="application/json", **condition)
        except Exception as exc:  # noqa: BLE001 - botocore raises ClientError subclasses per code
            if _error_code(exc) in _TAKEN:
                return False
            raise
        self._etag, self._written_at = put["ETag"], time.monotonic()
        return True

    def _try_acquire(self) -> bool:
        if self._put(IfNoneMatch="*"):
            return True
        found = _read(self._client, self.uri)
        if found is None:  # released meanwhile: try again at once
            return self._put(IfNoneMatch="*")
        _, etag, expired = found
        return expired and self._put(IfMatch=etag)  # a dead holder's lease: take it over

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 4):
            try:
                renewed = self._put(IfMatch=self._etag)
            except Exception as exc:  # noqa: BLE001 - a network error: the lease lasts until its TTL, retry
                log.warning("could not renew lease %s: %s", self.uri, exc)
                continue
            if not renewed:
                log.error("lease %s was taken over by another writer: this one must stop", self.uri)
                self._lost.set()
                return

    def ensure_held(self) -> None:
        """Raise when the lease was lost, or may be (not renewed within its TTL: another writer may
        take it over at any moment): stop writing. Fails closed: a network outage longer than the
        TTL stops the writer too."""
        if self._lost.is_set() or time.monotonic() - self._written_at > self.ttl_seconds:
            raise CheckpointBusy(
                f"lost the lease {self.uri} of checkpoint {self.checkpoint}: it was not renewed within "
                f"{self.ttl_seconds:g} s, so another writer may have taken it over; this {self.mode} stops")

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        if self._lost.is_set() or time.monotonic() - self._written_at > self.ttl_seconds / 2:
            return  # lost, or old enough that another writer may take it over meanwhile: let it expire
        found = _read(self._client, self.uri)
        if found is not None and found[0].get("owner") == self._body["owner"]:
            bucket, key = s3_location(self.uri)
            self._client.delete_object(Bucket=bucket, Key=key)
