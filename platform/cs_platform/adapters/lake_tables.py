"""The CS lake tables (DESIGN 3.2): names, DDL, the idempotent writes and the sync record of tickets.

Every statement is built here from validated identifiers. Sources of the MERGEs are temp views
registered by the caller on the session that runs the statement (in foreachBatch: the batch
DataFrame's session).

Layout: events and quarantine are partitioned by `days(landing_hour)` (reconciliation and
backfill work hour by hour); tickets by `bucket(16, ticket_id)` with merge-on-read, so a batch
that touches a few tickets writes small delete files instead of rewriting buckets (maintenance
compacts them).
"""

from __future__ import annotations

from dataclasses import dataclass

from cs_platform.adapters.commit_retry import retry_on_conflict
from cs_platform.adapters.identifiers import qualified, validate_identifier
from cs_platform.logic.tickets import FOLD_STATE, FOLD_STATE_DDL

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
    event_count BIGINT NOT NULL, {fold_state} {fold_state_ddl}
""".format(fold_state=FOLD_STATE, fold_state_ddl=FOLD_STATE_DDL)
TICKET_VALUE_COLUMNS = [
    "customer_id", "channel", "created_at", "status", "priority", "agent_id", "csat_score", "message_count",
    "first_response_at", "resolved_at", "last_seq", "updated_at", "event_count", FOLD_STATE,
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
_TICKETS_PROPS = {
    **_COMMON_PROPS,
    "write.merge.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.delete.mode": "merge-on-read",
}

_MERGE_RETRIES = 5
# On tickets: "<tickets snapshot>:<events snapshot>" after each write of ticket state, i.e. the
# tickets of that snapshot are the fold of exactly the events of that one ("none": no snapshot).
_SYNCED_PROPERTY = "csp.tickets-synced-with"


def _props(props: dict[str, str]) -> str:
    return ", ".join(f"'{k}'='{v}'" for k, v in props.items())


def _insert_if_absent(target: str, source_view: str, on: str, columns: list[str]) -> str:
    """MERGE that inserts the source rows whose key is not in the target yet (idempotent on replay)."""
    values = ", ".join(f"s.{c}" for c in columns)
    return (
        f"MERGE INTO {target} t USING {qualified(source_view)} s ON {on} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({values})"
    )


@dataclass(frozen=True)
class SyncPoint:
    """Current snapshot ids of events and tickets (None: none yet), and whether they are in sync."""

    events: int | None
    tickets: int | None
    in_sync: bool


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
        """Create the namespace and the three tables when absent, upgrade an older tickets table
        (idempotent)."""
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {qualified(self.catalog, self.namespace)}")
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.events} ({EVENTS_DDL}) USING iceberg "
            f"PARTITIONED BY (days(landing_hour)) TBLPROPERTIES ({_props(_COMMON_PROPS)})"
        )
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.events_quarantine} ({QUARANTINE_DDL}) USING iceberg "
            f"PARTITIONED BY (days(landing_hour)) TBLPROPERTIES ({_props(_COMMON_PROPS)})"
        )
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.tickets} ({TICKETS_DDL}) USING iceberg "
            f"PARTITIONED BY (bucket(16, ticket_id)) TBLPROPERTIES ({_props(_TICKETS_PROPS)})"
        )
        if FOLD_STATE not in spark.table(self.tickets).columns:
            self._add_fold_state(spark)

    def _add_fold_state(self, spark) -> None:
        """Schema evolution of a tickets table made before `fold_state` existed. Such a table has
        no sync record, so the next batch refolds every ticket, which fills the column."""
        spark.sql(f"ALTER TABLE {self.tickets} ADD COLUMN {FOLD_STATE} {FOLD_STATE_DDL}")
        spark.sql(f"REFRESH TABLE {self.tickets}")

    def refresh(self, spark) -> None:
        """Drop this session's cached table metadata: a streaming query commits from a cloned
        session (foreachBatch), whose catalog cache this session does not see."""
        for table in (self.events, self.events_quarantine, self.tickets):
            spark.sql(f"REFRESH TABLE {table}")

    # ---- MERGE statements -------------------------------------------------------------------

    def merge_quarantine_sql(self, source_view: str) -> str:
        """Insert-if-absent keyed by (source_file, line_number): each invalid line lands once."""
        return _insert_if_absent(
            self.events_quarantine, source_view,
            "t.source_file = s.source_file AND t.line_number = s.line_number AND t.landing_hour <=> s.landing_hour",
            QUARANTINE_COLUMNS,
        )

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

    # ---- running them -----------------------------------------------------------------------

    def current_snapshot(self, spark, table: str) -> tuple[int | None, dict[str, str]]:
        """(snapshot id, summary) of the table's current snapshot, or (None, {}) when empty."""
        rows = spark.sql(
            f"SELECT s.snapshot_id, s.summary FROM {table}.snapshots s "
            f"JOIN {table}.history h ON s.snapshot_id = h.snapshot_id "
            f"WHERE h.is_current_ancestor ORDER BY h.made_current_at DESC LIMIT 1"
        ).collect()
        if not rows:
            return None, {}
        return rows[0]["snapshot_id"], dict(rows[0]["summary"] or {})

    def sync_point(self, spark) -> SyncPoint:
        """The current snapshots of events and tickets, and whether the tickets hold the fold of
        exactly those events, so that a batch may advance them with its new events alone: both
        tables are still at the pair recorded by the last write of ticket state, or were only
        compacted since. Not so after a crash between the events and the tickets commit, a
        rollback of either table, another writer, or a table older than the record."""
        events, tickets = self.current_snapshot(spark, self.events)[0], self.current_snapshot(spark, self.tickets)[0]
        recorded = dict(r for r in spark.sql(f"SHOW TBLPROPERTIES {self.tickets}").collect()).get(_SYNCED_PROPERTY)
        if recorded is None:  # never recorded: in sync only while nothing was ever written
            return SyncPoint(events, tickets, events is None and tickets is None)
        tickets_recorded, _, events_recorded = recorded.partition(":")
        in_sync = (self._descends(spark, self.tickets, tickets, tickets_recorded)
                   and self._descends(spark, self.events, events, events_recorded))
        return SyncPoint(events, tickets, in_sync)

    def mark_synced(self, spark, events_snapshot: int | None, tickets_snapshot: int | None) -> None:
        """Record a pair of snapshots whose tickets are the fold of exactly its events."""
        pair = f"{tickets_snapshot or 'none'}:{events_snapshot or 'none'}"
        spark.sql(f"ALTER TABLE {self.tickets} SET TBLPROPERTIES ('{_SYNCED_PROPERTY}'='{pair}')")

    @staticmethod
    def _descends(spark, table: str, current: int | None, recorded: str) -> bool:
        """`current` is the `recorded` snapshot, or descends from it by compactions only."""
        if current is None or recorded == "none":
            return current is None and recorded == "none"
        if str(current) == recorded:  # the usual case: no lineage to read
            return True
        lineage = {r["snapshot_id"]: (r["parent_id"], r["operation"]) for r in spark.sql(
            f"SELECT snapshot_id, parent_id, operation FROM {table}.snapshots").collect()}
        while current is not None and str(current) != recorded:
            parent, operation = lineage.get(current, (None, None))
            if operation != "replace":  # content changed (or the lineage expired): not provably in sync
                return False
            current = parent
        return current is not None

    def as_of(self, spark, table: str, snapshot_id: int | None):
        """The table as of a snapshot (None: empty, no snapshot yet). A cached DataFrame that reads
        a table this way stays right after the table is written: Spark recomputes a cached plan
        that reads a table it writes to, and a pinned read recomputes to the same rows."""
        if snapshot_id is None:
            return spark.createDataFrame([], spark.table(table).schema)
        return spark.read.option("snapshot-id", snapshot_id).table(table)

    def append(self, spark, table: str, rows) -> int | None:
        """Append a DataFrame (an insert-if-absent whose anti join the caller has done: the
        rows it inserts are then known); return the current snapshot id. An append commits
        beside a concurrent compaction without conflict."""
        rows.writeTo(table).append()
        return self.current_snapshot(spark, table)[0]

    def run_merge(self, spark, table: str, statement: str) -> tuple[int | None, int]:
        """Run a MERGE (retrying when a concurrent compaction invalidated it); return the
        current snapshot id and the number of records the MERGE added (0 when it committed nothing)."""
        before, _ = self.current_snapshot(spark, table)
        retry_on_conflict(lambda: spark.sql(statement), attempts=_MERGE_RETRIES,
                          on_conflict=lambda _attempt, _exc: spark.sql(f"REFRESH TABLE {table}"))
        after, summary = self.current_snapshot(spark, table)
        added = int(summary.get("added-records", 0)) if after != before else 0
        return after, added
