"""The DocumentDB projection `cs.tickets` (DESIGN 3.3): bulk, unordered, version-guarded upserts.

Zero reads: each ticket is one `update_one({_id, event_count < n}, {$set}, upsert=True)`. When the
stored document is as new or newer, the filter misses and the upsert's insert collides on `_id`:
that duplicate-key error (11000) means "nothing to do" and is ignored, and only that one.

Where the writes run: from the driver, in bounded chunks streamed with `toLocalIterator` (one
Spark partition in memory at a time). Measured on the local stack, the store (~2k upserts/s on
SecantusDB) is the bottleneck, not the driver; a batch touches at most one document per ticket;
and the writes stay observable by pymongo command monitoring in one process. On a large cluster
`foreachPartition` with the same `write_rows` would parallelise them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

DEFAULT_DATABASE = "cs"
DEFAULT_COLLECTION = "tickets"
DEFAULT_CHUNK_SIZE = 1000
DUPLICATE_KEY = 11000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FIELDS = ["status", "priority", "agent_id", "customer_id", "channel", "message_count", "last_seq", "event_count"]


class DocumentDBWriteError(RuntimeError):
    """A bulk write to the projection failed for a reason other than a stale (guarded) upsert."""


@dataclass
class WriteStats:
    operations: int = 0
    upserted: int = 0
    modified: int = 0
    stale: int = 0  # guard said: stored document already as new or newer
    chunks: int = 0

    def add(self, other: "WriteStats") -> None:
        for name in ("operations", "upserted", "modified", "stale", "chunks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _utc(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))


def _document(row) -> tuple[str, dict]:
    values = {name: row[name] for name in _FIELDS}
    values["updated_at"] = _utc(row["updated_at_us"])
    return row["ticket_id"], values


def projected_documents(projection) -> Iterator[tuple[str, dict]]:
    """(ticket_id, fields) of each row of an OLTP projection DataFrame, as written to DocumentDB.

    Timestamps travel as epoch micros: PySpark would turn them into naive datetimes in the local
    time zone of the Python process, which is not UTC on every host."""
    from pyspark.sql import functions as F

    rows = projection.select("ticket_id", *_FIELDS, F.unix_micros("updated_at").alias("updated_at_us"))
    return (_document(r) for r in rows.toLocalIterator())


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class DocumentDBWriter:
    """Writes the OLTP projection to `<database>.<collection>`; `client_factory` builds a pymongo client."""

    client_factory: Callable[[], object]
    database: str = DEFAULT_DATABASE
    collection: str = DEFAULT_COLLECTION
    chunk_size: int = DEFAULT_CHUNK_SIZE
    _client: object = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings, database: str = DEFAULT_DATABASE, **kwargs) -> "DocumentDBWriter":
        import pymongo

        return cls(lambda: pymongo.MongoClient(settings.documentdb, **settings.documentdb_client_kwargs()),
                   database=database, **kwargs)

    def target(self):
        """The pymongo collection this writer writes (a repair re-checks it after writing)."""
        if self._client is None:
            self._client = self.client_factory()
        return self._client[self.database][self.collection]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def write_guarded(self, projection, after_chunk: Callable[[int], None] | None = None) -> WriteStats:
        """Upsert every row of an OLTP projection DataFrame unless the stored event_count is >= its own."""
        return self.write_rows(projected_documents(projection), guarded=True, after_chunk=after_chunk)

    def reproject(self, projection) -> WriteStats:
        """Unconditional rewrite of the given tickets (repair: the lake is the truth)."""
        return self.write_rows(projected_documents(projection), guarded=False)

    def write_rows(self, documents: Iterable[tuple[str, dict]], guarded: bool = True,
                   after_chunk: Callable[[int], None] | None = None) -> WriteStats:
        """Bulk-write (ticket_id, fields) pairs in unordered chunks of `chunk_size`."""
        from pymongo import UpdateOne
        from pymongo.errors import BulkWriteError

        total = WriteStats()
        collection = self.target()
        for number, chunk in enumerate(_chunks(documents, self.chunk_size)):
            ops = []
            for ticket_id, values in chunk:
                query = {"_id": ticket_id, "event_count": {"$lt": values["event_count"]}} if guarded else {"_id": ticket_id}
                ops.append(UpdateOne(query, {"$set": values}, upsert=True))
            stats = WriteStats(operations=len(ops), chunks=1)
            try:
                result = collection.bulk_write(ops, ordered=False)
                stats.upserted, stats.modified = result.upserted_count, result.modified_count
            except BulkWriteError as exc:
                details = exc.details
                others = [e for e in details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY or not guarded]
                if others or details.get("writeConcernErrors"):
                    first = (others or details.get("writeConcernErrors"))[0]
                    raise DocumentDBWriteError(
                        f"bulk write to {self.database}.{self.collection} failed: {len(others)} error(s), "
                        f"first: code {first.get('code')} {first.get('errmsg')}"
                    ) from exc
                stats.stale = len(details.get("writeErrors", []))
                stats.upserted, stats.modified = details.get("nUpserted", 0), details.get("nModified", 0)
            total.add(stats)
            if after_chunk is not None:
                after_chunk(number)
        return total
