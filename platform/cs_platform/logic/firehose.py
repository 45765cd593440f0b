"""Firehose object-key layout (DESIGN 3.1), plain Python.

``YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]``, relative to the landing
root; the hour prefix is the UTC **arrival** hour, not the event time.
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
HOUR_PREFIX_RE = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; a naive one is taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_floor(moment: dt.datetime) -> dt.datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def hour_prefix(hour: dt.datetime) -> str:
    """``YYYY/MM/DD/HH/`` of the hour containing ``hour``."""
    return as_utc(hour).strftime("%Y/%m/%d/%H/")


def object_key(stream: str, arrival: dt.datetime, uid: str, version: int = 1, gzip: bool = False) -> str:
    """The key Firehose gives an object delivered at ``arrival``."""
    arrival = as_utc(arrival)
    name = f"{stream}-{version}-{arrival.strftime('%Y-%m-%d-%H-%M-%S')}-{uid}"
    return hour_prefix(arrival) + name + (".gz" if gzip else "")


def landing_hour_of_key(key: str) -> dt.datetime | None:
    """Start of the arrival hour (aware UTC) from a key or URI; None without a valid prefix."""
    match = HOUR_PREFIX_RE.search(key)
    if match is None:
        return None
    try:
        return dt.datetime(*(int(p) for p in match.groups()), tzinfo=UTC)
    except ValueError:
        return None
