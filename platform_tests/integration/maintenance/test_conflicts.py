"""Commit races made certain, and how they are reported: every Spark task slot is held while a
write (a compaction, a MERGE) plans and queues its job; another writer (PyIceberg: no Spark slot
needed) commits meanwhile; then the slots are released and the write commits against a table that
moved. Iceberg's own exceptions reach Python as py4j errors: their reasons must name Iceberg's message.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo

from cs_platform.adapters.commit_retry import ConflictRetriesExhausted, first_line, is_commit_conflict, retry_on_conflict
from cs_platform.adapters.lake_tables import LakeTables
from cs_platform.lakehouse.maintenance import Maintainer
from cs_platform.lakehouse.policy import policy_for
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import table_rows

OLD_HOUR = "2026-01-01 05:00:00"


class HeldSlots:
    """Holds every task slot of the local Spark with a job that waits for a file; a job another
    thread submits meanwhile is queued behind it (FIFO scheduling) after its driver-side planning."""

    def __init__(self, spark, directory, timeout_s: float = 300):
        self.sc = spark.sparkContext
        self.release_file, self.started = str(directory / "release"), directory / "started"
        self.started.mkdir()
        self.timeout_s = timeout_s
        self.group = f"hold-{directory.name}"
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        release, started, timeout_s = self.release_file, str(self.started), self.timeout_s

        def wait(index: int) -> None:
            import os
            import time

            open(os.path.join(started, str(index)), "w").close()
            deadline = time.monotonic() + timeout_s
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.05)

        self.sc.setJobGroup(self.group, "holding every task slot")
        slots = self.sc.defaultParallelism
        self.sc.parallelize(range(slots), slots).foreach(wait)

    def __enter__(self) -> "HeldSlots":
        self.thread.start()
        self._until(lambda: len(os.listdir(self.started)) == self.sc.defaultParallelism, "every slot held")
        return self

    def wait_for_queued_job(self, writer: threading.Thread) -> None:
        """Until a job other than the holder's is queued (the writer has planned), or the writer ended."""
        held = set(self.sc.statusTracker().getJobIdsForGroup(self.group))
        self._until(lambda: not writer.is_alive() or set(self.sc.statusTracker().getActiveJobsIds()) - held,
                    "the writer's job to be queued")
        assert writer.is_alive(), "the writer ended before submitting a Spark job"

    def __exit__(self, *exc) -> None:
        open(self.release_file, "w").close()
        self.thread.join(self.timeout_s)

    def _until(self, condition, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {self.timeout_s}s for {what}")
            time.sleep(0.05)


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    return threading.Thread(target=run, daemon=True), outcome


def _one_row_inserts(spark, ref, keys) -> None:
    spark.sql(f"CREATE TABLE {ref.sql} (event_id STRING, landing_hour TIMESTAMP) USING iceberg")
    for key in keys:
        spark.sql(f"INSERT INTO {ref.sql} VALUES ('{key}', TIMESTAMP '{OLD_HOUR}')")


def test_a_compaction_whose_group_commits_all_lose_to_a_concurrent_write_is_a_conflict(
        spark, iceberg_catalog, namespace, tmp_path):
    """Iceberg (partial progress) drops the group's rejected commit, logs it and returns zero counts
    without raising: the step reports a conflict, not `done`, and the table keeps its small files."""
    ref = TableRef.parse(f"{namespace}.events")
    _one_row_inserts(spark, ref, ["e0", "e1", "e2"])
    maintainer = Maintainer(spark, iceberg_catalog, ref, policy_for(str(ref)))
    writer, outcome = _in_thread(maintainer.rewrite_data_files)

    with HeldSlots(spark, tmp_path) as slots:
        writer.start()
        slots.wait_for_queued_job(writer)  # planned on the 3 files: its rewrite job waits for a slot
        iceberg_catalog.load_table(ref.identifier).delete(EqualTo("event_id", "e0"))  # drops e0's file
    writer.join(300)

    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert (result.status, result.reason) == ("conflict", (
        "no file group was committed: every group lost its commit to concurrent writes (Iceberg logs each as "
        '"Failure during rewrite commit process, partial progress enabled. Ignoring"); its files stay as they '
        "are and the next run retries them"))
    assert {k: result.outcome[k] for k in ("rewritten_data_files_count", "added_data_files_count",
                                           "failed_data_files_count", "removed_delete_files_count")} == {
        "rewritten_data_files_count": 0, "added_data_files_count": 0, "failed_data_files_count": 0,
        "removed_delete_files_count": 0}
    assert result.conflicts_retried == 0  # nothing was raised to retry
    assert (result.before["data_files"], result.after["data_files"]) == (3, 2)
    assert result.metadata()["status"] == "conflict"
    assert table_rows(spark, ref, "event_id") == [("e1",), ("e2",)]

    again = maintainer.rewrite_data_files()  # the next run, undisturbed, compacts
    assert (again.status, again.reason, again.outcome["rewritten_data_files_count"]) == ("done", "", 2)
    assert again.after["data_files"] == 1


def test_a_merge_whose_input_was_replaced_meanwhile_is_retried_with_iceberg_s_message(
        spark, iceberg_catalog, namespace, tmp_path, caplog):
    """What the stream's `run_merge` relies on: a MERGE whose files another writer replaced (here
    PyIceberg overwriting the table's one file with the same rows) fails with Iceberg's
    ValidationException, is retried on the new snapshot and commits; the warning names Iceberg's message."""
    ref = TableRef.parse(f"{namespace}.kv")
    spark.sql(f"CREATE TABLE {ref.sql} (k STRING, v INT) USING iceberg")
    spark.sql(f"INSERT INTO {ref.sql} VALUES ('a', 1), ('b', 2)")
    spark.sql("SELECT 'b' AS k, 20 AS v UNION ALL SELECT 'c', 30").createOrReplaceTempView(f"upserts_{namespace}")
    merge = (f"MERGE INTO {ref.sql} t USING upserts_{namespace} s ON t.k = s.k "
             "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    writer, outcome = _in_thread(lambda: LakeTables(namespace).run_merge(spark, f"lake.{namespace}.kv", merge))

    try:
        with caplog.at_level(logging.WARNING, logger="cs_platform.adapters.commit_retry"):
            with HeldSlots(spark, tmp_path) as slots:
                writer.start()
                slots.wait_for_queued_job(writer)
                table = iceberg_catalog.load_table(ref.identifier)
                table.overwrite(pa.table({"k": ["a", "b"], "v": [1, 2]}, schema=table.schema().as_arrow()))
                [rewritten] = table.inspect.data_files()["file_path"].to_pylist()
            writer.join(300)
    finally:
        spark.catalog.dropTempView(f"upserts_{namespace}")

    assert "error" not in outcome, outcome
    assert outcome["result"].added_records > 0
    assert table_rows(spark, ref) == [("a", 1), ("b", 20), ("c", 30)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("commit conflict (attempt 1/5), retrying in ")
    assert warnings[0].endswith("s: org.apache.iceberg.exceptions.ValidationException: Found conflicting files that "
                                f"can contain records matching true: [{rewritten}]")


def test_a_permanent_validation_exception_is_raised_at_once_and_named(spark, namespace):
    """Iceberg throws ValidationException for errors no retry cures too: not a conflict, and its text
    (a real Py4JJavaError's, "An error occurred while calling o123.sql." first) names Iceberg's message."""
    ref = TableRef.parse(f"{namespace}.shared")
    spark.sql(f"CREATE TABLE {ref.sql} (id INT) USING iceberg TBLPROPERTIES ('gc.enabled'='false')")
    spark.sql(f"INSERT INTO {ref.sql} VALUES (1)")
    call = f"CALL {ref.procedure('expire_snapshots')}(table => {ref.procedure_arg}, retain_last => 1)"
    attempts = []

    try:
        with pytest.raises(Exception) as raised:
            retry_on_conflict(lambda: spark.sql(call), attempts=3, base_delay_s=0,
                              on_conflict=lambda attempt, exc: attempts.append(attempt))
    finally:  # the namespace's teardown purges its tables
        spark.sql(f"ALTER TABLE {ref.sql} SET TBLPROPERTIES ('gc.enabled'='true')")

    exc = raised.value
    assert type(exc).__name__ == "Py4JJavaError"
    assert str(exc).startswith("An error occurred while calling o")  # what the old reasons showed
    assert attempts == []
    assert not is_commit_conflict(exc)
    assert first_line(exc) == ("org.apache.iceberg.exceptions.ValidationException: Cannot expire snapshots: "
                               "GC is disabled (deleting files may corrupt other tables)")


def test_an_exhausted_conflict_names_iceberg_s_message(spark, iceberg_catalog, namespace, tmp_path):
    """The reason of a step whose conflict persisted (Dagster's warning, the CLI, EMR's result)."""
    ref = TableRef.parse(f"{namespace}.kv")
    spark.sql(f"CREATE TABLE {ref.sql} (k STRING, v INT) USING iceberg")
    spark.sql(f"INSERT INTO {ref.sql} VALUES ('a', 1)")
    replaced = spark.sql(f"SELECT file_path FROM {ref.sql}.files").first()[0]
    update = f"UPDATE {ref.sql} SET v = 2 WHERE k = 'a'"
    writer, outcome = _in_thread(lambda: retry_on_conflict(lambda: spark.sql(update), attempts=1))

    with HeldSlots(spark, tmp_path) as slots:
        writer.start()
        slots.wait_for_queued_job(writer)
        iceberg_catalog.load_table(ref.identifier).delete(EqualTo("k", "a"))  # drops the file the UPDATE rewrites
    writer.join(300)

    assert isinstance(outcome.get("error"), ConflictRetriesExhausted), outcome
    assert str(outcome["error"]) == ("commit conflict persisted after 1 attempts: org.apache.iceberg.exceptions."
                                     f"ValidationException: Missing required files to delete: {replaced}")
