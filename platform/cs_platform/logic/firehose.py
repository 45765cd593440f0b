"""Firehose object-key layout (DESIGN 3.1), plain Python.

``YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]``, relative to the landing
root; the hour prefix is the UTC **arrival** hour, not the event time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field

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


# ---- landing report: what is new since the last look -----------------------------------------

DEFAULT_LOOKBACK_SECONDS = 600
FIRST_LOOK_SECONDS = 24 * 3600  # objects that landed longer ago before the sensor's first tick are not reported


@dataclass
class HourReport:
    """New objects of one arrival hour since the previous report."""

    hour: dt.datetime
    file_count: int = 0
    bytes: int = 0
    newest_file_time: dt.datetime | None = None
    gzip_files: int = 0
    sample_keys: list[str] = field(default_factory=list)


@dataclass
class LandingCursor:
    """High-water mark of object mtimes, plus digests of the keys already reported whose mtime
    lies within ``lookback`` of it: an object that appears late with a slightly older mtime
    (slow upload, clock skew) is still reported once, and the cursor stays small
    (~13 bytes per recent object) however large the landing zone grows."""

    watermark: float | None = None
    recent: dict[int, set[str]] = field(default_factory=dict)  # mtime second -> key digests
    lookback: int = DEFAULT_LOOKBACK_SECONDS

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()

    @classmethod
    def parse(cls, text: str | None, lookback: int = DEFAULT_LOOKBACK_SECONDS) -> "LandingCursor":
        if not text:
            return cls(lookback=lookback)
        raw = json.loads(text)
        recent = {int(sec): {blob[i:i + 12] for i in range(0, len(blob), 12)} for sec, blob in raw["recent"].items()}
        return cls(raw["watermark"], recent, lookback)

    def serialize(self) -> str:
        return json.dumps({"v": 1, "watermark": self.watermark,
                           "recent": {str(sec): "".join(sorted(d)) for sec, d in sorted(self.recent.items())}},
                          separators=(",", ":"))

    def list_since(self, now: float) -> float:
        """List objects modified at or after this (epoch seconds). Without a watermark (the first
        tick) ``FIRST_LOOK_SECONDS`` before ``now``: an existing archive is not listed whole (on S3,
        1M keys take over a minute, beyond a sensor's 60 s, and a tick that times out saves no cursor)."""
        return now - FIRST_LOOK_SECONDS if self.watermark is None else self.watermark - self.lookback

    def seen(self, key: str) -> bool:
        return any(self.digest(key) in d for d in self.recent.values())


def report_new_files(files, cursor: LandingCursor, sample_size: int = 5) -> tuple[dict, list, LandingCursor]:
    """Split listed objects (anything with key, size, mtime, landing_hour) into what is new.

    Returns ``(reports by hour, new objects outside the hour layout, next cursor)``; objects
    the cursor has seen are ignored, so the same listing reported twice yields nothing new.
    """
    seen = set().union(*cursor.recent.values()) if cursor.recent else set()
    reports: dict[dt.datetime, HourReport] = {}
    unplaced = []
    recent = {sec: set(d) for sec, d in cursor.recent.items()}
    watermark = cursor.watermark
    for f in files:
        digest = LandingCursor.digest(f.key)
        if digest in seen:
            continue
        mtime = as_utc(f.mtime)
        epoch = mtime.timestamp()
        watermark = epoch if watermark is None else max(watermark, epoch)
        recent.setdefault(int(epoch), set()).add(digest)
        if f.landing_hour is None:
            unplaced.append(f)
            continue
        report = reports.setdefault(f.landing_hour, HourReport(f.landing_hour))
        report.file_count += 1
        report.bytes += f.size
        report.gzip_files += f.key.endswith(".gz")
        if report.newest_file_time is None or mtime > report.newest_file_time:
            report.newest_file_time = mtime
        if len(report.sample_keys) < sample_size:
            report.sample_keys.append(f.key)
    if watermark is not None:
        floor = int(watermark - cursor.lookback) - 1
        recent = {sec: d for sec, d in recent.items() if sec >= floor}
    return dict(sorted(reports.items())), unplaced, LandingCursor(watermark, recent, cursor.lookback)
