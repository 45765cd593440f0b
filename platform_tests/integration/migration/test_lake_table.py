"""The migrated table is a normal lake table: schema evolution, time travel and the maintenance policy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cs_platform.lakehouse import table_ops
from cs_platform.lakehouse.maintenance import Maintainer
from cs_platform.lakehouse.migration import MigrationError
from cs_platform.lakehouse.policy import HISTORY, policy_for

from .conftest import HISTORY_ROWS


def test_schema_evolution_and_time_travel_on_the_migrated_table(spark, iceberg_catalog, history_migration):
    m = history_migration
    migrated_snapshot = m.run().metadata["cutover"]["snapshot_id"]
    ref = table_ops.TableRef.parse(m.names.target_name)

    table_ops.add_column(iceberg_catalog, ref, "resolution_code", "string")
    table_ops.rename_column(iceberg_catalog, ref, "priority", "ticket_priority")
    table_ops.refresh(spark, ref)
    spark.sql(f"INSERT INTO {ref.sql} (history_id, ticket_id, seq, event_type, status, ticket_priority, agent_id, "
              "channel, csat_score, changed_at, dt, resolution_code) VALUES ('T-NEW#1', 'T-NEW', 1, 'ticket_created', "
              "'open', 'low', NULL, 'email', NULL, TIMESTAMP '2024-03-06 09:00:00', '2024-03-06', 'R1')")

    now = table_ops.read(spark, ref)
    assert now.count() == HISTORY_ROWS + 1
    assert now.where("history_id = 'T-NEW#1'").select("ticket_priority", "resolution_code").first() == ("low", "R1")
    # Old files have no resolution_code: read as NULL; the renamed column keeps its data (Iceberg field ids).
    old_row = now.where("history_id = 'T-20240301-000001#5'").select("ticket_priority", "resolution_code").first()
    assert tuple(old_row) == ("urgent", None)

    then = table_ops.read(spark, ref, at_snapshot=migrated_snapshot)
    assert then.count() == HISTORY_ROWS
    assert then.where("history_id = 'T-NEW#1'").count() == 0
    # The Hive backup is untouched by writes to the Iceberg table.
    assert spark.table(m.names.backup).count() == HISTORY_ROWS


def test_maintenance_policy_applies_after_finalize(spark, iceberg_catalog, history_migration):
    m = history_migration
    m.run()
    ref = table_ops.TableRef.parse(m.names.target_name)
    policy = policy_for(str(ref))
    assert policy == HISTORY and policy.time_column == "changed_at"

    props = m.target_properties()
    assert (props["gc.enabled"], props["csp.migration.hive_backup"]) == ("false", m.names.backup_name)
    # Compaction is safe while the backup shares the files: it only adds files, GC is off.
    before_files = spark.sql(f"SELECT count(*) FROM {ref.sql}.files").first()[0]
    compacted = Maintainer(spark, iceberg_catalog, ref, policy).rewrite_data_files()
    assert compacted.status == "done"
    assert spark.sql(f"SELECT count(*) FROM {ref.sql}.files").first()[0] < before_files
    assert spark.table(m.names.backup).count() == HISTORY_ROWS
    # Expiry and orphan removal would delete files the Hive backup still owns: skipped until finalize.
    expiry = Maintainer(spark, iceberg_catalog, ref, policy).expire_snapshots()
    assert (expiry.status, expiry.reason) == (
        "skipped", "gc.enabled=false: the table does not own all its files (finalize its migration first)")

    assert m.finalize() == [
        f"dropped Hive backup {m.names.backup_name} (its files now belong to {m.names.target_name})",
        f"enabled garbage collection on {m.names.target_name}",
    ]
    assert m.finalize() == []
    assert m.target_properties()["gc.enabled"] == "true"
    assert not m.backup_exists()

    # GC is on: a run past the snapshots' maximum age expires them (the table owns every file now)
    later = datetime.now(timezone.utc) + timedelta(hours=policy.snapshot_max_age_hours + 1)
    results = Maintainer(spark, iceberg_catalog, ref, policy, now=later).run()
    assert [(r.step, r.status, r.reason) for r in results] == [
        ("rewrite_data_files", "skipped", "probe: no partition has enough small files older than the current hour"),
        ("rewrite_position_delete_files", "skipped", "probe: no delete files"), ("expire_snapshots", "done", ""),
        ("rewrite_manifests", "skipped", "probe: fewer than 20 manifests"), ("remove_orphan_files", "done", "")]
    assert table_ops.read(spark, ref).count() == HISTORY_ROWS

    with pytest.raises(MigrationError) as refused:
        m.rollback()
    assert str(refused.value) == (f"{m.names.source_name} was finalized (its Hive backup dropped): "
                                  f"{m.names.target_name} is the only copy, there is nothing to roll back to")
