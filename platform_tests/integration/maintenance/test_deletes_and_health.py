"""A MERGE-heavy (merge-on-read) table: the sorted compaction applies its delete files and the
delete-file rewrite drops the dangling ones; the health probe reports it as an observation."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from cs_platform.defs.maintenance.observations import health_observations
from cs_platform.lakehouse.maintenance import Maintainer
from cs_platform.lakehouse.policy import policy_for
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import table_rows


def test_sorted_compaction_and_delete_file_rewrite_on_merge_on_read_table(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.tickets")
    spark.sql(f"CREATE TABLE {ref.sql} (ticket_id STRING, status STRING, updated_at TIMESTAMP) USING iceberg "
              "TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read', "
              "'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read')")
    for batch in (["t3", "t1"], ["t2", "t5"], ["t4", "t6"]):
        values = ", ".join(f"('{t}', 'open', TIMESTAMP '2026-01-01 05:00:00')" for t in batch)
        spark.sql(f"INSERT INTO {ref.sql} VALUES {values}")
    spark.sql(f"DELETE FROM {ref.sql} WHERE ticket_id IN ('t1', 't4')")
    spark.sql(f"UPDATE {ref.sql} SET status = 'solved' WHERE ticket_id = 't2'")
    policy = policy_for(str(ref))
    assert (policy.strategy, policy.sort_order, policy.time_column) == ("sort", ("ticket_id",), "updated_at")
    maintainer = Maintainer(spark, iceberg_catalog, ref, policy, now=datetime.now(timezone.utc))

    compaction, deletes = maintainer.run(("rewrite_data_files", "rewrite_position_delete_files"))

    assert compaction.status == "done"
    assert compaction.before["delete_files"] >= 1
    assert compaction.after["data_files"] == 1
    assert deletes.status == "done"
    assert (deletes.before["delete_files"], deletes.after["delete_files"]) == (compaction.after["delete_files"], 0)
    assert table_rows(spark, ref, "ticket_id, status") == [("t2", "solved"), ("t3", "open"), ("t5", "open"), ("t6", "open")]
    spark.sql(f"REFRESH TABLE {ref.sql}")
    in_file_order = [r.ticket_id for r in spark.sql(f"SELECT ticket_id FROM {ref.sql}").collect()]
    assert in_file_order == ["t2", "t3", "t5", "t6"]  # one file, sorted by ticket_id


def test_health_observation_of_a_lake_table(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.events")
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for i in range(3):
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('e{i}', TIMESTAMP '2026-01-01 05:00:00')")

    (observation,) = health_observations(iceberg_catalog, [f"{namespace}.events", f"{namespace}.absent"])

    assert observation.asset_key == dg.AssetKey(["lake", namespace, "events"])
    values = {k: v.value for k, v in observation.metadata.items()}
    assert {k: values[k] for k in ("data_files", "small_files", "compactable_small_files", "compactable_partitions",
                                   "delete_files", "records", "snapshots", "manifests", "max_files_per_partition",
                                   "pays_rewrite_data_files", "pays_expire_snapshots")} == {
        "data_files": 3, "small_files": 3, "compactable_small_files": 3, "compactable_partitions": 1,
        "delete_files": 0, "records": 3, "snapshots": 3, "manifests": 3, "max_files_per_partition": 3,
        "pays_rewrite_data_files": True, "pays_expire_snapshots": False}
    assert values["data_bytes"] > 0
    assert 0 <= values["oldest_snapshot_age_hours"] < 1
