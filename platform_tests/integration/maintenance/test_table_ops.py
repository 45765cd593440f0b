"""Table operations: schema evolution keeps old data readable, rollback and roll forward by snapshot
and by timestamp, time travel, tags, and rejection of crafted identifiers and of changes that lose
data (a roll forward over newer commits, a silent tag move) or break the stream (renaming its columns)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from cs_platform.adapters.identifiers import InvalidIdentifier
from cs_platform.lakehouse import table_ops
from cs_platform.lakehouse.maintenance import plan
from cs_platform.lakehouse.table_ops import TableOpError, TableRef
from platform_tests.integration.maintenance.conftest import table_rows


def _commit(spark, ref, rows) -> tuple[int, datetime]:
    """Append rows; return the new snapshot id and a moment after it became current."""
    spark.createDataFrame(rows, "id INT, name STRING").writeTo(ref.sql).append()
    snapshot_id = table_ops.current_snapshot_id(spark, ref)
    time.sleep(0.05)
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)
    return snapshot_id, moment


@pytest.fixture
def people(spark, namespace):
    ref = TableRef.parse(f"{namespace}.people")
    spark.sql(f"CREATE TABLE {ref.sql} (id INT, name STRING) USING iceberg")
    return ref


def test_rename_widen_add_and_reorder_keep_old_data_readable(spark, iceberg_catalog, people):
    _commit(spark, people, [(1, "ann"), (2, "bob")])

    renamed = table_ops.rename_column(iceberg_catalog, people, "name", "full_name")
    assert renamed == {"renamed": "name", "to": "full_name"}
    widened = table_ops.widen_column(iceberg_catalog, people, "id", "long")
    assert widened == {"column": "id", "from": "int", "to": "bigint"}
    table_ops.add_column(iceberg_catalog, people, "score", "double", after="id")
    table_ops.reorder_column(iceberg_catalog, people, "full_name", first=True)
    table_ops.refresh(spark, people)  # the schema changed through PyIceberg, not through this session
    spark.sql(f"INSERT INTO {people.sql} VALUES ('cid', 5000000000, 4.5)")

    assert [(f.name, f.dataType.simpleString()) for f in spark.table(people.sql).schema.fields] == [
        ("full_name", "string"), ("id", "bigint"), ("score", "double")]
    assert table_rows(spark, people, "id, full_name, score") == [
        (1, "ann", None), (2, "bob", None), (5000000000, "cid", 4.5)]


def test_invalid_schema_changes_are_rejected(spark, iceberg_catalog, people):
    with pytest.raises(TableOpError, match=r"^cannot widen string to int: allowed are int -> bigint, float -> double, "
                                           r"decimal\(p,s\) -> decimal\(P,s\) with P > p$"):
        table_ops.widen_column(iceberg_catalog, people, "name", "int")
    with pytest.raises(TableOpError, match=r"^column 'nickname' does not exist in lake\.\w+\.people$"):
        table_ops.rename_column(iceberg_catalog, people, "nickname", "alias")
    with pytest.raises(TableOpError, match=r"^invalid column type 'string\); DROP TABLE x; --'"):
        table_ops.add_column(iceberg_catalog, people, "x", "string); DROP TABLE x; --")


def test_crafted_identifiers_are_rejected_before_sql(spark, iceberg_catalog, people):
    rule = ": use letters, digits and underscores, starting with a letter or underscore"
    with pytest.raises(InvalidIdentifier, match=re.escape("invalid table name part 'people; DROP TABLE x'" + rule)):
        TableRef.parse(f"{people.namespace}.people; DROP TABLE x")
    with pytest.raises(InvalidIdentifier, match=re.escape("invalid column name 'name` STRING, evil'" + rule)):
        table_ops.add_column(iceberg_catalog, people, "name` STRING, evil", "string")
    with pytest.raises(InvalidIdentifier, match=re.escape("invalid column name 'x)--'" + rule)):
        table_ops.rename_column(iceberg_catalog, people, "name", "x)--")
    with pytest.raises(InvalidIdentifier, match=re.escape('invalid tag name "v1\'; --"' + rule)):
        table_ops.tag(iceberg_catalog, people, "v1'; --")
    with pytest.raises(InvalidIdentifier, match=re.escape("invalid tag name 'v1\\n'" + rule)):
        table_ops.tag(iceberg_catalog, people, "v1\n")
    other = TableRef.parse(f"other.{people.namespace}.people")
    with pytest.raises(TableOpError, match=rf"^table other\.{people.namespace}\.people is not in catalog 'lake'$"):
        table_ops.rollback(iceberg_catalog, other, to_snapshot=1)
    with pytest.raises(TableOpError, match=rf"^table other\.{people.namespace}\.people is not in catalog 'lake'$"):
        plan(iceberg_catalog, [str(other)])  # maintenance would probe lake's table and run on other's
    assert [f.name for f in spark.table(people.sql).schema.fields] == ["id", "name"]
    assert table_ops.refs(iceberg_catalog, people) == {}  # nothing tagged, nothing rolled back


def test_rollback_and_roll_forward_by_snapshot(spark, iceberg_catalog, people):
    first, _ = _commit(spark, people, [(1, "ann")])
    second, _ = _commit(spark, people, [(2, "bob")])

    back = table_ops.rollback(iceberg_catalog, people, to_snapshot=first)
    assert back == {"previous_snapshot_id": second, "current_snapshot_id": first, "changed": True,
                    "procedure": "rollback_to_snapshot"}
    assert table_rows(spark, people) == [(1, "ann")]

    forward = table_ops.rollback(iceberg_catalog, people, to_snapshot=second)
    assert forward["procedure"] == "set_current_snapshot"
    assert table_rows(spark, people) == [(1, "ann"), (2, "bob")]
    history = table_ops.history(iceberg_catalog, people)
    assert [h["snapshot_id"] for h in history] == [first, second, first, second]
    with pytest.raises(TableOpError, match=r"^snapshot 42 does not exist in lake\.\w+\.people \(expired, or never existed\)$"):
        table_ops.rollback(iceberg_catalog, people, to_snapshot=42)


def test_rollback_and_roll_forward_by_timestamp_and_time_travel(spark, iceberg_catalog, people):
    first, after_first = _commit(spark, people, [(1, "ann")])
    second, after_second = _commit(spark, people, [(2, "bob")])
    _commit(spark, people, [(3, "cid")])

    assert sorted(tuple(r) for r in table_ops.read(spark, people, at_timestamp=after_first).collect()) == [(1, "ann")]
    assert sorted(tuple(r) for r in table_ops.read(spark, people, at_snapshot=second).collect()) == [(1, "ann"), (2, "bob")]

    assert table_ops.rollback(iceberg_catalog, people, to_timestamp=after_first)["current_snapshot_id"] == first
    assert table_rows(spark, people) == [(1, "ann")]
    forward = table_ops.rollback(iceberg_catalog, people, to_timestamp=after_second.isoformat())
    assert forward["current_snapshot_id"] == second
    assert table_rows(spark, people) == [(1, "ann"), (2, "bob")]
    with pytest.raises(TableOpError, match=r"^table lake\.\w+\.people has no snapshot at or before 2001-01-01T00:00:00\+00:00$"):
        table_ops.rollback(iceberg_catalog, people, to_timestamp="2001-01-01T00:00:00Z")


def test_tag_snapshot_and_list_snapshots(spark, iceberg_catalog, people):
    first, _ = _commit(spark, people, [(1, "ann")])
    second, _ = _commit(spark, people, [(2, "bob")])

    assert table_ops.tag(iceberg_catalog, people, "before_fix", snapshot_id=first, retain_days=30) == {
        "tag": "before_fix", "snapshot_id": first, "changed": True}
    assert table_ops.refs(iceberg_catalog, people) == {"main": second, "before_fix": first}
    listed = table_ops.snapshots(iceberg_catalog, people)
    assert [(s["snapshot_id"], s["current"], s["total_records"]) for s in listed] == [(first, False, 1), (second, True, 2)]
    table_ops.refresh(spark, people)
    assert sorted(tuple(r) for r in spark.sql(f"SELECT * FROM {people.sql} VERSION AS OF 'before_fix'").collect()) == [(1, "ann")]


def test_roll_forward_refuses_to_discard_commits_made_since_the_rollback(spark, iceberg_catalog, people):
    first, _ = _commit(spark, people, [(1, "ann")])
    _commit(spark, people, [(2, "bob")])
    third, after_third = _commit(spark, people, [(3, "cid")])
    table_ops.rollback(iceberg_catalog, people, to_snapshot=first)
    fourth, _ = _commit(spark, people, [(4, "dan")])  # the stream goes on writing on top of the rollback
    fifth, _ = _commit(spark, people, [(5, "eve")])

    refusal = (f"cannot roll {people} forward to snapshot {third}: it does not descend from the current snapshot "
               f"{fifth}, so it would discard 2 snapshot(s) committed since ({fourth}, {fifth}); roll forward only to a "
               f"descendant of {fifth}, or copy the rows you need from snapshot {third} (time travel: VERSION AS OF "
               f"{third}) into the table")
    with pytest.raises(TableOpError, match=f"^{re.escape(refusal)}$"):
        table_ops.rollback(iceberg_catalog, people, to_snapshot=third)
    with pytest.raises(TableOpError, match=f"^{re.escape(refusal)}$"):  # the moment before the rollback: the same
        table_ops.rollback(iceberg_catalog, people, to_timestamp=after_third)

    assert table_ops.refs(iceberg_catalog, people) == {"main": fifth}
    assert table_rows(spark, people) == [(1, "ann"), (4, "dan"), (5, "eve")]
    back = table_ops.rollback(iceberg_catalog, people, to_snapshot=fourth)  # backwards stays allowed
    assert back["current_snapshot_id"] == fourth
    assert table_ops.rollback(iceberg_catalog, people, to_snapshot=fifth) == {  # and a true fast-forward
        "previous_snapshot_id": fourth, "current_snapshot_id": fifth, "changed": True,
        "procedure": "set_current_snapshot"}


def test_retagging_moves_a_tag_only_when_asked(spark, iceberg_catalog, people):
    first, _ = _commit(spark, people, [(1, "ann")])
    second, _ = _commit(spark, people, [(2, "bob")])
    table_ops.tag(iceberg_catalog, people, "before_release", snapshot_id=first)

    with pytest.raises(TableOpError, match="^" + re.escape(
            f"tag before_release of {people} already names snapshot {first}: moving it to {second} would let "
            f"snapshot expiry remove {first}; choose another tag name, or move it explicitly "
            "(`csp table tag ... --move`; in Dagster: the table_tag job with config move: true)") + "$"):
        table_ops.tag(iceberg_catalog, people, "before_release")
    assert table_ops.refs(iceberg_catalog, people) == {"main": second, "before_release": first}

    assert table_ops.tag(iceberg_catalog, people, "before_release", snapshot_id=first) == {
        "tag": "before_release", "snapshot_id": first, "changed": False}
    assert table_ops.tag(iceberg_catalog, people, "before_release", snapshot_id=first, retain_days=7) == {
        "tag": "before_release", "snapshot_id": first, "changed": True, "retain_days": 7}
    assert table_ops.tag(iceberg_catalog, people, "before_release", snapshot_id=first) == {  # back to "for good"
        "tag": "before_release", "snapshot_id": first, "changed": True, "retain_days": None}
    assert table_ops.tag(iceberg_catalog, people, "before_release", move=True) == {
        "tag": "before_release", "snapshot_id": second, "changed": True, "moved_from": first}
    assert table_ops.refs(iceberg_catalog, people) == {"main": second, "before_release": second}


def test_renaming_a_column_the_stream_writes_is_refused(spark, iceberg_catalog, namespace):
    for name, columns in (("events", "event_id STRING, note STRING"), ("events_quarantine", "reason STRING"),
                          ("tickets", "ticket_id STRING, status STRING")):
        spark.sql(f"CREATE TABLE lake.{namespace}.{name} ({columns}) USING iceberg")

    for name, column in (("events", "event_id"), ("events_quarantine", "reason"), ("tickets", "ticket_id"),
                         ("tickets", "status")):
        ref = TableRef.parse(f"{namespace}.{name}")
        with pytest.raises(TableOpError, match="^" + re.escape(
                f"cannot rename column '{column}' of lake.{namespace}.{name}: the stream's MERGE into {name} names it "
                "(cs_platform/adapters/lake_tables.py), so every later batch would fail; keep the name, or add a "
                "column and copy the values into it") + "$"):
            table_ops.rename_column(iceberg_catalog, ref, column, f"{column}_v2")

    events = TableRef.parse(f"{namespace}.events")
    assert table_ops.rename_column(iceberg_catalog, events, "note", "remark") == {"renamed": "note", "to": "remark"}
    assert [f.name for f in iceberg_catalog.load_table(events.identifier).schema().fields] == ["event_id", "remark"]
    tickets = TableRef.parse(f"{namespace}.tickets")
    assert [f.name for f in iceberg_catalog.load_table(tickets.identifier).schema().fields] == ["ticket_id", "status"]
