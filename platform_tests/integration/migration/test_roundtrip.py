"""Migrate, verify, rollback, migrate again, on the real Hive metastore and the real `lake` catalog."""

from __future__ import annotations

import json

import pytest

from cs_platform.lakehouse.migration import MigrationError, VerificationFailed

from .conftest import HISTORY_PARTITIONS, HISTORY_ROWS, ROSTER_ROWS


def hive_tables(spark, database: str) -> list[str]:
    return sorted(r["tableName"] for r in spark.sql(f"SHOW TABLES IN spark_catalog.{database}").collect())


def test_migrate_verify_rollback_and_migrate_again(spark, settings, legacy_db, history_migration):
    m = history_migration
    plan = m.plan()
    assert (plan["strategy"], [s["status"] for s in plan["steps"]]) == ("add_files", ["pending"] * 4)
    assert plan["steps"][1]["actions"][1] == (
        f"CALL `lake`.system.add_files(table => '{m.names.target_namespace}.ticket_history', "
        f"source_table => 'spark_catalog.{legacy_db}.cs_ticket_history')")
    assert not m.target_exists(), "plan must change nothing"

    result = m.run()
    assert result.executed == ["preflight", "copy", "verify", "cutover"]
    facts = result.metadata["preflight"]["facts"]
    assert (facts["format"], facts["table_type"], facts["partition_columns"], facts["partition_count"]) == (
        "parquet", "EXTERNAL", ["dt"], 5)
    verify = result.metadata["verify"]
    assert (verify["ok"], verify["partitions"], verify["source_rows"], verify["target_rows"],
            verify["columns_checked"], verify["mismatches"]) == (True, 5, HISTORY_ROWS, HISTORY_ROWS, 11, [])
    assert {m_["status"] for m_ in verify["schema"]} == {"same"}

    # add_files adopted the Hive files in place: no copy, every data file is under the Hive location.
    assert result.metadata["copy"]["bytes_copied"] == 0
    files = [r["file_path"] for r in spark.sql(f"SELECT file_path FROM {m.names.target}.files").collect()]
    assert len(files) == result.metadata["copy"]["files_adopted"] > 0
    assert all(f"/legacy/{legacy_db}/cs_ticket_history/dt=" in f for f in files)
    counts = {r["dt"]: r["n"] for r in spark.sql(f"SELECT dt, count(*) AS n FROM {m.names.target} GROUP BY dt").collect()}
    assert counts == HISTORY_PARTITIONS

    # Cutover: the Hive table is kept under a backup name that says where it went.
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history__hive_backup"]
    props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {m.names.backup}").collect()}
    assert props["csp.migrated_to"] == m.names.target_name
    assert spark.table(m.names.backup).count() == HISTORY_ROWS

    # Idempotent: a rerun changes nothing, not even the snapshot.
    snapshot = m.target_snapshot_id()
    state_before = m.store.read(m.names.source_name)
    assert m.store.uri(m.names.source_name) == f"{settings.warehouse}/_migrations/{m.names.source_name}.json"
    assert m.run().executed == []
    assert m.target_snapshot_id() == snapshot
    assert m.store.read(m.names.source_name) == state_before
    assert m.verification_report().ok

    assert m.rollback() == [
        f"restored Hive table {legacy_db}.cs_ticket_history from {legacy_db}.cs_ticket_history__hive_backup",
        f"dropped Iceberg table {m.names.target_name}",
    ]
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history"]
    assert not m.target_exists()
    assert m.store.read(m.names.source_name) is None
    # Dropping the adopted table must not have deleted the Hive files.
    assert spark.table(m.names.source).count() == HISTORY_ROWS
    props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {m.names.source}").collect()}
    assert "csp.migrated_to" not in props

    again = m.run()
    assert again.executed == ["preflight", "copy", "verify", "cutover"]
    assert again.metadata["verify"]["target_rows"] == HISTORY_ROWS


def test_text_table_takes_the_rewrite_path(spark, legacy_db, roster_migration):
    m = roster_migration
    result = m.run()
    assert (result.metadata["preflight"]["strategy"], result.metadata["preflight"]["reason"]) == (
        "ctas_rewrite", "text files cannot be read by Iceberg: rows are rewritten as Parquet")
    assert result.metadata["preflight"]["facts"]["format"] == "text"
    verify = result.metadata["verify"]
    assert (verify["ok"], verify["partitions"], verify["source_rows"], verify["columns_checked"]) == (
        True, 1, ROSTER_ROWS, 6)
    files = [r["file_path"] for r in spark.sql(f"SELECT file_path, file_format FROM {m.names.target}.files").collect()]
    assert files and all("/warehouse/" in f and f.endswith(".parquet") for f in files)
    rows = spark.sql(f"SELECT agent_id, weekly_hours FROM {m.names.target} WHERE agent_id = 'agent-008'").collect()
    assert [tuple(r) for r in rows] == [("agent-008", None)]  # the Hive \\N survived as NULL
    assert m.rollback()[1] == f"dropped Iceberg table {m.names.target_name}"
    assert spark.table(m.names.source).count() == ROSTER_ROWS


def test_one_altered_row_is_caught_and_blocks_cutover(spark, legacy_db, history_migration):
    m = history_migration
    m.run_step("preflight")
    m.run_step("copy")
    spark.sql(f"UPDATE {m.names.target} SET status = 'closed' WHERE history_id = 'T-20240301-000001#5'")

    with pytest.raises(VerificationFailed) as failed:
        m.run_step("verify")
    assert str(failed.value) == (
        f"verification of {m.names.target_name} against {legacy_db}.cs_ticket_history failed: "
        "dt=2024-03-02: column status checksum differs")
    assert failed.value.report.source_rows == failed.value.report.target_rows == HISTORY_ROWS
    assert m.state().next_step() == "verify"
    with pytest.raises(MigrationError) as refused:
        m.run_step("cutover")
    assert str(refused.value) == f"step cutover of {m.names.source_name} needs verify first"
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history"]

    # two rows swap a value: every column's sum stays equal, the rows' sum does not
    first, second = spark.sql(f"SELECT history_id, status FROM {m.names.target} WHERE dt = '2024-03-01' "
                              f"AND status <> (SELECT status FROM {m.names.target} WHERE dt = '2024-03-01' "
                              f"ORDER BY history_id LIMIT 1) ORDER BY history_id LIMIT 1").collect() + \
        spark.sql(f"SELECT history_id, status FROM {m.names.target} WHERE dt = '2024-03-01' "
                  f"ORDER BY history_id LIMIT 1").collect()
    for row, other in ((first, second), (second, first)):
        spark.sql(f"UPDATE {m.names.target} SET status = '{other.status}' WHERE history_id = '{row.history_id}'")
    assert m.verification_report().mismatches == [
        "dt=2024-03-01: values moved between rows (each column's checksum is equal, the rows' differs)",
        "dt=2024-03-02: column status checksum differs"]

    spark.sql(f"DELETE FROM {m.names.target} WHERE history_id = 'T-20240301-000002#1'")
    columns = ("history_id", "ticket_id", "seq", "event_type", "status", "priority", "agent_id", "channel",
               "csat_score", "changed_at", "dt")  # a missing row changes every column's checksum
    assert m.verification_report().mismatches == [
        "dt=2024-03-01: 32 rows in source, 31 in target",
        *(f"dt=2024-03-01: column {c} checksum differs" for c in columns),
        "dt=2024-03-02: column status checksum differs"]

    assert m.rollback() == [f"dropped Iceberg table {m.names.target_name}"]
    assert spark.table(m.names.source).count() == HISTORY_ROWS


def test_target_not_created_by_the_migration_is_never_touched(spark, history_migration):
    m = history_migration
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{m.names.target_namespace}")
    spark.sql(f"CREATE TABLE {m.names.target} (x int) USING iceberg")
    m.run_step("preflight")
    with pytest.raises(MigrationError) as refused:
        m.run_step("copy")
    assert str(refused.value) == (
        f"{m.names.target_name} already exists and was not created by the migration of {m.names.source_name}: "
        "choose another --target or drop it")
    assert m.rollback() == [f"left {m.names.target_name}: it was not created by this migration"]
    assert m.target_exists()


def test_cli_plan_run_verify_rollback(spark, legacy_db, lake_ns):
    from click.testing import CliRunner

    from cs_platform.cli import cli

    runner = CliRunner()
    args = [f"{legacy_db}.cs_agent_roster", "--target", f"{lake_ns}.agent_roster"]
    planned = runner.invoke(cli, ["migrate-hive", "plan", *args])
    assert planned.exit_code == 0, planned.output
    assert planned.output.splitlines()[:3] == [
        f"plan {legacy_db}.cs_agent_roster -> lake.{lake_ns}.agent_roster",
        "strategy: ctas_rewrite (text files cannot be read by Iceberg: rows are rewritten as Parquet)",
        "[pending] preflight",
    ]
    ran = runner.invoke(cli, ["migrate-hive", "run", *args])
    assert ran.exit_code == 0, ran.output
    assert ran.output.splitlines() == [
        f"migrated {legacy_db}.cs_agent_roster -> lake.{lake_ns}.agent_roster: ran preflight, copy, verify, cutover",
        "strategy: ctas_rewrite",
        f"verified: 1 partitions, {ROSTER_ROWS} rows, 6 column checksums equal",
    ]
    again = runner.invoke(cli, ["migrate-hive", "run", *args])
    assert again.output.strip() == (
        f"{legacy_db}.cs_agent_roster is already migrated to lake.{lake_ns}.agent_roster: nothing to do")
    verified = runner.invoke(cli, ["migrate-hive", "verify", *args, "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["target_rows"] == ROSTER_ROWS

    spark.sql(f"UPDATE lake.{lake_ns}.agent_roster SET team = 'billing2' WHERE agent_id = 'agent-003'")
    failed = runner.invoke(cli, ["migrate-hive", "verify", *args])
    assert failed.exit_code == 1
    assert "MISMATCH (whole table): column team checksum differs" in failed.output.splitlines()

    rolled = runner.invoke(cli, ["migrate-hive", "rollback", *args, "--force"])  # drops the UPDATE's commit
    assert rolled.exit_code == 0, rolled.output
    assert rolled.output.splitlines() == [
        f"restored Hive table {legacy_db}.cs_agent_roster from {legacy_db}.cs_agent_roster__hive_backup",
        f"dropped Iceberg table lake.{lake_ns}.agent_roster",
    ]


def test_cli_legacy_seed_is_idempotent(spark, unique_name):
    from click.testing import CliRunner

    from cs_platform.cli import cli

    database = unique_name("legacy")
    runner = CliRunner()
    first = runner.invoke(cli, ["legacy", "seed", "--database", database, "--days", "1", "--tickets-per-day", "3"])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [f"{database}.cs_ticket_history: created with 14 rows",
                                         f"{database}.cs_agent_roster: created with {ROSTER_ROWS} rows"]
    again = runner.invoke(cli, ["legacy", "seed", "--database", database, "--days", "1", "--tickets-per-day", "3"])
    assert again.output.splitlines() == [f"{database}.cs_ticket_history: exists, left alone",
                                         f"{database}.cs_agent_roster: exists, left alone"]
    assert spark.table(f"spark_catalog.{database}.cs_ticket_history").count() == 14
