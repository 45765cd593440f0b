"""Which landing hours the reconcile sensor queues: closed, processed by the stream, in order."""

from __future__ import annotations

import datetime as dt

from cs_platform.streaming.closing import hours_to_reconcile


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.timezone.utc)


def nothing_pending() -> set:
    return set()


def not_listed() -> set:
    raise AssertionError("the landing zone is listed only when an hour is due")


def test_the_first_evaluation_starts_at_the_latest_closed_hour_and_queues_nothing():
    assert hours_to_reconcile(None, at(26, 11, 25), not_listed) == ([], at(26, 10))


def test_an_hour_closes_twenty_minutes_after_its_end():
    assert hours_to_reconcile(at(26, 10), at(26, 12, 19), not_listed) == ([], at(26, 10))
    assert hours_to_reconcile(at(26, 10), at(26, 12, 20), nothing_pending) == ([at(26, 11)], at(26, 11))


def test_an_hour_with_files_the_stream_has_not_processed_waits_and_holds_back_the_later_ones():
    pending = {at(26, 10)}
    assert hours_to_reconcile(at(26, 8), at(26, 12, 20), lambda: pending) == ([at(26, 9)], at(26, 9))
    # three hours after it closed, the hour is reconciled anyway: its unprocessed files are a gap to report
    assert hours_to_reconcile(at(26, 9), at(26, 13, 59), lambda: pending) == ([], at(26, 9))
    assert hours_to_reconcile(at(26, 9), at(26, 14, 0), lambda: pending) == (
        [at(26, 10), at(26, 11), at(26, 12)], at(26, 12))


def test_after_a_long_pause_at_most_a_day_of_closed_hours_is_queued():
    ready, watermark = hours_to_reconcile(at(20, 0), at(26, 12, 20), nothing_pending)
    assert (len(ready), ready[0], ready[-1], watermark) == (24, at(25, 12), at(26, 11), at(26, 11))
    ready, watermark = hours_to_reconcile(at(20, 0), at(26, 12, 20), lambda: {at(26, 11)})
    assert (len(ready), ready[-1], watermark) == (23, at(26, 10), at(26, 10))
