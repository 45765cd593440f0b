"""Pure rules of maintenance and table operations: policies, literals, types, retries."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cs_platform.adapters.identifiers import InvalidIdentifier
from cs_platform.lakehouse.policy import MERGE_HEAVY, PolicyError, policy_for
from cs_platform.adapters.commit_retry import ConflictRetriesExhausted, is_commit_conflict, retry_on_conflict
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
