"""Fault injection for crash-safety tests: `CSP_FAULT_POINT=<point>` makes the process kill -9
itself when it reaches that point (in batch `CSP_FAULT_BATCH` only, when set). Unset in
production, where `crash_if` is one dictionary lookup."""

from __future__ import annotations

import os
import signal

FAULT_POINT_ENV = "CSP_FAULT_POINT"
FAULT_BATCH_ENV = "CSP_FAULT_BATCH"
POINTS = ("after_events_merge", "after_lake_commit", "mid_documentdb")


def crash_if(point: str, batch_token: str = "") -> None:
    """SIGKILL this process when `CSP_FAULT_POINT` names `point` (no cleanup, no flush: a real crash)."""
    if os.environ.get(FAULT_POINT_ENV) != point:
        return
    batch = os.environ.get(FAULT_BATCH_ENV)
    if batch is None or batch_token.rsplit(":", 1)[-1] == batch:
        os.kill(os.getpid(), signal.SIGKILL)
