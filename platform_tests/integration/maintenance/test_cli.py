"""`csp table ...` and `csp maintain` in process (the shared Spark session is reused)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cs_platform.cli import cli
from cs_platform.lakehouse import table_ops
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import table_rows


def _csp(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _lines(result) -> list[dict]:
    return [json.loads(line) for line in result.output.splitlines()]


def _people_in_two_snapshots(spark, namespace):
    """`<namespace>.people` with (1, ann) in its first snapshot and (2, bob) added in its second."""
    ref = TableRef.parse(f"{namespace}.people")
    spark.sql(f"CREATE TABLE {ref.sql} (id INT, name STRING) USING iceberg")
    spark.sql(f"INSERT INTO {ref.sql} VALUES (1, 'ann')")
    first = table_ops.current_snapshot_id(spark, ref)
    spark.sql(f"INSERT INTO {ref.sql} VALUES (2, 'bob')")
    return ref, f"{namespace}.people", first, table_ops.current_snapshot_id(spark, ref)


def test_table_commands(spark, namespace):
    ref, name, first, second = _people_in_two_snapshots(spark, namespace)

    assert [row["snapshot_id"] for row in _lines(_csp("table", "history", name))] == [first, second]
    assert _lines(_csp("table", "read", name, "--at-snapshot", str(first))) == [{"id": 1, "name": "ann"}]
    assert _lines(_csp("table", "rollback", name, "--to-snapshot", str(first))) == [
        {"changed": True, "current_snapshot_id": first, "previous_snapshot_id": second, "procedure": "rollback_to_snapshot"}]
    assert _lines(_csp("table", "tag", name, "rolled_back")) == [
        {"changed": True, "snapshot_id": first, "tag": "rolled_back"}]
    assert _csp("table", "rename-column", name, "name", "full_name").exit_code == 0
    assert _csp("table", "widen", name, "id", "bigint").exit_code == 0
    assert _lines(_csp("table", "snapshots", name))[-1] == {"refs": {"main": first, "rolled_back": first}}
    assert table_rows(spark, ref, "id, full_name") == [(1, "ann")]

    crafted = _csp("table", "rename-column", name, "full_name", "x`; DROP TABLE t; --")
    assert crafted.exit_code == 2
    assert crafted.output.splitlines()[-1] == (
        "Error: invalid column name 'x`; DROP TABLE t; --': use letters, digits and underscores, "
        "starting with a letter or underscore")
    bad_widen = _csp("table", "widen", name, "full_name", "int")
    assert bad_widen.exit_code == 2
    assert bad_widen.output.splitlines()[-1] == (
        "Error: cannot widen string to int: allowed are int -> bigint, float -> double, decimal(p,s) -> decimal(P,s) with P > p")


def test_table_refusals_are_usage_errors_and_tag_moves_with_move(spark, namespace):
    ref, name, first, second = _people_in_two_snapshots(spark, namespace)

    assert _csp("table", "tag", name, "before_release", "--snapshot", str(first)).exit_code == 0
    again = _csp("table", "tag", name, "before_release")
    assert (again.exit_code, again.output.splitlines()[-1]) == (2, (
        f"Error: tag before_release of {ref} already names snapshot {first}: moving it to {second} would let "
        f"snapshot expiry remove {first}; choose another tag name, or move it explicitly "
        "(`csp table tag ... --move`; in Dagster: the table_tag job with config move: true)"))
    assert _lines(_csp("table", "tag", name, "before_release", "--move")) == [
        {"changed": True, "moved_from": first, "snapshot_id": second, "tag": "before_release"}]

    _csp("table", "rollback", name, "--to-snapshot", str(first))
    spark.sql(f"INSERT INTO {ref.sql} VALUES (3, 'cid')")
    third = table_ops.current_snapshot_id(spark, ref)
    forward = _csp("table", "rollback", name, "--to-snapshot", str(second))
    assert (forward.exit_code, forward.output.splitlines()[-1]) == (2, (
        f"Error: cannot roll {ref} forward to snapshot {second}: it does not descend from the current snapshot "
        f"{third}, so it would discard 1 snapshot(s) committed since ({third}); roll forward only to a descendant of "
        f"{third}, or copy the rows you need from snapshot {second} (time travel: VERSION AS OF {second}) into the table"))
    assert table_rows(spark, ref) == [(1, "ann"), (3, "cid")]


def test_maintain_dry_run_changes_nothing(spark, namespace):
    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for i in range(3):
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")

    result = _csp("maintain", "--table", f"{namespace}.events", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    steps = _lines(result)
    assert [(s["step"], s["status"]) for s in steps] == [
        ("rewrite_data_files", "dry_run"), ("rewrite_position_delete_files", "skipped"),
        ("expire_snapshots", "skipped"), ("rewrite_manifests", "skipped"), ("remove_orphan_files", "dry_run")]
    assert [(s["before"]["data_files"], s["after"]["data_files"]) for s in steps] == [(3, 3)] * 5
    rejected = _csp("maintain", "--table", f"{namespace}.events", "--orphan-age-days", "2")
    assert rejected.exit_code == 2
    assert rejected.output.splitlines()[-1] == (
        f"Error: invalid maintenance policy for lake.{namespace}.events: orphan_age_days=2.0 is below the minimum "
        "of 3 days: younger files may belong to a commit in flight and deleting them would corrupt the table")
    elsewhere = _csp("maintain", "--table", f"other.{namespace}.events")
    assert (elsewhere.exit_code, elsewhere.output.splitlines()[-1]) == (
        2, f"Error: table other.{namespace}.events is not in catalog 'lake'")


def test_maintain_goes_on_with_the_other_tables_when_one_fails(spark, namespace):
    """A table whose compaction fails (a data file is gone) is reported; the next table is still maintained."""
    from pathlib import Path
    from urllib.parse import urlparse

    for name in ("bad", "good"):
        spark.sql(f"CREATE TABLE lake.{namespace}.{name} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
        for i in range(3):
            spark.sql(f"INSERT INTO lake.{namespace}.{name} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")
    lost = spark.sql(f"SELECT file_path FROM lake.{namespace}.bad.files").first()[0]
    Path(urlparse(lost).path).unlink()

    result = CliRunner().invoke(cli, ["maintain", "--table", f"{namespace}.bad", "--table", f"{namespace}.good",
                                      "--step", "rewrite_data_files", "--json"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (f"Error: rewrite_data_files on lake.{namespace}.bad: 3 data file(s) could not be rewritten "
                        '(0 were); the cause is in the driver log ("Failure during rewrite group")')
    good = json.loads(lines[1])
    assert (good["table"], good["step"], good["status"], good["after"]["data_files"]) == (
        f"lake.{namespace}.good", "rewrite_data_files", "done", 1)
    assert lines[2:] == ["Error: maintenance failed on 1 table(s): see the errors above"]


def test_maintain_reports_an_unexpected_error_and_goes_on_with_the_other_tables(spark, iceberg_catalog, namespace):
    """Not only a MaintenanceError: any error of a table (here its orphan listing fails, as on an S3
    AccessDenied) is reported by its first meaningful line and counted; the next table is still maintained."""
    from pathlib import Path
    from urllib.parse import urlsplit

    for name in ("bad", "good"):
        spark.sql(f"CREATE TABLE lake.{namespace}.{name} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
        spark.sql(f"INSERT INTO lake.{namespace}.{name} VALUES ('e0', TIMESTAMP '2026-01-01 05:00:00')")
    spark.sql(f"INSERT OVERWRITE lake.{namespace}.bad VALUES ('e1', TIMESTAMP '2026-01-01 05:00:00')")
    lost = spark.sql(f"SELECT manifest_list FROM lake.{namespace}.bad.snapshots ORDER BY committed_at").first()[0]
    aside = Path(urlsplit(lost).path).rename(Path(urlsplit(lost).path + ".aside"))  # the probe reads the current one only

    try:
        result = CliRunner().invoke(cli, ["maintain", "--table", f"{namespace}.bad", "--table", f"{namespace}.good",
                                          "--step", "rewrite_data_files", "--step", "remove_orphan_files", "--json"])
    finally:
        aside.rename(urlsplit(lost).path)  # the namespace's teardown purges the table, reading every snapshot

    assert isinstance(result.exception, SystemExit), result.exception  # reported, no traceback
    assert result.exit_code == 1
    lines = result.output.splitlines()
    steps = [(s["table"], s["step"], s["status"]) for s in map(json.loads, (lines[0], *lines[2:4]))]
    assert steps == [(f"lake.{namespace}.bad", "rewrite_data_files", "skipped"),  # reported before the error
                     (f"lake.{namespace}.good", "rewrite_data_files", "skipped"),
                     (f"lake.{namespace}.good", "remove_orphan_files", "done")]
    assert lines[1] == f"Error: lake.{namespace}.bad: org.apache.iceberg.exceptions.NotFoundException: File does not exist: {lost}"
    assert lines[4:] == ["Error: maintenance failed on 1 table(s): see the errors above"]
