"""What the migration refuses to do because it would lose data: cut over a Hive table written
since its verification, roll back an Iceberg table written since its cutover, let the drop of the
Hive backup at finalize delete the files the Iceberg table reads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cs_platform.lakehouse.migration import HiveMigration, MigrationError, VerificationFailed

from .conftest import HISTORY_PARTITIONS, HISTORY_ROWS
from .test_roundtrip import hive_tables

# the Hive table's columns after history_id, partition column excluded
OTHER_COLUMNS = "ticket_id, seq, event_type, status, priority, agent_id, channel, csat_score, changed_at"


def partition_files(settings, database: str, partition: str) -> tuple[int, int]:
    """(files, bytes) of a Hive partition directory, as the file system has them (no checksum files)."""
    directory = settings.home_dir / "legacy" / database / "cs_ticket_history" / partition
    files = [f for f in directory.iterdir() if f.is_file() and not f.name.endswith(".crc")]
    return len(files), sum(f.stat().st_size for f in files)


def test_cutover_refuses_a_hive_table_written_since_its_verification(spark, settings, legacy_db, history_migration):
    m = history_migration
    for step in ("preflight", "copy", "verify"):
        m.run_step(step)
    files_before, bytes_before = partition_files(settings, legacy_db, "dt=2024-03-03")
    # A Hive job writes one more file into dt=2024-03-03 after the verification.
    spark.sql(f"INSERT INTO {m.names.source} PARTITION (dt='2024-03-03') "
              f"SELECT concat(history_id, '-late'), {OTHER_COLUMNS} FROM {m.names.source} "
              f"WHERE dt = '2024-03-03' ORDER BY history_id LIMIT 1")
    files_after, bytes_after = partition_files(settings, legacy_db, "dt=2024-03-03")
    assert files_after == files_before + 1

    with pytest.raises(MigrationError) as refused:
        m.run_step("cutover")
    assert str(refused.value) == (
        f"Hive table {legacy_db}.cs_ticket_history changed since it was verified (dt=2024-03-03 has "
        f"{files_after} files, {bytes_after} bytes (verified: {files_before} files, {bytes_before} bytes)): "
        f"{m.names.target_name} may not hold these changes. Run `csp migrate-hive run {legacy_db}.cs_ticket_history` "
        "again to verify anew (if verification fails, roll back and migrate again)")
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history"]
    assert m.state().next_step() == "verify"

    # Verifying anew finds the row the adopted files lack; a new migration takes it along.
    with pytest.raises(VerificationFailed) as failed:
        m.run_step("verify")
    assert failed.value.report.mismatches[0] == "dt=2024-03-03: 42 rows in source, 41 in target"
    assert m.rollback() == [f"dropped Iceberg table {m.names.target_name}"]
    again = m.run()
    assert again.executed == ["preflight", "copy", "verify", "cutover"]
    assert spark.table(m.names.target).count() == HISTORY_ROWS + 1
    assert spark.table(m.names.target).where("history_id LIKE '%-late'").count() == 1


def test_rollback_refuses_to_drop_writes_made_after_cutover(spark, legacy_db, lake_ns, history_migration):
    from click.testing import CliRunner

    from cs_platform.cli import cli

    m = history_migration
    cutover_snapshot = m.run().metadata["cutover"]["snapshot_id"]
    # A compaction after cutover changes no row: alone, it does not stop a rollback.
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{lake_ns}.ticket_history', "
              "options => map('rewrite-all', 'true'))")
    assert spark.sql(f"SELECT operation FROM {m.names.target}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0] \
        == "replace"
    assert m.commits_since_cutover(m.state()) == 0
    spark.sql(f"INSERT INTO {m.names.target} SELECT concat(history_id, '-new'), ticket_id, seq, event_type, status, "
              f"priority, agent_id, channel, csat_score, changed_at, dt FROM {m.names.target} "
              "WHERE history_id = 'T-20240301-000001#5'")
    spark.sql(f"DELETE FROM {m.names.target} WHERE history_id = 'T-20240301-000001#1'")

    message = (f"{m.names.target_name} has 2 commits after the cutover of {legacy_db}.cs_ticket_history "
               f"(snapshot {cutover_snapshot}): a rollback would drop them with the table. Keep what you need, "
               f"then run `csp migrate-hive rollback {legacy_db}.cs_ticket_history --force` (in Dagster: the "
               "rollback job with config force: true)")
    with pytest.raises(MigrationError) as refused:
        m.rollback()
    assert str(refused.value) == message
    runner = CliRunner()
    args = ["migrate-hive", "rollback", f"{legacy_db}.cs_ticket_history", "--target", f"{lake_ns}.ticket_history"]
    cli_refused = runner.invoke(cli, args)
    assert (cli_refused.exit_code, cli_refused.output) == (1, f"Error: {message}\n")
    # Nothing was touched: Hive is still cut over, the Iceberg table keeps its writes.
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history__hive_backup"]
    assert spark.table(m.names.target).count() == HISTORY_ROWS
    assert m.state().complete

    forced = runner.invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert forced.output.splitlines() == [
        f"restored Hive table {legacy_db}.cs_ticket_history from {legacy_db}.cs_ticket_history__hive_backup",
        f"dropped Iceberg table {m.names.target_name}"]
    assert hive_tables(spark, legacy_db) == ["cs_agent_roster", "cs_ticket_history"]
    assert not m.target_exists()
    assert spark.table(m.names.source).count() == HISTORY_ROWS


class RecordingSpark:
    """The Spark session, recording each SQL statement run through it."""

    def __init__(self, spark):
        self._spark, self.statements = spark, []

    def sql(self, statement, *args, **kwargs):
        self.statements.append(statement)
        return self._spark.sql(statement, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._spark, name)


def test_finalize_never_purges_the_files_the_iceberg_table_reads(spark, settings, history_migration):
    m = history_migration
    # With a Hive 3+ metastore, dropping this EXTERNAL table would delete its files.
    spark.sql(f"ALTER TABLE {m.names.source} SET TBLPROPERTIES ('external.table.purge'='true')")
    result = m.run()
    assert result.metadata["preflight"]["strategy"] == "add_files"

    recording = RecordingSpark(spark)
    assert HiveMigration(recording, settings, m.names).finalize() == [
        f"set external.table.purge=false on {m.names.backup_name}: dropping it must not delete the files of "
        f"{m.names.target_name}",
        f"dropped Hive backup {m.names.backup_name} (its files now belong to {m.names.target_name})",
        f"enabled garbage collection on {m.names.target_name}",
    ]
    assert [s for s in recording.statements if m.names.backup in s] == [
        f"SHOW TBLPROPERTIES {m.names.backup}",
        f"ALTER TABLE {m.names.backup} SET TBLPROPERTIES ('external.table.purge'='false')",
        f"DROP TABLE IF EXISTS {m.names.backup}",
    ]
    assert not m.backup_exists()
    # The adopted Hive files are all still there and the Iceberg table reads every row from them.
    files = [r["file_path"] for r in spark.sql(f"SELECT file_path FROM {m.names.target}.files").collect()]
    assert len(files) == result.metadata["copy"]["files_adopted"]
    assert [f for f in files if not Path(urlsplit(f).path).exists()] == []
    counts = {r["dt"]: r["n"] for r in spark.sql(f"SELECT dt, count(*) AS n FROM {m.names.target} GROUP BY dt").collect()}
    assert counts == HISTORY_PARTITIONS


def test_finalize_of_a_rewrite_drops_the_hive_backup_as_it_is(spark, settings, roster_migration):
    """A rewritten table holds its own copy: the backup keeps its own purge setting."""
    m = roster_migration
    assert m.run().metadata["preflight"]["strategy"] == "ctas_rewrite"
    recording = RecordingSpark(spark)
    assert HiveMigration(recording, settings, m.names).finalize() == [
        f"dropped Hive backup {m.names.backup_name} ({m.names.target_name} holds its own copy of the rows)",
        f"enabled garbage collection on {m.names.target_name}",
    ]
    assert [s for s in recording.statements if m.names.backup in s] == [f"DROP TABLE IF EXISTS {m.names.backup}"]
    assert not m.backup_exists()


def test_a_glue_metastore_is_refused_before_any_copy(spark, settings, legacy_db, lake_ns):
    """The cutover renames the Hive table, which the AWS Glue Data Catalog cannot do: refuse at
    preflight instead of failing after the copy and verification. (No Glue here: the check needs none.)"""
    from cs_platform.lakehouse.migration import MigrationNames

    names = MigrationNames.parse(f"{legacy_db}.cs_ticket_history", f"{lake_ns}.ticket_history")
    m = HiveMigration(spark, settings.model_copy(update={"hive_metastore_uri": "glue"}), names)
    with pytest.raises(MigrationError) as refused:
        m.run_step("preflight")
    assert str(refused.value) == (
        f"cannot migrate {legacy_db}.cs_ticket_history with CSP_HIVE_METASTORE_URI=glue: the cutover renames the "
        f"Hive table to {names.backup_name}, and the AWS Glue Data Catalog cannot rename tables. Point "
        "CSP_HIVE_METASTORE_URI at a Hive metastore (thrift://host:9083) that holds the table")
    assert m.state().next_step() == "preflight"
    assert not m.target_exists()
