"""Operator table operations on Iceberg: history, time travel, rollback, tags, schema evolution.

Rollback, tags and schema changes are metadata commits: they go through PyIceberg (milliseconds,
no JVM, the same optimistic commit on the shared catalog as Spark's), so a Dagster run or a
`csp table` command starts no Spark for them. Reading rows (time travel) goes through Spark.
Every name and type is validated first (``cs_platform.adapters.identifiers`` and the type
allow-list below); snapshot ids are integers and timestamps are parsed and re-formatted here, so
no user text is pasted into a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cs_platform.adapters.catalog import current_snapshot
from cs_platform.adapters.identifiers import InvalidIdentifier, table_name, validate_identifier
from cs_platform.adapters.lake_tables import EVENT_COLUMNS, QUARANTINE_COLUMNS, TICKET_VALUE_COLUMNS


class TableOpError(ValueError):
    """An operation cannot be applied as asked; the message says why and what to do."""


@dataclass(frozen=True)
class TableRef:
    """A validated Iceberg table name: what SQL, Iceberg procedures and PyIceberg each expect."""

    catalog: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, name: str, default_namespace: str = "cs") -> "TableRef":
        quoted = table_name(name, default_namespace=default_namespace)
        catalog, namespace, table = (part.strip("`") for part in quoted.split("."))
        return cls(catalog, namespace, table)

    @property
    def sql(self) -> str:
        return f"`{self.catalog}`.`{self.namespace}`.`{self.name}`"

    @property
    def procedure_arg(self) -> str:
        """The `table => '...'` literal of an Iceberg CALL (safe: parts are plain identifiers)."""
        return f"'{self.namespace}.{self.name}'"

    def procedure(self, name: str) -> str:
        return f"`{self.catalog}`.system.{validate_identifier(name, 'procedure')}"

    @property
    def identifier(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.catalog}.{self.namespace}.{self.name}"


# ---- literals ---------------------------------------------------------------------------------

def parse_timestamp(value: str | datetime) -> datetime:
    """An ISO-8601 timestamp (naive means UTC), as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise TableOpError(f"invalid timestamp {value!r}: use ISO-8601, e.g. 2026-11-26T10:15:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def timestamp_literal(value: str | datetime) -> str:
    """`TIMESTAMP '...'` in UTC (the platform's sessions run in UTC), millisecond precision."""
    moment = parse_timestamp(value)
    return f"TIMESTAMP '{moment.strftime('%Y-%m-%d %H:%M:%S')}.{moment.microsecond // 1000:03d}'"


def snapshot_id_literal(value) -> str:
    try:
        snapshot_id = int(value)
    except (TypeError, ValueError):
        raise TableOpError(f"invalid snapshot id {value!r}: expected an integer") from None
    return str(snapshot_id)


_SIMPLE_TYPES = {
    "string": "string", "int": "int", "integer": "int", "bigint": "bigint", "long": "bigint",
    "float": "float", "double": "double", "boolean": "boolean", "date": "date",
    "timestamp": "timestamp", "timestamp_ntz": "timestamp_ntz", "binary": "binary",
}
_DECIMAL = re.compile(r"^decimal\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$")
_WIDENINGS = {("int", "bigint"), ("float", "double")}


def column_type(value: str) -> str:
    """A Spark SQL column type from the allow-list (primitive types and decimal(p,s))."""
    text = str(value).strip().lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    match = _DECIMAL.match(text)
    if match and 1 <= int(match.group(1)) <= 38 and int(match.group(2)) <= int(match.group(1)):
        return f"decimal({int(match.group(1))},{int(match.group(2))})"
    raise TableOpError(
        f"invalid column type {value!r}: use one of {', '.join(sorted(set(_SIMPLE_TYPES.values())))} or decimal(p,s)"
    )


def check_widening(current: str, new: str) -> None:
    """Iceberg allows only safe promotions: int -> bigint, float -> double, decimal precision up."""
    if current == new:
        raise TableOpError(f"column is already {new}")
    if (current, new) in _WIDENINGS:
        return
    old_dec, new_dec = _DECIMAL.match(current), _DECIMAL.match(new)
    if old_dec and new_dec and old_dec.group(2) == new_dec.group(2) and int(new_dec.group(1)) > int(old_dec.group(1)):
        return
    raise TableOpError(
        f"cannot widen {current} to {new}: allowed are int -> bigint, float -> double, decimal(p,s) -> decimal(P,s) with P > p"
    )


# ---- metadata reads and commits (PyIceberg: no JVM) ---------------------------------------------

def require_catalog(catalog, ref: TableRef) -> None:
    """PyIceberg finds tables by namespace and name: another catalog's table would alias this one's."""
    if ref.catalog != catalog.name:
        raise TableOpError(f"table {ref} is not in catalog {catalog.name!r}")


def _load(catalog, ref: TableRef):
    from pyiceberg.exceptions import NoSuchTableError

    require_catalog(catalog, ref)
    try:
        return catalog.load_table(ref.identifier)
    except NoSuchTableError:
        raise TableOpError(f"table {ref} does not exist") from None


def history(catalog, ref: TableRef) -> list[dict]:
    """When each snapshot became current, and whether it is still an ancestor of the current one."""
    table = _load(catalog, ref)
    rows = table.inspect.history().to_pylist()
    return [{**row, "made_current_at": _utc(row["made_current_at"])} for row in rows]


def snapshots(catalog, ref: TableRef) -> list[dict]:
    table = _load(catalog, ref)
    current = table.current_snapshot()
    result = []
    for row in table.inspect.snapshots().to_pylist():
        summary = dict(row.get("summary") or [])
        result.append({
            "snapshot_id": row["snapshot_id"],
            "parent_id": row["parent_id"],
            "committed_at": _utc(row["committed_at"]),
            "operation": row["operation"],
            "current": current is not None and row["snapshot_id"] == current.snapshot_id,
            "added_records": int(summary.get("added-records", 0)),
            "deleted_records": int(summary.get("deleted-records", 0)),
            "total_records": int(summary.get("total-records", 0)),
        })
    return result


def refs(catalog, ref: TableRef) -> dict[str, int]:
    table = _load(catalog, ref)
    return {name: r.snapshot_id for name, r in table.metadata.refs.items()}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _current_id(table) -> int | None:
    current = table.current_snapshot()
    return current.snapshot_id if current is not None else None


def _millis(moment: datetime) -> int:
    return (int(moment.timestamp()) * 1_000_000 + moment.microsecond) // 1000


def snapshot_current_at(catalog, ref: TableRef, moment: str | datetime) -> int:
    """The snapshot that was the table's state at ``moment`` (from the snapshot log, ms precision)."""
    at = parse_timestamp(moment)
    log = [entry for entry in _load(catalog, ref).history() if entry.timestamp_ms <= _millis(at)]
    if not log:
        raise TableOpError(f"table {ref} has no snapshot at or before {at.isoformat()}")
    return max(log, key=lambda entry: entry.timestamp_ms).snapshot_id


def rollback(catalog, ref: TableRef, to_snapshot: int | None = None,
             to_timestamp: str | datetime | None = None) -> dict:
    """Make a snapshot current again: backwards (rollback) or forwards (after a rollback).

    By timestamp, the target is the snapshot that was current at that moment, so a rollback
    can itself be undone by rolling forward to a later moment. Forwards only as a fast-forward:
    when something was committed since the rollback (the stream goes on writing), the target is
    not a descendant of the current snapshot and making it current would silently drop those
    commits; that is refused, naming them.
    """
    from pyiceberg.table.snapshots import ancestors_of

    if (to_snapshot is None) == (to_timestamp is None):
        raise TableOpError("give exactly one of a snapshot id or a timestamp to roll back to")
    target = (int(snapshot_id_literal(to_snapshot)) if to_snapshot is not None
              else snapshot_current_at(catalog, ref, to_timestamp))
    table = _load(catalog, ref)
    if table.snapshot_by_id(target) is None:
        raise TableOpError(f"snapshot {target} does not exist in {ref} (expired, or never existed)")
    previous = _current_id(table)
    if previous == target:
        return {"previous_snapshot_id": previous, "current_snapshot_id": previous, "changed": False}
    lineage = [s.snapshot_id for s in ancestors_of(table.current_snapshot(), table.metadata)]
    ancestor = target in lineage
    if not ancestor:  # forwards: only if the target descends from the current snapshot
        kept = {s.snapshot_id for s in ancestors_of(table.snapshot_by_id(target), table.metadata)}
        dropped = [snapshot_id for snapshot_id in reversed(lineage) if snapshot_id not in kept]
        if dropped:
            raise TableOpError(
                f"cannot roll {ref} forward to snapshot {target}: it does not descend from the current snapshot "
                f"{previous}, so it would discard {len(dropped)} snapshot(s) committed since "
                f"({', '.join(map(str, dropped[:5]))}{', ...' if len(dropped) > 5 else ''}); "
                f"roll forward only to a descendant of {previous}, or copy the rows you need from snapshot "
                f"{target} (time travel: VERSION AS OF {target}) into the table"
            )
    with table.manage_snapshots() as manage:
        if ancestor:
            manage.rollback_to_snapshot(target)
        else:  # forwards: a fast-forward to a snapshot a rollback left behind
            manage.set_current_snapshot(snapshot_id=target)
    return {"previous_snapshot_id": previous, "current_snapshot_id": target, "changed": True,
            "procedure": "rollback_to_snapshot" if ancestor else "set_current_snapshot"}


def tag(catalog, ref: TableRef, tag_name: str, snapshot_id: int | None = None, retain_days: int | None = None,
        move: bool = False) -> dict:
    """Name a snapshot (default: the current one) so that snapshot expiry keeps it.

    A tag of that name on another snapshot is moved only if ``move`` (the result then says
    ``moved_from``): moving it silently would let expiry remove the snapshot it named. Tagging the
    snapshot the tag already names changes nothing (``changed`` false) unless ``retain_days`` differs.
    """
    from pyiceberg.table.refs import SnapshotRefType

    name = validate_identifier(tag_name, "tag name")
    if retain_days is not None and int(retain_days) < 1:
        raise TableOpError("retain_days must be >= 1")
    table = _load(catalog, ref)
    target = int(snapshot_id_literal(snapshot_id)) if snapshot_id is not None else _current_id(table)
    if target is None:
        raise TableOpError(f"table {ref} has no snapshot to tag")
    if table.snapshot_by_id(target) is None:
        raise TableOpError(f"snapshot {target} does not exist in {ref} (expired, or never existed)")
    existing = table.metadata.refs.get(name)
    if existing is not None and existing.snapshot_ref_type != SnapshotRefType.TAG:
        raise TableOpError(f"{name} is a branch of {ref}, not a tag: choose another name")
    max_ref_age_ms = int(retain_days) * 86_400_000 if retain_days else None
    result = {"tag": name, "snapshot_id": target, "changed": True}
    if existing is not None and existing.snapshot_id == target:
        if existing.max_ref_age_ms == max_ref_age_ms:
            return {**result, "changed": False}
        result["retain_days"] = int(retain_days) if retain_days else None  # None: kept for good from now on
    elif existing is not None:
        if not move:
            raise TableOpError(
                f"tag {name} of {ref} already names snapshot {existing.snapshot_id}: moving it to {target} would let "
                f"snapshot expiry remove {existing.snapshot_id}; choose another tag name, or move it explicitly "
                "(`csp table tag ... --move`; in Dagster: the table_tag job with config move: true)"
            )
        result["moved_from"] = existing.snapshot_id
    with table.manage_snapshots() as manage:
        if existing is not None:
            manage.remove_tag(name)
        manage.create_tag(target, name, max_ref_age_ms=max_ref_age_ms)
    return result


def _iceberg_type(spark_type: str):
    """The Iceberg type of an allow-listed Spark SQL type (see :func:`column_type`)."""
    from pyiceberg import types as t

    decimal = _DECIMAL.match(spark_type)
    if decimal:
        return t.DecimalType(int(decimal.group(1)), int(decimal.group(2)))
    return {"string": t.StringType(), "int": t.IntegerType(), "bigint": t.LongType(), "float": t.FloatType(),
            "double": t.DoubleType(), "boolean": t.BooleanType(), "date": t.DateType(),
            "timestamp": t.TimestamptzType(), "timestamp_ntz": t.TimestampType(), "binary": t.BinaryType()}[spark_type]


def _spark_type(iceberg_type) -> str:
    """Spark SQL's name of an Iceberg type (what users type and see)."""
    from pyiceberg import types as t

    if isinstance(iceberg_type, t.DecimalType):
        return f"decimal({iceberg_type.precision},{iceberg_type.scale})"
    names = {t.StringType: "string", t.IntegerType: "int", t.LongType: "bigint", t.FloatType: "float",
             t.DoubleType: "double", t.BooleanType: "boolean", t.DateType: "date", t.TimestamptzType: "timestamp",
             t.TimestampType: "timestamp_ntz", t.BinaryType: "binary"}
    return names.get(type(iceberg_type), str(iceberg_type))


def _field_type(table, ref: TableRef, name: str) -> str:
    validate_identifier(name, "column name")
    try:
        return _spark_type(table.schema().find_field(name).field_type)
    except ValueError:
        raise TableOpError(f"column {name!r} does not exist in {ref}") from None


def _check_position(first: bool, after: str | None) -> None:
    if first and after:
        raise TableOpError("give either first or after, not both")
    if after:
        validate_identifier(after, "column name")


def _move(update, name: str, first: bool, after: str | None) -> None:
    if first:
        update.move_first(name)
    elif after:
        update.move_after(name, after)


def _evolve(table, ref: TableRef, change) -> None:
    """Apply `change(update_schema)` in one commit; PyIceberg's refusals become TableOpError."""
    try:
        with table.update_schema() as update:
            change(update)
    except ValueError as exc:
        raise TableOpError(f"cannot change the schema of {ref}: {exc}") from None


def add_column(catalog, ref: TableRef, name: str, type_: str, first: bool = False, after: str | None = None,
               comment: str | None = None) -> dict:
    col_type = column_type(type_)
    validate_identifier(name, "column name")
    _check_position(first, after)
    if comment:
        _check_comment(comment)
    table = _load(catalog, ref)

    def change(update) -> None:
        update.add_column(name, _iceberg_type(col_type), doc=comment or None)
        _move(update, name, first, after)

    _evolve(table, ref, change)
    return {"added": name, "type": col_type}


# The stream's MERGEs name each of these columns (cs_platform.adapters.lake_tables): renamed, every
# later batch of the stream would fail on the old name.
_STREAM_COLUMNS = {
    "events": frozenset(EVENT_COLUMNS),
    "events_quarantine": frozenset(QUARANTINE_COLUMNS),
    "tickets": frozenset(["ticket_id", *TICKET_VALUE_COLUMNS]),
}


def rename_column(catalog, ref: TableRef, old: str, new: str) -> dict:
    """Rename a column; refused for the columns the stream writes by name (in any namespace)."""
    table = _load(catalog, ref)
    _field_type(table, ref, old)
    validate_identifier(new, "column name")
    if old.lower() in _STREAM_COLUMNS.get(ref.name.lower(), ()):
        raise TableOpError(
            f"cannot rename column {old!r} of {ref}: the stream's MERGE into {ref.name} names it "
            "(cs_platform/adapters/lake_tables.py), so every later batch would fail; keep the name, or add a "
            "column and copy the values into it"
        )
    _evolve(table, ref, lambda update: update.rename_column(old, new))
    return {"renamed": old, "to": new}


def widen_column(catalog, ref: TableRef, name: str, new_type: str) -> dict:
    target = column_type(new_type)
    table = _load(catalog, ref)
    current = _field_type(table, ref, name)
    check_widening(current, target)
    _evolve(table, ref, lambda update: update.update_column(name, field_type=_iceberg_type(target)))
    return {"column": name, "from": current, "to": target}


def reorder_column(catalog, ref: TableRef, name: str, first: bool = False, after: str | None = None) -> dict:
    _check_position(first, after)
    if not (first or after):
        raise TableOpError("give first or after to reorder a column")
    table = _load(catalog, ref)
    _field_type(table, ref, name)
    _evolve(table, ref, lambda update: _move(update, name, first, after))
    return {"column": name, "position": "FIRST" if first else f"AFTER `{after}`"}


# ---- Spark reads -------------------------------------------------------------------------------

def refresh(spark, ref: TableRef) -> None:
    """Drop Spark's cached copy of the table: commits made elsewhere (another session, PyIceberg)
    stay invisible through a cached table otherwise."""
    spark.sql(f"REFRESH TABLE {ref.sql}")


def read(spark, ref: TableRef, at_snapshot: int | None = None, at_timestamp: str | datetime | None = None):
    """The table as it was at a snapshot or at a moment (time travel), as a DataFrame."""
    if at_snapshot is not None and at_timestamp is not None:
        raise TableOpError("give either a snapshot or a timestamp, not both")
    refresh(spark, ref)
    sql = f"SELECT * FROM {ref.sql}"
    if at_snapshot is not None:
        sql += f" VERSION AS OF {snapshot_id_literal(at_snapshot)}"
    elif at_timestamp is not None:
        sql += f" TIMESTAMP AS OF {timestamp_literal(at_timestamp)}"
    return spark.sql(sql)


def current_snapshot_id(spark, ref: TableRef) -> int | None:
    refresh(spark, ref)
    return current_snapshot(spark, ref.sql)[0]


def _check_comment(text: str) -> None:
    if not re.fullmatch(r"[\w .,:;()/-]{0,200}", text):
        raise TableOpError("comment may hold letters, digits, spaces and .,:;()/- only (max 200 characters)")


__all__ = [
    "InvalidIdentifier", "TableOpError", "TableRef", "add_column", "check_widening", "column_type", "history",
    "parse_timestamp", "read", "refs", "rename_column", "reorder_column", "rollback", "snapshot_current_at",
    "snapshots", "tag", "timestamp_literal", "widen_column",
]
