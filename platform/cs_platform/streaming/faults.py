"""Fault injection for crash-safety tests: `CSP_FAULT_POINT=<point>` makes the process kill -9
itself when it reaches that point. Unset in production, where `crash_if` is a dictionary lookup."""

from __future__ import annotations

import os
import signal

FAULT_POINT_ENV = "CSP_FAULT_POINT"
POINTS = ("after_events_merge", "after_lake_commit", "mid_documentdb")


def crash_if(point: str) -> None:
    """SIGKILL this process when `CSP_FAULT_POINT` names `point` (no cleanup, no flush: a real crash)."""
    if os.environ.get(FAULT_POINT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
