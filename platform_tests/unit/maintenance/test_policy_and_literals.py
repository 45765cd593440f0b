"""Pure rules of maintenance and table operations: policies, literals, types, retries."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cs_platform.adapters.identifiers import InvalidIdentifier
from cs_platform.lakehouse.policy import MERGE_HEAVY, PolicyError, policy_for
from cs_platform.adapters.commit_retry import (
    RACE_MESSAGES, ConflictRetriesExhausted, first_line, is_commit_conflict, retry_on_conflict,
)
from cs_platform.lakehouse.maintenance import lost_group_commits
from cs_platform.lakehouse.table_ops import (
    TableOpError, TableRef, check_widening, column_type, timestamp_literal,
)


def test_default_policies_per_known_table():
    assert policy_for("cs.tickets") is MERGE_HEAVY
    assert (MERGE_HEAVY.strategy, MERGE_HEAVY.sort_order, MERGE_HEAVY.time_column) == ("sort", ("ticket_id",), "updated_at")
    events = policy_for("lake.cs.events")
    assert (events.strategy, events.time_column, events.min_input_files, events.orphan_age_days) == ("binpack", "landing_hour", 2, 3)
    assert policy_for("cs.events_quarantine") == events
    assert events.table_properties()["commit.retry.num-retries"] == "10"


def test_policy_rejections_name_the_field():
    with pytest.raises(PolicyError, match=r"^invalid maintenance policy for cs.events: min_input_files: "
                                          r"Input should be greater than or equal to 2$"):
        policy_for("cs.events", {"min_input_files": 1})
    with pytest.raises(PolicyError, match=r"^invalid maintenance policy for cs.t: strategy='sort' needs at least one "
                                          r"column in sort_order$"):
        policy_for("cs.t", {"strategy": "sort"})
    with pytest.raises(PolicyError, match=r"sort column 'ticket_id; --'"):
        policy_for("cs.tickets", {"sort_order": ("ticket_id; --",)})
    for age in ("nan", "inf"):  # NaN passed `< 3` and failed mid-run, after compaction had committed
        with pytest.raises(PolicyError, match=rf"^invalid maintenance policy for cs.events: "
                                              rf"orphan_age_days must be a finite number of days, got {age}$"):
            policy_for("cs.events", {"orphan_age_days": float(age)})


def test_table_ref_forms_and_rejections():
    assert str(TableRef.parse("events")) == "lake.cs.events"
    ref = TableRef.parse("ns1.t1")
    assert (ref.sql, ref.procedure_arg, ref.identifier) == ("`lake`.`ns1`.`t1`", "'ns1.t1'", ("ns1", "t1"))
    with pytest.raises(InvalidIdentifier, match=r"^invalid table name part \"t1'\)--\""):
        TableRef.parse("ns1.t1')--")
    with pytest.raises(InvalidIdentifier, match=r"^invalid table name 'a.b.c.d': expected table, namespace.table"):
        TableRef.parse("a.b.c.d")
    with pytest.raises(InvalidIdentifier, match=r"^invalid table name part 'events\\n'"):  # `$` admits a final newline
        TableRef.parse("cs.events\n")


def test_literals_and_types():
    assert timestamp_literal("2026-11-26T10:15:00.123Z") == "TIMESTAMP '2026-11-26 10:15:00.123'"
    assert timestamp_literal(datetime(2026, 11, 26, 12, tzinfo=timezone.utc)) == "TIMESTAMP '2026-11-26 12:00:00.000'"
    with pytest.raises(TableOpError, match=r"^invalid timestamp \"2026'; DROP\": use ISO-8601"):
        timestamp_literal("2026'; DROP")
    assert [column_type(t) for t in ("LONG", "integer", "Decimal(10, 2)")] == ["bigint", "int", "decimal(10,2)"]
    with pytest.raises(TableOpError, match=r"^invalid column type 'map<string,string>'"):
        column_type("map<string,string>")
    check_widening("int", "bigint")
    check_widening("decimal(10,2)", "decimal(12,2)")
    with pytest.raises(TableOpError, match=r"^cannot widen bigint to int"):
        check_widening("bigint", "int")
    with pytest.raises(TableOpError, match=r"^cannot widen decimal\(10,2\) to decimal\(12,3\)"):
        check_widening("decimal(10,2)", "decimal(12,3)")


class _Conflict(Exception):
    pass


def test_retry_on_conflict_retries_conflicts_only_and_reports_exhaustion():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _Conflict("org.apache.iceberg.exceptions.ValidationException: Found conflicting files that can contain records")
        return "committed"

    seen = []
    assert retry_on_conflict(flaky, base_delay_s=0, on_conflict=lambda n, e: seen.append(n)) == "committed"
    assert seen == [1, 2]
    assert not is_commit_conflict(ValueError("division by zero"))
    with pytest.raises(ValueError, match="boom"):
        retry_on_conflict(lambda: (_ for _ in ()).throw(ValueError("boom")), base_delay_s=0)
    with pytest.raises(ConflictRetriesExhausted, match=r"^commit conflict persisted after 2 attempts: CommitFailedException: x$"):
        retry_on_conflict(lambda: (_ for _ in ()).throw(_Conflict("CommitFailedException: x")), attempts=2, base_delay_s=0)


def test_a_merge_whose_scan_snapshot_was_replaced_is_a_retryable_conflict():
    exc = RuntimeError("java.lang.IllegalStateException: Runtime file filtering is not possible: the table has been "
                       "concurrently modified. Row-level operation scan snapshot ID: 1, current table snapshot ID: 2.")
    assert is_commit_conflict(exc)
    assert not is_commit_conflict(RuntimeError("java.lang.IllegalStateException: something else"))


_ICEBERG = "org.apache.iceberg.exceptions."


@pytest.mark.parametrize("message", [
    f"{_ICEBERG}ValidationException: Found conflicting files that can contain records matching true: [file:/w/a.parquet]",
    f"{_ICEBERG}ValidationException: Found new conflicting delete files that can apply to records matching true: [d]",
    f"{_ICEBERG}ValidationException: Found conflicting deleted files that can contain records matching true: [f]",
    f"{_ICEBERG}ValidationException: Cannot commit, found new position delete for replaced data file: GenericDataFile{{}}",
    f"{_ICEBERG}ValidationException: Cannot commit, found new delete for replaced data file: GenericDataFile{{}}",
    f"{_ICEBERG}ValidationException: Cannot commit, missing data files: [file:/w/a.parquet]",
    f"{_ICEBERG}ValidationException: Missing required files to delete: file:/w/a.parquet",
    f"{_ICEBERG}ValidationException: Cannot determine history between starting snapshot 1 and the last known ancestor 2",
    f"{_ICEBERG}CommitFailedException: Cannot commit lake.cs.tickets: metadata location m2 has changed from m1",
    f"{_ICEBERG}CommitFailedException: Cannot commit cs.tickets because base metadata location 'm1' is not same as "
    "the current Glue location 'm2'",
])
def test_commit_races_are_conflicts(message):
    assert is_commit_conflict(RuntimeError(message))


@pytest.mark.parametrize("message", [
    f"{_ICEBERG}ValidationException: Cannot find field 'nope' in struct: struct<1: id: optional int>",
    f"{_ICEBERG}ValidationException: Cannot expire snapshots: GC is disabled (deleting files may corrupt other tables)",
])
def test_a_validation_exception_that_no_retry_cures_is_no_conflict(message):
    """Iceberg also throws ValidationException for permanent errors: retrying them only delays the failure."""
    assert not is_commit_conflict(RuntimeError(message))
    with pytest.raises(RuntimeError, match="^org.apache.iceberg"):
        retry_on_conflict(lambda: (_ for _ in ()).throw(RuntimeError(message)), base_delay_s=0)


def test_every_race_message_is_matched_as_iceberg_writes_it():
    assert all(is_commit_conflict(RuntimeError(f"{_ICEBERG}ValidationException: {m}: x")) for m in RACE_MESSAGES)


class _Py4JText(Exception):
    """A py4j error's text when its JVM cannot be asked (the live case is in the integration tests)."""


def test_first_line_names_the_java_exception_not_py4j_s_call():
    text = ("An error occurred while calling o311.sql.\n"
            f": {_ICEBERG}ValidationException: Found conflicting files that can contain records matching true: [f]\n"
            "\tat org.apache.iceberg.MergingSnapshotProducer.validateAddedDataFiles(MergingSnapshotProducer.java:393)\n")
    assert first_line(_Py4JText(text)) == (
        f"{_ICEBERG}ValidationException: Found conflicting files that can contain records matching true: [f]")
    with pytest.raises(ConflictRetriesExhausted, match=r"^commit conflict persisted after 1 attempts: "
                                                       r"org\.apache\.iceberg\.exceptions\.ValidationException: Found "):
        retry_on_conflict(lambda: (_ for _ in ()).throw(_Py4JText(text)), attempts=1)
    assert first_line(ValueError("boom\nmore")) == "boom"
    assert first_line(ValueError("")) == "ValueError"


class _JavaThrowable:
    def __init__(self, text: str, cause: "_JavaThrowable | None" = None):
        self.text, self.cause = text, cause

    def toString(self) -> str:  # noqa: N802 (py4j's names)
        return self.text

    def getCause(self):  # noqa: N802
        return self.cause

    def equals(self, other) -> bool:
        return other is self


class _Py4JJavaError(Exception):
    def __init__(self, java):
        super().__init__("An error occurred while calling o87.sql.")
        self.java_exception = java


def test_first_line_prefers_iceberg_s_exception_in_the_java_cause_chain():
    wrapped = _JavaThrowable("org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 failed",
                             _JavaThrowable(f"{_ICEBERG}NotFoundException: File does not exist: f",
                                            _JavaThrowable("java.io.FileNotFoundException: File f does not exist")))
    assert first_line(_Py4JJavaError(wrapped)) == f"{_ICEBERG}NotFoundException: File does not exist: f"
    denied = _JavaThrowable("org.apache.spark.SparkException: Job aborted", _JavaThrowable(
        "java.nio.file.AccessDeniedException: s3a://lake/cs/events/data: listObjects: AccessDenied"))
    assert first_line(_Py4JJavaError(denied)) == (
        "java.nio.file.AccessDeniedException: s3a://lake/cs/events/data: listObjects: AccessDenied")
    race = _JavaThrowable("java.lang.RuntimeException: Cannot commit rewrite because of a ValidationException or "
                          "CommitFailedException.", _JavaThrowable(f"{_ICEBERG}CommitFailedException: Commit failed: x"))
    assert is_commit_conflict(_Py4JJavaError(race))


def test_a_compaction_that_committed_no_group_lost_them_to_concurrent_writes():
    """The row of Iceberg 1.10's `rewrite_data_files` (as the step's outcome), with no group committed."""
    row = {"rewritten_data_files_count": 0, "added_data_files_count": 0, "rewritten_bytes_count": 0,
           "failed_data_files_count": 0, "removed_delete_files_count": 0, "where": 'landing_hour < TIMESTAMP "x"'}
    assert lost_group_commits(row) == (
        "no file group was committed: every group lost its commit to concurrent writes (Iceberg logs each as "
        '"Failure during rewrite commit process, partial progress enabled. Ignoring"); its files stay as they '
        "are and the next run retries them")
    assert lost_group_commits({**row, "rewritten_data_files_count": 3, "added_data_files_count": 1}) is None
