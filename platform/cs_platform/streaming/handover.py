"""A continuous query hands its checkpoint to a repair between two batches.

A continuous query holds the writer lock for as long as it runs, and a backfill or a reprojection
must never write beside it (two writers could insert one event twice, or fold a ticket from a stale
set of events). Without a hand-over, a repair could never run while the production query does.

The repair (:func:`repair_lock`) finds the continuous query holding the lock, leaves a request next
to the checkpoint (`<checkpoint root>/<query>.handover`, a file or an S3 object) and waits for the
lock. The query's :class:`Handover` watcher sees the request between batches (it takes the batch
guard, so never during one), releases the lock, waits until the repair has taken it (the repair
deletes the request once it holds the lock, or when it gives up) and takes the lock back when the
repair releases it; a batch due meanwhile waits for the guard. The query yields once per request,
and leaves the lock free for ``TAKE_WAIT_SECONDS`` at most: a requester that has not taken it by
then (dead, or gone) loses its turn, and its request is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

from cs_platform.adapters import storage
from cs_platform.streaming.lock import CheckpointBusy, checkpoint_holder, checkpoint_lock

log = logging.getLogger(__name__)

HANDOVER_WAIT_SECONDS = 600.0   # how long a repair waits for the query to finish its batch and let go
TAKE_WAIT_SECONDS = 10.0        # how long the query leaves its lock free for the requester to take it
WATCH_SECONDS = 2.0             # how often the query looks for a request


def request_uri(settings, query_name: str) -> str:
    return f"{settings.checkpoint.rstrip('/')}/{query_name}.handover"


def _read_request(settings, query_name: str) -> dict | None:
    text = storage.read_text(request_uri(settings, query_name), settings)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {}


def _delete_request(settings, query_name: str, request_id: str) -> None:
    """Delete the request if it is still `request_id`'s (another requester may have replaced it)."""
    current = _read_request(settings, query_name)
    if current is not None and current.get("id") == request_id:
        storage.delete(request_uri(settings, query_name), settings)


def _is_requester(holder: dict | None, request: dict) -> bool:
    return holder is not None and all(holder.get(k) == request.get(k) for k in ("host", "pid", "mode"))


@contextmanager
def repair_lock(settings, query_name: str, mode: str, wait_seconds: float = 0):
    """The writer lock for a repair (`mode` backfill or reproject). Held by a continuous query: ask
    it to hand over and wait for it (``HANDOVER_WAIT_SECONDS`` at least); held by anything else:
    refuse (or wait ``wait_seconds``) as any writer does."""
    holder = checkpoint_holder(settings, query_name)
    if holder is None or holder.get("mode") != "continuous":
        with checkpoint_lock(settings, query_name, mode, wait_seconds) as held:
            yield held
        return
    request = {"id": uuid.uuid4().hex, "mode": mode, "host": socket.gethostname(), "pid": os.getpid(),
               "since": time.time()}
    storage.write_text(request_uri(settings, query_name), json.dumps(request), settings)
    lock = checkpoint_lock(settings, query_name, mode, max(wait_seconds, HANDOVER_WAIT_SECONDS))
    log.info("asked the continuous query of %s to hand its checkpoint over to a %s", query_name, mode)
    try:
        try:
            held = lock.__enter__()
        except CheckpointBusy as exc:
            raise CheckpointBusy(f"the continuous query did not hand the checkpoint over within "
                                 f"{lock.wait_seconds:g} s: {exc}") from None
        finally:  # taken, or given up: either way the query need not wait for this request any more
            _delete_request(settings, query_name, request["id"])
        yield held
    finally:
        lock.__exit__(None, None, None)


class Handover:
    """The query's side: a watcher thread and the guard every batch holds while it runs."""

    def __init__(self, settings, query_name: str, held, stop: threading.Event | None = None):
        self.settings, self.query_name, self.held = settings, query_name, held
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._query_stop = stop  # the query's own stop: no waiting for the lock past it
        self._served: set[str] = set()
        self.lost: Exception | None = None  # the lock could not be taken back: the query must stop
        self._thread = threading.Thread(target=self._watch, name=f"handover {query_name}", daemon=True)

    @contextmanager
    def batch(self):
        """Held by each batch while it runs: no hand-over in the middle of one. Raises when the
        query could not take its lock back (it must not write without it)."""
        with self._guard:
            if self.lost is not None:
                raise CheckpointBusy(f"the query of {self.query_name} could not take its checkpoint back after "
                                     f"a hand-over: {self.lost}")
            self.held.ensure_held()
            yield

    def __enter__(self) -> "Handover":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _stopping(self) -> bool:
        return self._stop.is_set() or (self._query_stop is not None and self._query_stop.is_set())

    def _look(self) -> dict | None:
        try:
            return _read_request(self.settings, self.query_name)
        except Exception:  # noqa: BLE001 - a failed look (S3 down) is retried at the next tick; the query goes on
            log.exception("looking for a hand-over request of %s failed", self.query_name)
            return None

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            request = self._look()
            if request is None or request.get("id") in self._served:
                continue
            with self._guard:  # between batches
                if self._look() != request:
                    continue  # withdrawn (its repair gave up) or replaced while a batch ran
                try:
                    self._hand_over(request)
                except Exception as exc:  # noqa: BLE001 - the query stops (start_stream checks `lost`)
                    log.exception("the query of %s could not take its checkpoint back", self.query_name)
                    self.lost = exc
                    return

    def _hand_over(self, request: dict) -> None:
        self._served.add(request.get("id"))
        self.held.ensure_held()  # a lease already lost is not ours to hand over
        log.info("handing the checkpoint of %s over to a %s (pid %s on %s)", self.query_name, request.get("mode"),
                 request.get("pid"), request.get("host"))
        self.held.__exit__(None, None, None)
        deadline = time.monotonic() + TAKE_WAIT_SECONDS
        while time.monotonic() < deadline and not self._stopping():
            if _is_requester(checkpoint_holder(self.settings, self.query_name), request):
                break  # the repair has it: wait below for its end
            time.sleep(0.2)
        else:
            log.warning("the %s that asked for the checkpoint of %s did not take it within %g s: taking it back",
                        request.get("mode"), self.query_name, TAKE_WAIT_SECONDS)
        wait, self.held.wait_seconds = self.held.wait_seconds, 1.0
        try:
            while True:  # while the repair runs; the query writes nothing meanwhile (the guard is held)
                try:
                    self.held.__enter__()
                    break
                except Exception as exc:  # noqa: BLE001 - busy, or S3 briefly down: try again until stopped
                    if self._stopping():
                        raise
                    if not isinstance(exc, CheckpointBusy):
                        log.warning("taking the checkpoint of %s back failed, retrying: %s", self.query_name, exc)
                        time.sleep(1)
        finally:
            self.held.wait_seconds = wait
        _delete_request(self.settings, self.query_name, request.get("id"))  # if its requester left it behind
        log.info("took the checkpoint of %s back", self.query_name)
