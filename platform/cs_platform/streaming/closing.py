"""Which landing hours are ready to be reconciled against the raw archive (for the sensor, no JVM).

An hour is ready once it has closed and the stream has processed it:
- closed: Firehose files an object under the arrival hour of its records and delivers it when its
  buffer flushes, at most 15 minutes later, so hour H takes no new object after H + 1 h + CLOSE_AFTER;
- processed: no landing file of H waits for the stream. A closed hour whose files still wait after
  WAIT_FOR_STREAM is reconciled anyway: the gap is then what the check must report.
Hours are queued in order behind one watermark (the last hour queued), so an hour that waits holds
back the later ones and none is skipped. After a long pause (the daemon down) at most CATCH_UP of
closed hours are queued; older ones are reconciled on demand (`csp reconcile`, the UI).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from cs_platform.logic.firehose import hour_floor, landing_hour_of_key
from cs_platform.streaming.checkpoint import checkpoint_location, unprocessed_files

HOUR = dt.timedelta(hours=1)
CLOSE_AFTER = dt.timedelta(minutes=20)
WAIT_FOR_STREAM = dt.timedelta(hours=3)
CATCH_UP = dt.timedelta(hours=24)


def latest_closed_hour(now: dt.datetime) -> dt.datetime:
    """The start of the last hour that takes no new landing object at `now`."""
    return hour_floor(now - CLOSE_AFTER) - HOUR


def hours_of(paths: Iterable[str]) -> set[dt.datetime]:
    """The landing hours of these files (files outside the hour layout have none)."""
    return {hour for hour in map(landing_hour_of_key, paths) if hour is not None}


def hours_to_reconcile(watermark: dt.datetime | None, now: dt.datetime,
                       pending_hours: Callable[[], set[dt.datetime]]) -> tuple[list[dt.datetime], dt.datetime]:
    """(hours to queue now, in order; the new watermark).

    `watermark` is the last hour queued; None (the first evaluation) starts it at the latest closed
    hour: hours that closed before are reconciled on demand. `pending_hours` lists the hours of the
    files that wait for the stream; it is called only when an hour is due (it lists the landing zone).
    """
    closed = latest_closed_hour(now)
    if watermark is None:
        return [], closed
    first = max(watermark + HOUR, closed - CATCH_UP + HOUR)
    if first > closed:
        return [], watermark
    pending = pending_hours()
    ready: list[dt.datetime] = []
    hour = first
    while hour <= closed:
        if hour in pending and now < hour + HOUR + WAIT_FOR_STREAM:
            break  # the stream has not processed it yet: wait, and hold back the hours after it
        ready.append(hour)
        hour += HOUR
    return ready, (ready[-1] if ready else first - HOUR)


def closed_hours(settings, query_name: str, watermark: dt.datetime | None,
                 now: dt.datetime) -> tuple[list[dt.datetime], dt.datetime]:
    """:func:`hours_to_reconcile` for the query's checkpoint and landing zone."""
    checkpoint = checkpoint_location(settings, query_name)
    return hours_to_reconcile(watermark, now,
                              lambda: hours_of(unprocessed_files(settings.landing, checkpoint, settings)))
