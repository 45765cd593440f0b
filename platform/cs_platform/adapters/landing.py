"""The Firehose landing zone (`file://` or `s3://`): write objects, list them by arrival hour
without Spark, and read chosen files into raw lines the way the streaming query does.

Listing needs no JVM (the landing sensor calls it every tick). Local writes are atomic
(hidden temp file + rename) so a reader never sees half an object; names starting with `.` or `_`
are ignored, as Spark's file source ignores them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

from cs_platform.adapters.storage import normalize
from cs_platform.logic.firehose import UTC, as_utc, hour_floor, hour_prefix, landing_hour_of_key

log = logging.getLogger(__name__)

LINE_SCHEMA = "raw_line string, source_file string, line_number long, landing_hour timestamp"
# how long after its arrival hour an object may still be written to S3 (Firehose: up to 24 h of retries)
S3_LATE_DELIVERY = dt.timedelta(hours=26)


@dataclass(frozen=True)
class LandingFile:
    uri: str                         # full location, readable by Spark and by this module
    key: str                         # relative to the landing root: YYYY/MM/DD/HH/<name>
    landing_hour: dt.datetime | None  # start of the arrival hour, UTC; None outside the layout
    size: int                        # bytes as stored (compressed for .gz)
    mtime: dt.datetime               # last modification, UTC

    @property
    def gzip(self) -> bool:
        return self.key.endswith(".gz")


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _epoch(moment: dt.datetime | float | None) -> float | None:
    if moment is None or isinstance(moment, (int, float)):
        return moment
    return as_utc(moment).timestamp()


class LandingZone:
    """One landing root. ``uri``: ``file:///...`` or ``s3://bucket/prefix``."""

    def __init__(self, uri: str, s3_endpoint_url: str | None = None):
        parts = urlsplit(uri)
        self.uri = uri.rstrip("/")
        self.scheme = parts.scheme or "file"
        if self.scheme == "file":
            self.root: Path | None = Path(os.path.abspath(unquote(parts.path)))
            self._root_uri = self.root.as_uri()
            self.bucket, self.prefix = None, ""
        elif self.scheme in ("s3", "s3a"):
            self.root = None
            self.bucket = parts.netloc
            self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        else:
            raise ValueError(f"landing URI must be file:// or s3://, got {uri!r} (check CSP_LANDING_URI)")
        self.s3_endpoint_url = s3_endpoint_url
        self._client = None

    @classmethod
    def from_settings(cls, settings) -> "LandingZone":
        return cls(settings.landing, s3_endpoint_url=settings.s3_endpoint_url)

    def __repr__(self) -> str:
        return f"LandingZone({self.uri!r})"

    @property
    def s3(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", endpoint_url=self.s3_endpoint_url)
        return self._client

    # ---- writing ----------------------------------------------------------------------------

    def write_object(self, key: str, data: bytes) -> LandingFile:
        """Store one object under ``key`` (relative to the root), atomically."""
        if self.root is not None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            return self._local_file(path, path.stat())
        self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        return LandingFile(self._s3_uri(key), key, landing_hour_of_key(key), len(data), dt.datetime.now(UTC))

    def read_text(self, key: str) -> str:
        """An object's text, decompressed when its key ends in .gz."""
        if self.root is not None:
            data = (self.root / key).read_bytes()
        else:
            data = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        return (gzip.decompress(data) if key.endswith(".gz") else data).decode("utf-8")

    # ---- listing ----------------------------------------------------------------------------

    def list_files(self, since_mtime: dt.datetime | float | None = None) -> list[LandingFile]:
        """Every visible object, sorted by key; with ``since_mtime``, those modified at or after it.

        Locally, hour directories older than ``since_mtime`` are skipped without listing them
        (a directory's mtime moves when a file is renamed into it). On S3, keys sort by arrival
        hour, so the listing starts ``S3_LATE_DELIVERY`` before ``since_mtime``'s hour: an object
        is written at most that long after its hour (Firehose retries S3 delivery for up to 24 h),
        and a year of archive is not listed on every sensor tick (1M keys: over a minute).
        """
        since = _epoch(since_mtime)
        if self.root is not None:
            files = self._list_local(since)
        else:
            start = None if since is None else hour_prefix(hour_floor(
                dt.datetime.fromtimestamp(since, UTC) - S3_LATE_DELIVERY))
            files = self._list_s3(self.prefix, since, start_after=self.prefix + start if start else None)
        return sorted(files, key=lambda f: f.key)

    def files_for_hour(self, hour: dt.datetime) -> list[LandingFile]:
        """The objects directly under one arrival-hour prefix (``hour`` is floored to the hour)."""
        prefix = hour_prefix(hour_floor(hour))
        if self.root is not None:
            directory = self.root / prefix
            if not directory.is_dir():
                return []
            files = [self._local_file(Path(e.path), e.stat()) for e in os.scandir(directory)
                     if e.is_file() and not _hidden(e.name)]
        else:  # a prefix listing also returns nested keys (`HH/sub/x`): outside the hour layout, as locally
            files = [f for f in self._list_s3(self.prefix + prefix, None) if f.landing_hour == hour_floor(hour)]
        return sorted(files, key=lambda f: f.key)

    def files_by_hour(self, since_mtime: dt.datetime | float | None = None) -> dict[dt.datetime | None, list[LandingFile]]:
        grouped: dict[dt.datetime | None, list[LandingFile]] = defaultdict(list)
        for f in self.list_files(since_mtime):
            grouped[f.landing_hour].append(f)
        return dict(grouped)

    def _local_file(self, path: Path, stat: os.stat_result) -> LandingFile:
        key = path.relative_to(self.root).as_posix()
        return LandingFile(self._root_uri + "/" + quote(key), key, landing_hour_of_key(key), stat.st_size,
                           dt.datetime.fromtimestamp(stat.st_mtime, UTC))

    def _list_local(self, since: float | None) -> Iterable[LandingFile]:
        # plain strings, one landing-hour parse per directory: pathlib costs ~50 us per file
        if not self.root.is_dir():
            return
        fromtimestamp = dt.datetime.fromtimestamp
        stack = [(str(self.root), "", 0)]
        while stack:
            directory, rel, depth = stack.pop()
            hour = landing_hour_of_key(rel + "x") if depth == 4 else None
            with os.scandir(directory) as entries:
                for entry in entries:
                    name = entry.name
                    if name[0] in "._":
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        # depth 3 holds the hour directories: prune those untouched since `since`
                        if since is not None and depth == 3 and entry.stat().st_mtime < since:
                            continue
                        stack.append((entry.path, rel + name + "/", depth + 1))
                    elif entry.is_file():
                        stat = entry.stat()
                        if since is None or stat.st_mtime >= since:
                            key = rel + name
                            yield LandingFile(self._root_uri + "/" + quote(key), key,
                                              hour if depth == 4 else landing_hour_of_key(key),
                                              stat.st_size, fromtimestamp(stat.st_mtime, UTC))

    def _s3_uri(self, key: str) -> str:
        # the landing URI's own scheme (s3 or s3a): the stream's source_file keeps it, and a file's
        # lines are matched by it (reconciliation; a backfill's insert-if-absent of bad lines)
        return f"{self.scheme}://{self.bucket}/{self.prefix}{key}"

    def _list_s3(self, prefix: str, since: float | None, start_after: str | None = None) -> Iterable[LandingFile]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix,
                                       **({"StartAfter": start_after} if start_after else {})):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.prefix):]
                if any(_hidden(part) for part in key.split("/")):
                    continue
                mtime = obj["LastModified"].astimezone(UTC)
                if since is None or mtime.timestamp() >= since:
                    yield LandingFile(self._s3_uri(key), key, landing_hour_of_key(key), obj["Size"], mtime)

    # ---- reading with Spark -----------------------------------------------------------------

    def read_raw_lines(self, spark, uris: Iterable[str | LandingFile]):
        return read_raw_lines(spark, uris)


def read_raw_lines(spark, uris: Iterable[str | LandingFile]):
    """Batch-read the given files into raw lines (raw_line, source_file, line_number,
    landing_hour): the same reader options and `source_file` spelling as the streaming query,
    so positions (and quarantine keys) agree between stream, replay and backfill."""
    from pyspark.sql import functions as F

    from cs_platform.logic.events import explode_lines

    paths = [u.uri if isinstance(u, LandingFile) else u for u in uris]
    if not paths:
        return spark.createDataFrame([], LINE_SCHEMA)
    files = (spark.read.format("text").option("wholetext", True).load(paths)
             .select(F.col("value"), F.col("_metadata.file_path").alias("source_file")))
    return explode_lines(files)


# ---- objects Spark cannot read ----------------------------------------------------------------

_READ_FAILED = re.compile(r"Encountered error while reading file (\S+)\. Details:")
_CAUSE = re.compile(r"Caused by: ((?:java|javax|org|com)\.[\w.$]+: [^\n]*)")
# What a decoder throws on bad bytes; a read that fails otherwise (S3 timeout, AccessDenied, KMS) is
# no property of the object: its batch fails and is replayed, never quarantined.
_UNDECODABLE = re.compile(r"^(java\.io\.EOFException|java\.util\.zip\.\w+Exception)|gzip|zlib|header check"
                          r"|invalid (block type|distance|stored block|code lengths)", re.IGNORECASE)
T = TypeVar("T")


@dataclass(frozen=True)
class UnreadableFile:
    """A landing object whose bytes Spark cannot decode (a truncated gzip, plain text named `.gz`)."""

    uri: str    # as Spark names it in its error (and in `source_file`)
    cause: str  # the Java exception that names why, e.g. `java.io.EOFException: Unexpected end of input stream`


def unreadable_file(exc: BaseException) -> UnreadableFile | None:
    """The file a failed Spark job could not decode, from its error; None for any other failure
    (including a read that failed for another reason than the object's bytes)."""
    text = str(exc)
    match = _READ_FAILED.search(text)
    if match is None:
        return None
    causes = [c.strip() for c in _CAUSE.findall(text) if "SparkException" not in c]
    if not causes or not _UNDECODABLE.search(causes[0]):
        return None
    return UnreadableFile(match.group(1), causes[0][:300])


def skipping_unreadable(spark, lines, paths: Callable[[], list[str]],
                        process: Callable[[object, list[tuple[str, str]]], T]) -> T:
    """``process(lines, unreadable)``; when it fails because one of ``paths()`` cannot be decoded
    (and still cannot when read alone), again with that file left out (the others read anew) and
    named in ``unreadable`` as (uri, cause), until it succeeds.

    A corrupt object is then quarantined as one line instead of failing its batch on every replay:
    a query would never get past it. ``process`` must be idempotent (the batch body is)."""
    unreadable: dict[str, UnreadableFile] = {}  # normalized uri -> the file
    while True:
        try:
            return process(lines, [(u.uri, u.cause) for u in unreadable.values()])
        except Exception as exc:
            bad = unreadable_file(exc)
            listed = list(paths())
            if bad is None or normalize(bad.uri) in unreadable or normalize(bad.uri) not in set(map(normalize, listed)):
                raise
            if not _fails_alone(spark, bad):
                raise  # it reads now: the failure was not its bytes'
            log.warning("cannot read %s (%s): quarantined as a whole, the other files go on", bad.uri, bad.cause)
            unreadable[normalize(bad.uri)] = bad
            lines = read_raw_lines(spark, [p for p in listed if normalize(p) not in unreadable])


def _fails_alone(spark, bad: UnreadableFile) -> bool:
    try:
        read_raw_lines(spark, [bad.uri]).count()
    except Exception as exc:
        again = unreadable_file(exc)
        return again is not None and normalize(again.uri) == normalize(bad.uri)
    return False
