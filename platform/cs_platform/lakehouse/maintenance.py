"""Iceberg maintenance through Spark procedures, one step at a time, each with before/after health.

Order per table: rewrite_data_files -> rewrite_position_delete_files -> expire_snapshots ->
rewrite_manifests -> remove_orphan_files. Compaction touches only files with rows older than the
current hour and commits file groups separately (partial progress), so a streaming MERGE that
conflicts costs at most the groups it touched: Iceberg logs such a group's lost commit and leaves
its files for the next run (nothing is lost by skipping a compaction). A compaction that ran (the
probe said it pays) but committed no group at all lost every commit to concurrent writes (e.g.
merge-on-read MERGEs adding position deletes for the files it replaces): Iceberg returns zero
counts without raising, and the step reports a conflict, not `done`. A conflict that fails the
whole call is retried and, if it persists, reported in the step result rather than raised. A
group that could not be rewritten at all (an unreadable file) fails the step: that is no race.
PyIceberg 0.12 can neither compact nor delete files, hence Spark.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable

from cs_platform.lakehouse.health import TableHealth, current_hour, probe
from cs_platform.lakehouse.policy import MaintenancePolicy, policy_for
from cs_platform.adapters.commit_retry import ConflictRetriesExhausted, first_line, retry_on_conflict
from cs_platform.lakehouse.table_ops import TableRef, refresh, require_catalog, timestamp_literal

log = logging.getLogger(__name__)

STEPS = (
    "rewrite_data_files",
    "rewrite_position_delete_files",
    "expire_snapshots",
    "rewrite_manifests",
    "remove_orphan_files",
)
# Steps that delete files: never on a table whose files may belong to someone else (gc.enabled=false,
# e.g. a table adopted from Hive whose backup still shares its files until the migration is finalized).
_DELETING_STEPS = ("expire_snapshots", "remove_orphan_files")


class MaintenanceError(RuntimeError):
    """A maintenance step failed for a reason other than a commit race (which it retries and reports)."""


@dataclass
class StepResult:
    table: str
    step: str
    status: str  # done | skipped | dry_run | conflict
    reason: str = ""
    outcome: dict = field(default_factory=dict)
    conflicts_retried: int = 0
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)

    def metadata(self) -> dict:
        """Flat before/after numbers for Dagster metadata."""
        flat = {"table": self.table, "step": self.step, "status": self.status, "reason": self.reason,
                "conflicts_retried": self.conflicts_retried}
        flat.update({f"result_{k}": v for k, v in self.outcome.items() if isinstance(v, (int, float, str, bool))})
        for key in ("data_files", "small_files", "delete_files", "snapshots", "manifests", "data_bytes", "records"):
            if key in self.before:
                flat[f"before_{key}"] = self.before[key]
            if key in self.after:
                flat[f"after_{key}"] = self.after[key]
        return flat

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StepResult":
        """The inverse of :meth:`as_dict` (a step run on EMR Serverless reports it as JSON)."""
        return cls(**data)


class Maintainer:
    """Runs the maintenance steps of one table with a Spark session and a PyIceberg catalog."""

    def __init__(self, spark, catalog, ref: TableRef, policy: MaintenancePolicy, now: datetime | None = None,
                 dry_run: bool = False, conflict_attempts: int = 4):
        self.spark = spark
        self.catalog = catalog
        self.ref = ref
        self.policy = policy
        self.now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.dry_run = dry_run
        self.conflict_attempts = conflict_attempts

    # ---- plumbing ----------------------------------------------------------------------------

    def health(self) -> TableHealth:
        return probe(self.catalog, self.ref, self.policy, self.now)

    def _call(self, procedure: str, **args: str) -> list[dict]:
        """CALL with literal arguments only (Iceberg requires literals); values are built here."""
        rendered = ", ".join([f"table => {self.ref.procedure_arg}"] + [f"{k} => {v}" for k, v in args.items()])
        sql = f"CALL {self.ref.procedure(procedure)}({rendered})"
        refresh(self.spark, self.ref)
        log.info("%s", sql)
        return [row.asDict(recursive=True) for row in self.spark.sql(sql).collect()]

    def _gc_disabled(self) -> bool:
        properties = self.catalog.load_table(self.ref.identifier).properties
        return properties.get("gc.enabled", "true").lower() == "false"

    def _step(self, step: str, skip_reason: str, action: Callable[[], dict]) -> StepResult:
        """Probe, run ``action`` only where the probe says it pays (retrying conflicts), probe again."""
        before = self.health()
        result = StepResult(str(self.ref), step, "done", before=before.metadata())
        if step in _DELETING_STEPS and self._gc_disabled():
            result.status, result.after = "skipped", result.before
            result.reason = "gc.enabled=false: the table does not own all its files (finalize its migration first)"
            return result
        if not before.pays.get(step, True):
            result.status, result.reason, result.after = "skipped", skip_reason, result.before
            return result
        conflicts: list[str] = []

        def record(attempt: int, exc: BaseException) -> None:
            conflicts.append(first_line(exc))

        try:
            result.outcome = retry_on_conflict(action, attempts=self.conflict_attempts, on_conflict=record)
        except ConflictRetriesExhausted as exc:
            result.status, result.reason = "conflict", str(exc)
        result.conflicts_retried = len(conflicts)
        if self.dry_run and result.status == "done":
            result.status = "dry_run"
        result.after = self.health().metadata()
        return result

    def apply_table_properties(self) -> None:
        """Commit retries on the table itself, so concurrent writers retry at the commit level first."""
        props = ", ".join(f"'{k}' = '{v}'" for k, v in self.policy.table_properties().items())
        self.spark.sql(f"ALTER TABLE {self.ref.sql} SET TBLPROPERTIES ({props})")

    # ---- steps --------------------------------------------------------------------------------

    def compaction_filter(self) -> str | None:
        """The `where` literal: rows older than the current hour (None when the table has no time column)."""
        columns = {f.name for f in self.catalog.load_table(self.ref.identifier).schema().fields}
        if self.policy.time_column is None or self.policy.time_column not in columns:
            return None
        cutoff = current_hour(self.now).strftime("%Y-%m-%d %H:%M:%S")
        return f'{self.policy.time_column} < TIMESTAMP "{cutoff}"'

    def rewrite_data_files(self) -> StepResult:
        where = self.compaction_filter()

        def run() -> dict:
            if self.dry_run:
                return {"where": where or ""}
            args = {
                "strategy": f"'{self.policy.strategy}'",
                "options": _options_map({
                    "min-input-files": self.policy.min_input_files,
                    "target-file-size-bytes": self.policy.target_file_size_bytes,
                    "partial-progress.enabled": "true",
                    "partial-progress.max-commits": 10,
                    "max-concurrent-file-group-rewrites": 2,
                    "remove-dangling-deletes": "true",  # deletes applied by the rewrite stop costing reads
                }),
            }
            if self.policy.strategy == "sort":
                args["sort_order"] = "'" + ", ".join(f"{c} ASC NULLS LAST" for c in self.policy.sort_order) + "'"
            if where:
                args["where"] = f"'{where}'"
            outcome = {**_first(self._call("rewrite_data_files", **args)), "where": where or ""}
            failed = int(outcome.get("failed_data_files_count") or 0)
            if failed:  # partial progress reports a group it could not rewrite instead of raising
                raise MaintenanceError(f"rewrite_data_files on {self.ref}: {failed} data file(s) could not be rewritten "
                                       f"({int(outcome.get('rewritten_data_files_count') or 0)} were); the cause is "
                                       "in the driver log (\"Failure during rewrite group\")")
            return outcome

        result = self._step("rewrite_data_files",
                            "probe: no partition has enough small files older than the current hour", run)
        lost = lost_group_commits(result.outcome) if result.status == "done" else None
        if lost:
            result.status, result.reason = "conflict", lost
        return result

    def rewrite_position_delete_files(self) -> StepResult:
        def run() -> dict:
            if self.dry_run:
                return {}
            # rewrite-all: after compaction most positions point at replaced files; rewriting drops them
            rows = self._call("rewrite_position_delete_files", options=_options_map({"rewrite-all": "true"}))
            return _first(rows)

        return self._step("rewrite_position_delete_files", "probe: no delete files", run)

    def expire_snapshots(self) -> StepResult:
        cutoff = self.policy.snapshot_cutoff(self.now)

        def run() -> dict:
            if self.dry_run:
                return {"older_than": cutoff.isoformat()}
            rows = self._call("expire_snapshots", older_than=timestamp_literal(cutoff),
                              retain_last=str(self.policy.retain_last_snapshots), stream_results="true")
            return {**_first(rows), "older_than": cutoff.isoformat()}

        return self._step("expire_snapshots", "probe: few and young snapshots", run)

    def rewrite_manifests(self) -> StepResult:
        def run() -> dict:
            if self.dry_run:
                return {}
            return _first(self._call("rewrite_manifests"))

        return self._step("rewrite_manifests", f"probe: fewer than {self.policy.manifest_min_count} manifests", run)

    def orphan_cutoff(self) -> datetime:
        """Never later than the wall clock minus the policy's age, whatever `now` a caller passes."""
        return min(self.policy.orphan_cutoff(self.now), self.policy.orphan_cutoff(datetime.now(timezone.utc)))

    def list_orphans(self) -> list[str]:
        rows = self._call("remove_orphan_files", older_than=timestamp_literal(self.orphan_cutoff()), dry_run="true")
        return sorted(r["orphan_file_location"] for r in rows)

    def remove_orphan_files(self) -> StepResult:
        def run() -> dict:
            listed = self.list_orphans()
            if self.dry_run or not listed:
                return {"orphans_listed": len(listed), "orphans_deleted": 0, "orphan_files": listed[:100]}
            rows = self._call("remove_orphan_files", older_than=timestamp_literal(self.orphan_cutoff()))
            deleted = sorted(r["orphan_file_location"] for r in rows)
            return {"orphans_listed": len(listed), "orphans_deleted": len(deleted), "orphan_files": deleted[:100]}

        return self._step("remove_orphan_files", "", run)

    def run_step(self, step: str) -> StepResult:
        if step not in STEPS:
            raise ValueError(f"unknown maintenance step {step!r}: choose from {', '.join(STEPS)}")
        if step == STEPS[0] and not self.dry_run:
            self.apply_table_properties()
        return getattr(self, step)()

    def run(self, steps: tuple[str, ...] = STEPS,
            on_result: Callable[[StepResult], None] | None = None) -> list[StepResult]:
        """The steps in their fixed order (compaction first: expiry then frees the replaced files).

        ``on_result`` sees each step's result as it finishes, so a later step's error does not
        hide what the earlier ones did."""
        unknown = set(steps) - set(STEPS)
        if unknown:
            raise ValueError(f"unknown maintenance steps {sorted(unknown)}: choose from {', '.join(STEPS)}")
        if not self.dry_run:
            self.apply_table_properties()
        results = []
        for step in (s for s in STEPS if s in steps):
            results.append(getattr(self, step)())
            if on_result is not None:
                on_result(results[-1])
        return results


def lost_group_commits(outcome: dict) -> str | None:
    """Why a compaction that ran committed nothing, from the row of Iceberg's `rewrite_data_files`
    (None when it committed files).

    The step runs only where the probe found files to compact, so a row rewriting no data file
    (and failing none: that raises) means every file group Iceberg planned lost its commit to a
    concurrent write; with partial progress Iceberg logs each such group ("Failure during rewrite
    commit process, partial progress enabled. Ignoring") instead of raising. The row does not say
    how many groups were planned, so a compaction that committed some of them is `done`.
    """
    if int(outcome.get("rewritten_data_files_count") or 0) > 0:
        return None
    return ("no file group was committed: every group lost its commit to concurrent writes "
            "(Iceberg logs each as \"Failure during rewrite commit process, partial progress enabled. Ignoring\"); "
            "its files stay as they are and the next run retries them")


def _options_map(options: dict) -> str:
    return "map(" + ", ".join(f"'{k}', '{v}'" for k, v in options.items()) + ")"


def _first(rows: list[dict]) -> dict:
    return dict(rows[0]) if rows else {}


def existing_tables(catalog, names) -> list[TableRef]:
    """The given tables that exist in the catalog (maintenance skips tables not yet created), each
    once in the order first named: `events` and `cs.events` are one table (a table twice would be
    maintained twice, and Dagster's dynamic mapping rejects the duplicate key)."""
    refs = list(dict.fromkeys(TableRef.parse(n) if isinstance(n, str) else n for n in names))
    for ref in refs:
        require_catalog(catalog, ref)
    return [ref for ref in refs if catalog.table_exists(ref.identifier)]


@dataclass(frozen=True)
class MaintenanceTarget:
    """One table's maintenance run, passed from step to step (JSON-friendly for Dagster)."""

    table: str
    now: str  # ISO-8601, fixed once per run so every step uses the same cut-offs
    dry_run: bool = False
    overrides: dict = field(default_factory=dict)

    def maintainer(self, spark, catalog) -> Maintainer:
        ref = TableRef.parse(self.table)
        return Maintainer(spark, catalog, ref, policy_for(str(ref), self.overrides),
                          now=datetime.fromisoformat(self.now), dry_run=self.dry_run)


def plan(catalog, tables, dry_run: bool = False, overrides: dict | None = None,
         now: datetime | None = None) -> list[MaintenanceTarget]:
    """Targets for the tables that exist, each once; the policy is checked here, before any step runs."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
    targets = [MaintenanceTarget(str(ref), moment, dry_run, dict(overrides or {})) for ref in existing_tables(catalog, tables)]
    for target in targets:
        policy_for(target.table, target.overrides)
    return targets
