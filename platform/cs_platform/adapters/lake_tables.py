"""The CS lake tables (DESIGN 3.2): names, DDL and the idempotent MERGE statements.

Every statement is built here from validated identifiers. Sources of the MERGEs are temp views
registered by the caller on the session that runs the statement (in foreachBatch: the batch
DataFrame's session).

Layout: events and quarantine are partitioned by `days(landing_hour)` (reconciliation and
backfill work hour by hour); tickets by `bucket(16, ticket_id)` with merge-on-read, so a batch
that touches a few tickets writes small delete files instead of rewriting buckets (maintenance
compacts them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cs_platform.adapters.catalog import current_snapshot
from cs_platform.adapters.commit_retry import retry_on_conflict
from cs_platform.adapters.identifiers import qualified, validate_identifier

EVENTS_DDL = """
    event_id STRING NOT NULL, event_type STRING NOT NULL, ticket_id STRING NOT NULL, seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL, customer_id STRING, channel STRING, priority STRING, agent_id STRING,
    author STRING, status STRING, csat_score INT, source_file STRING NOT NULL, line_number BIGINT NOT NULL,
    landing_hour TIMESTAMP NOT NULL, ingested_at TIMESTAMP NOT NULL
"""
EVENT_COLUMNS = [
    "event_id", "event_type", "ticket_id", "seq", "occurred_at", "customer_id", "channel", "priority", "agent_id",
    "author", "status", "csat_score", "source_file", "line_number", "landing_hour", "ingested_at",
]

QUARANTINE_DDL = """
    raw_line STRING, source_file STRING NOT NULL, line_number BIGINT NOT NULL, landing_hour TIMESTAMP,
    reason STRING NOT NULL, ingested_at TIMESTAMP NOT NULL
"""
QUARANTINE_COLUMNS = ["raw_line", "source_file", "line_number", "landing_hour", "reason", "ingested_at"]

TICKETS_DDL = """
    ticket_id STRING NOT NULL, customer_id STRING, channel STRING, created_at TIMESTAMP, status STRING NOT NULL,
    priority STRING NOT NULL, agent_id STRING, csat_score INT, message_count BIGINT NOT NULL,
    first_response_at TIMESTAMP, resolved_at TIMESTAMP, last_seq BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL,
    event_count BIGINT NOT NULL
"""
TICKET_VALUE_COLUMNS = [
    "customer_id", "channel", "created_at", "status", "priority", "agent_id", "csat_score", "message_count",
    "first_response_at", "resolved_at", "last_seq", "updated_at", "event_count",
]

_COMMON_PROPS = {
    "format-version": "2",
    "write.distribution-mode": "hash",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
    # a large batch (a backfill, a catch-up) is written by several tasks, not one per day
    "write.spark.advisory-partition-size-bytes": str(16 << 20),
}
# Events and quarantine only receive inserts: each write task writes its rows straight into their
# day's file (fanout) instead of the batch being shuffled by day first (1M events: MERGE 5.3 s ->
# 3.9 s). A large batch leaves a file per task and day (1M events: 24, not 3); compaction merges them.
_INSERT_ONLY_PROPS = {**_COMMON_PROPS, "write.distribution-mode": "none", "write.spark.fanout.enabled": "true"}
_TICKETS_PROPS = {
    **_COMMON_PROPS,
    "write.merge.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.delete.mode": "merge-on-read",
}

_MERGE_RETRIES = 5


@dataclass(frozen=True)
class Commit:
    """What one MERGE left: the table's current snapshot, the records it added, whether the table
    held none before (a first load: its records are all the MERGE's), and the net number of rows it
    removed (a collapse of duplicates deletes copies and inserts one)."""

    snapshot_id: int | None
    added_records: int
    first_load: bool
    removed_records: int = 0


def _props(props: dict[str, str]) -> str:
    return ", ".join(f"'{k}'='{v}'" for k, v in props.items())


def _insert_if_absent(target: str, source_view: str, on: str, columns: list[str]) -> str:
    """MERGE that inserts the source rows whose key is not in the target yet (idempotent on replay)."""
    values = ", ".join(f"s.{c}" for c in columns)
    return (
        f"MERGE INTO {target} t USING {qualified(source_view)} s ON {on} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({values})"
    )


def _collapse(target: str, source_view: str, keys: Iterable[str], columns: list[str], hours: Iterable[int | None]) -> str:
    """MERGE that leaves one row per duplicated key: every copy matches the key's `delete` row and is
    deleted, the key's `insert` row (matching nothing) is inserted (see `logic.reconcile.collapse_source`).
    `hours` (epoch seconds) are those of the copies: only their days are read and rewritten."""
    on = " AND ".join(f"t.{k} <=> s.{k}" for k in keys)
    values = ", ".join(f"s.{c}" for c in columns)
    return (
        f"MERGE INTO {target} t USING {qualified(source_view)} s "
        f"ON {on} AND s._side = 'delete' AND ({_landing_hour_in('t', hours)}) "
        f"WHEN MATCHED THEN DELETE "
        f"WHEN NOT MATCHED AND s._side = 'insert' THEN INSERT ({', '.join(columns)}) VALUES ({values})"
    )


def _checked(columns: list[str]) -> list[str]:
    return [validate_identifier(c, "column") for c in columns]


def _landing_hour_in(alias: str, hours: Iterable[int | None]) -> str:
    """`alias.landing_hour` is one of `hours` (epoch seconds, or None for null): a predicate
    Iceberg prunes partitions with (the literals are integers: nothing textual reaches the SQL)."""
    hours = list(hours)
    epochs = sorted({int(h) for h in hours if h is not None})
    terms = [f"{alias}.landing_hour IN ({', '.join(f'timestamp_seconds({e})' for e in epochs)})"] if epochs else []
    if None in hours or not epochs:
        terms.append(f"{alias}.landing_hour IS NULL")
    return " OR ".join(terms)


@dataclass(frozen=True)
class LakeTables:
    """Names and statements of one namespace's CS tables (tests use their own namespace)."""

    namespace: str = "cs"
    catalog: str = "lake"

    def __post_init__(self):
        validate_identifier(self.namespace, "namespace")
        validate_identifier(self.catalog, "catalog")

    def _name(self, table: str) -> str:
        return qualified(self.catalog, self.namespace, table)

    @property
    def events(self) -> str:
        return self._name("events")

    @property
    def events_quarantine(self) -> str:
        return self._name("events_quarantine")

    @property
    def tickets(self) -> str:
        return self._name("tickets")

    def identifier(self, table: str) -> tuple[str, str]:
        """(namespace, table) for PyIceberg's `load_table`."""
        return (self.namespace, validate_identifier(table, "table"))

    def ensure(self, spark) -> None:
        """Create the namespace and the three tables when absent (idempotent)."""
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {qualified(self.catalog, self.namespace)}")
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.events} ({EVENTS_DDL}) USING iceberg "
            f"PARTITIONED BY (days(landing_hour)) TBLPROPERTIES ({_props(_INSERT_ONLY_PROPS)})"
        )
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.events_quarantine} ({QUARANTINE_DDL}) USING iceberg "
            f"PARTITIONED BY (days(landing_hour)) TBLPROPERTIES ({_props(_INSERT_ONLY_PROPS)})"
        )
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.tickets} ({TICKETS_DDL}) USING iceberg "
            f"PARTITIONED BY (bucket(16, ticket_id)) TBLPROPERTIES ({_props(_TICKETS_PROPS)})"
        )

    def refresh(self, spark) -> None:
        """Drop this session's cached table metadata: a streaming query commits from a cloned
        session (foreachBatch), whose catalog cache this session does not see."""
        for table in (self.events, self.events_quarantine, self.tickets):
            spark.sql(f"REFRESH TABLE {table}")

    # ---- MERGE statements -------------------------------------------------------------------

    def merge_quarantine_sql(self, source_view: str, landing_hours: Iterable[int | None] | None = None) -> str:
        """Insert-if-absent keyed by (source_file, line_number): each invalid line lands once.

        `landing_hours` (epoch seconds; None for lines outside the hour layout) are the source's
        hours: the target is then read in their days only. Exact, because a line's hour follows
        from its file: a row of another hour cannot share its key.
        """
        on = "t.source_file = s.source_file AND t.line_number = s.line_number AND t.landing_hour <=> s.landing_hour"
        if landing_hours is not None:
            on += f" AND ({_landing_hour_in('t', landing_hours)})"
        return _insert_if_absent(self.events_quarantine, source_view, on, QUARANTINE_COLUMNS)

    def merge_events_sql(self, source_view: str) -> str:
        """Insert-if-absent by event_id: a re-delivered event keeps its first committed row."""
        return _insert_if_absent(self.events, source_view, "t.event_id = s.event_id", EVENT_COLUMNS)

    def merge_tickets_sql(self, source_view: str) -> str:
        """Upsert of refolded ticket state; rows whose every field is equal are left alone."""
        src = qualified(source_view)
        differs = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in TICKET_VALUE_COLUMNS)
        sets = ", ".join(f"t.{c} = s.{c}" for c in TICKET_VALUE_COLUMNS)
        cols = ", ".join(["ticket_id", *TICKET_VALUE_COLUMNS])
        vals = ", ".join(f"s.{c}" for c in ["ticket_id", *TICKET_VALUE_COLUMNS])
        return (
            f"MERGE INTO {self.tickets} t USING {src} s ON t.ticket_id = s.ticket_id "
            f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"
        )

    def collapse_events_sql(self, source_view: str, landing_hours: Iterable[int | None], columns: list[str]) -> str:
        """One row per duplicated event_id (a repair; the stream never writes a duplicate). `columns`:
        the table's current ones (an operator may have added some), all re-inserted."""
        return _collapse(self.events, source_view, ["event_id"], _checked(columns), landing_hours)

    def collapse_quarantine_sql(self, source_view: str, landing_hours: Iterable[int | None], columns: list[str]) -> str:
        """One row per duplicated quarantined line (source_file, line_number)."""
        return _collapse(self.events_quarantine, source_view, ["source_file", "line_number", "landing_hour"],
                         _checked(columns), landing_hours)

    def delete_quarantined_sql(self, source_view: str, landing_hours: Iterable[int | None]) -> str:
        """Delete the quarantined lines the source names (source_file, line_number, landing_hour)."""
        on = "t.source_file = s.source_file AND t.line_number = s.line_number AND t.landing_hour <=> s.landing_hour"
        return (f"MERGE INTO {self.events_quarantine} t USING {qualified(source_view)} s "
                f"ON {on} AND ({_landing_hour_in('t', landing_hours)}) WHEN MATCHED THEN DELETE")

    # ---- running them -----------------------------------------------------------------------

    def run_merge(self, spark, table: str, statement: str) -> Commit:
        """Run a MERGE (retrying when a concurrent compaction invalidated it); return the table's
        current snapshot and what the MERGE added (nothing when it committed nothing)."""
        before, before_summary = current_snapshot(spark, table)
        retry_on_conflict(lambda: spark.sql(statement), attempts=_MERGE_RETRIES,
                          on_conflict=lambda _attempt, _exc: spark.sql(f"REFRESH TABLE {table}"))
        after, summary = current_snapshot(spark, table)
        if after == before:
            return Commit(after, added_records=0, first_load=False)
        added, total = int(summary.get("added-records", 0)), int(summary.get("total-records", -1))
        removed = max(0, int(before_summary.get("total-records", 0)) - total)
        return Commit(after, added_records=added, first_load=added == total, removed_records=removed)
