"""Compaction while a real Structured Streaming query MERGEs micro-batches into the same table:
no row lost or duplicated, both finish, conflicts are retried and counted.

One compaction is made certain to commit: the stream waits inside micro-batch GATE_BATCH (the query is
active, its MERGE not yet run) while the table is compacted; every other compaction races the MERGEs
freely, so whether those commit or conflict depends on timing and is only counted."""

from __future__ import annotations

import json
import threading
import time

import pytest
from pyspark.sql import functions as F

from cs_platform.lakehouse.maintenance import Maintainer
from cs_platform.lakehouse.policy import policy_for
from cs_platform.adapters.commit_retry import retry_on_conflict
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import table_rows

FILES = 16
ROWS_PER_FILE = 15
KEYS = 40
OLD_HOUR = "2026-01-01 05:00:00"
GATE_BATCH = 5


def _write_inputs(directory) -> dict[str, tuple]:
    """JSON files of upserts; returns the reference: the highest version per key."""
    reference: dict[str, tuple] = {}
    for i in range(FILES):
        lines = []
        for j in range(ROWS_PER_FILE):
            key = f"k{(i * 7 + j * 3) % KEYS:02d}"
            version = i * 100 + j
            lines.append(json.dumps({"k": key, "v": version * 10, "version": version, "landing_hour": OLD_HOUR}))
            if key not in reference or reference[key][2] < version:
                reference[key] = (key, version * 10, version)
        (directory / f"part-{i:03d}.json").write_text("\n".join(lines) + "\n")
    return reference


@pytest.mark.parametrize("merge_mode", ["copy-on-write", "merge-on-read"])
def test_compaction_during_streaming_merges_loses_and_duplicates_nothing(spark, iceberg_catalog, namespace, tmp_path,
                                                                          merge_mode):
    ref = TableRef.parse(f"{namespace}.kv")
    spark.sql(f"CREATE TABLE {ref.sql} (k STRING, v BIGINT, version INT, landing_hour TIMESTAMP) USING iceberg "
              f"TBLPROPERTIES ('format-version'='2', 'write.merge.mode'='{merge_mode}')")
    policy = policy_for(str(ref), {"time_column": "landing_hour"})
    maintainer = Maintainer(spark, iceberg_catalog, ref, policy)
    maintainer.apply_table_properties()
    inputs = tmp_path / "in"
    inputs.mkdir()
    reference = _write_inputs(inputs)
    merge_conflicts: list[str] = []
    batches: list[int] = []
    at_gate, gate_open = threading.Event(), threading.Event()

    def upsert(batch_df, batch_id: int) -> None:
        if batch_id == GATE_BATCH:
            at_gate.set()
            if not gate_open.wait(300):
                raise TimeoutError("the compaction at the gate never finished")
        view = f"upserts_{namespace}"
        latest = (batch_df.groupBy("k").agg(F.expr("max_by(struct(v, version, landing_hour), version) AS r"))
                  .select("k", "r.*"))
        latest.createOrReplaceTempView(view)
        merge = (f"MERGE INTO {ref.sql} t USING {view} s ON t.k = s.k "
                 "WHEN MATCHED AND s.version > t.version THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
        retry_on_conflict(lambda: batch_df.sparkSession.sql(merge).collect(), attempts=12,
                          on_conflict=lambda attempt, exc: merge_conflicts.append(str(exc)[:200]))
        batches.append(batch_id)

    query = (spark.readStream.schema("k STRING, v BIGINT, version INT, landing_hour TIMESTAMP")
             .option("maxFilesPerTrigger", 1).json(str(inputs))
             .writeStream.foreachBatch(upsert).option("checkpointLocation", str(tmp_path / "ckpt"))
             .trigger(availableNow=True).start())
    while query.isActive and not at_gate.wait(0.5):
        pass
    gated = maintainer.rewrite_data_files()  # the stream waits mid-batch: the small files of 5 MERGEs
    gate_open.set()
    compactions = [gated]
    while query.isActive:
        time.sleep(1.0)  # far more often than the daily schedule, yet leaves the MERGEs room to commit
        compactions.append(maintainer.rewrite_data_files())
    query.awaitTermination()

    assert query.exception() is None
    assert len(batches) == FILES
    assert table_rows(spark, ref, "k, v, version") == sorted(reference.values())
    assert gated.status == "done"
    assert int(gated.outcome["rewritten_data_files_count"]) >= 2
    assert {c.status for c in compactions} <= {"done", "skipped", "conflict"}
    rewritten = sum(int(c.outcome.get("rewritten_data_files_count", 0)) for c in compactions)
    conflicts_seen = len(merge_conflicts) + sum(c.conflicts_retried for c in compactions)
    print(f"{merge_mode}: compactions={len(compactions)} rewritten={rewritten} conflicts_retried={conflicts_seen}")
    final = maintainer.rewrite_data_files()  # after the stream: the table compacts to one file
    assert final.status in {"done", "skipped"}
    assert final.after["data_files"] == 1
    assert table_rows(spark, ref, "k, v, version") == sorted(reference.values())
