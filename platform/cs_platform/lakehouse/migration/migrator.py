"""The migration of one Hive table to Iceberg: preflight -> copy/adopt -> verify -> cutover,
plus plan (dry run), an on-demand verification and rollback.

Each step first looks at the catalog, then acts, then is recorded in the state file; a run skips
recorded steps, so a rerun after success changes nothing and a run after a crash resumes at the
first unrecorded step (whose action is safe to repeat).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cs_platform.lakehouse.migration import sql
from cs_platform.lakehouse.migration.names import MigrationNames
from cs_platform.lakehouse.migration.state import ACTIONS, STEPS, MigrationState, MigrationStateStore
from cs_platform.lakehouse.migration.strategy import (
    ADD_FILES,
    CTAS_REWRITE,
    IN_PLACE_MIGRATE,
    TableFacts,
    choose_strategy,
    file_format,
)
from cs_platform.lakehouse.migration.verification import (
    UNPARTITIONED,
    VerificationReport,
    collect_profile,
    comparable_columns,
    compare,
    schema_mapping,
)
from cs_platform.settings import Settings


class MigrationError(RuntimeError):
    """The migration cannot go on; the message names the table and what to do."""


class VerificationFailed(MigrationError):
    def __init__(self, names: MigrationNames, report: VerificationReport):
        self.report = report
        super().__init__(
            f"verification of {names.target_name} against {names.source_name} failed: " + "; ".join(report.mismatches)
        )


@dataclass
class RunResult:
    source: str
    target: str
    executed: list[str] = field(default_factory=list)
    metadata: dict[str, dict] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.executed)


class HiveMigration:
    def __init__(self, spark, settings: Settings, names: MigrationNames,
                 after_action: Callable[[str], None] | None = None):
        """`after_action(step)` runs after a step's action and before it is recorded (progress, fault injection)."""
        self.spark = spark
        self.names = names
        self.store = MigrationStateStore.of(settings)
        self.after_action = after_action or (lambda step: None)
        self.metastore_is_glue = settings.hive_metastore_uri == "glue"

    # ---- catalog probes ------------------------------------------------------------------

    def _hive_exists(self, table: str) -> bool:
        return self.spark.catalog.tableExists(f"{self.names.source_db}.{table}")

    def source_exists(self) -> bool:
        return self._hive_exists(self.names.source_table)

    def backup_exists(self) -> bool:
        return self._hive_exists(self.names.backup_table)

    def target_exists(self) -> bool:
        return self.spark.catalog.tableExists(self.names.target_name)

    def target_properties(self) -> dict[str, str]:
        return self._properties(self.names.target)

    def _properties(self, table_ref: str) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.spark.sql(f"SHOW TBLPROPERTIES {table_ref}").collect()}

    def target_snapshot_id(self) -> int | None:
        rows = self.spark.sql(
            f"SELECT snapshot_id FROM {self.names.target}.snapshots ORDER BY committed_at DESC LIMIT 1").collect()
        return int(rows[0]["snapshot_id"]) if rows else None

    def _live_source_ref(self) -> str:
        """The Hive table as it is now: under its own name, or under the backup name after cutover."""
        if self.source_exists():
            return self.names.source
        if self.backup_exists():
            return self.names.backup
        raise MigrationError(
            f"Hive table {self.names.source_name} not found (nor its backup {self.names.backup_name}): "
            "create it first (csp legacy seed) or check the name"
        )

    def rename_refusal(self, facts: TableFacts) -> str | None:
        """Why the cutover cannot rename the live Hive table, None when it can (reads only).

        The cutover renames the table and sets a property on it, and Spark hands the metastore the table's
        columns each time as it reads them back: a nested field name with a leading or trailing space comes
        back trimmed (`struct<city :string>` as `struct<city:string>`). A metastore that disallows
        incompatible column type changes (hive.metastore.disallow.incompatible.col.type.changes, the default)
        refuses the ALTER TABLE; one that allows them stores the trimmed names in the Hive table, which Hive
        readers then resolve by the wrong name. Either way such a table is not migrated. (A table Spark keeps
        in its own format, the metastore declaring another storage, has no column types in the metastore.)"""
        if facts.kept_in_sparks_format:
            return None
        padded = sql.padded_field_names(self.spark.table(self._live_source_ref()).schema)
        if not padded:
            return None
        return (f"nested field name{'s' if len(padded) > 1 else ''} {', '.join(repr(n) for n in padded)} "
                f"{'have' if len(padded) > 1 else 'has a'} leading or trailing space{'s' if len(padded) > 1 else ''}, "
                "which Spark hands to the Hive metastore trimmed: the metastore refuses the rename (types "
                "incompatible with the existing columns), or stores the trimmed names in the Hive table")

    def state(self) -> MigrationState:
        return self.store.load(self.names.source_name, self.names.target_name)

    # ---- steps ---------------------------------------------------------------------------

    def inspect(self) -> TableFacts:
        """Format, table type, bucketing, partitioning and size of the Hive table (reads only)."""
        ref = self._live_source_ref()
        rows = self.spark.sql(f"DESCRIBE TABLE EXTENDED {ref}").collect()
        info, partitions, section = {}, [], "columns"
        for row in rows:
            name, value = (row["col_name"] or "").strip(), (row["data_type"] or "").strip()
            if name == "# Partition Information":
                section = "partitions"
            elif name == "# Detailed Table Information":
                section = "details"
            elif section == "partitions" and name and not name.startswith("#"):
                partitions.append(name)
            elif section == "partitions" and not name:
                section = "columns"
            elif section == "details" and name:
                info[name] = value
        schema = self.spark.table(ref).schema
        buckets = tuple(c.strip().strip("`") for c in info.get("Bucket Columns", "").strip("[]").split(",") if c.strip())
        location = info.get("Location", "")
        size, files = self._content_summary(location)
        partition_count = self.spark.sql(f"SHOW PARTITIONS {ref}").count() if partitions else 0
        return TableFacts(
            format=file_format(info.get("InputFormat", ""), info.get("Serde Library", ""), info.get("Provider", "hive")),
            storage_format=file_format(info.get("InputFormat", ""), info.get("Serde Library", "")),
            table_type=info.get("Type", "MANAGED").upper(),
            partition_columns=tuple(partitions),
            bucket_columns=buckets,
            num_buckets=int(info.get("Num Buckets", "0") or 0) if buckets else 0,
            location=location,
            size_bytes=size,
            file_count=files,
            partition_count=partition_count,
            columns=tuple((f.name, sql.ddl_type(f.dataType)) for f in schema),
        )

    def _content_summary(self, location: str) -> tuple[int, int]:
        """(bytes, files) under `location`; (0, 0) when it does not exist."""
        if not location:
            return 0, 0
        jvm = self.spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(location)
        fs = path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())
        if not fs.exists(path):
            return 0, 0
        summary = fs.getContentSummary(path)
        return int(summary.getLength()), int(summary.getFileCount())

    def source_content(self) -> dict[str, dict[str, int]]:
        """What identifies the live Hive table's content without reading it: {partition: {files, bytes}}
        from the metastore's partition locations (partitions stored elsewhere count too) and the file
        system; an unpartitioned table is one partition, its location."""
        table = self.names.source_table if self.source_exists() else self.names.backup_table
        jvm = self.spark.sparkContext._jvm
        catalog = self.spark._jsparkSession.sharedState().externalCatalog()
        as_list = jvm.scala.collection.JavaConverters.seqAsJavaList
        meta = catalog.getTable(self.names.source_db, table)
        columns = list(as_list(meta.partitionColumnNames()))
        if columns:
            no_spec = getattr(jvm.scala, "None$").__getattr__("MODULE$")
            locations = {"/".join(f"{c}={p.spec().apply(c)}" for c in columns): p.location().toString()
                         for p in as_list(catalog.listPartitions(self.names.source_db, table, no_spec))}
        else:
            locations = {UNPARTITIONED: meta.location().toString()}
        content = {}
        for partition, location in locations.items():
            size, files = self._content_summary(location)
            content[partition] = {"files": files, "bytes": size}
        return content

    def _source_changes(self, verified: dict[str, dict[str, int]] | None) -> list[str]:
        """How the Hive table's files differ from those recorded when it was verified."""
        if verified is None:
            return ["its verification recorded no summary of its files"]
        now = self.source_content()
        changes = []
        for partition in sorted(set(verified) | set(now)):
            before, after = verified.get(partition), now.get(partition)
            if before is None:
                changes.append(f"{partition} is new ({after['files']} files, {after['bytes']} bytes)")
            elif after is None:
                changes.append(f"{partition} is gone")
            elif before != after:
                changes.append(f"{partition} has {after['files']} files, {after['bytes']} bytes "
                               f"(verified: {before['files']} files, {before['bytes']} bytes)")
        return changes

    def preflight(self, state: MigrationState) -> dict:
        if self.metastore_is_glue:  # refused before the copy, not after hours of it
            raise MigrationError(
                f"cannot migrate {self.names.source_name} with CSP_HIVE_METASTORE_URI=glue: the cutover renames "
                f"the Hive table to {self.names.backup_name}, and the AWS Glue Data Catalog cannot rename tables. "
                "Point CSP_HIVE_METASTORE_URI at a Hive metastore (thrift://host:9083) that holds the table")
        facts = self.inspect()
        refusal = self.rename_refusal(facts)
        if refusal:
            raise MigrationError(
                f"cannot migrate {self.names.source_name}: the cutover renames it to {self.names.backup_name}, and "
                f"its {refusal}. Copy the table to one whose field names have no such spaces and migrate that one")
        strategy = choose_strategy(facts, self.names.target_catalog)
        return {"facts": facts.as_dict(), "strategy": strategy.name, "reason": strategy.reason,
                "source": self.names.source_name, "target": self.names.target_name}

    def copy(self, state: MigrationState) -> dict:
        facts = TableFacts.from_dict(state.metadata("preflight")["facts"])
        strategy = state.metadata("preflight")["strategy"]
        if strategy == IN_PLACE_MIGRATE:
            raise MigrationError(f"in-place migrate of {self.names.source_name} is not supported: target a lake table")
        if not self.source_exists():
            raise MigrationError(f"Hive table {self.names.source_name} is gone before its copy: restore it, "
                                 f"then run `csp migrate-hive rollback {self.names.source_name}`")
        started = time.monotonic()
        self._drop_partial_target()
        self.spark.sql(sql.create_namespace(self.names))
        properties = {sql.SOURCE_PROPERTY: self.names.source_name, sql.STRATEGY_PROPERTY: strategy,
                      sql.BACKUP_PROPERTY: self.names.backup_name}
        partition_columns = list(facts.partition_columns)
        result: dict = {"strategy": strategy}
        if strategy == ADD_FILES:
            # The adopted files stay shared with the Hive backup: Iceberg must never delete them.
            properties["gc.enabled"] = "false"
            self.spark.sql(sql.create_target(self.names, list(facts.columns), partition_columns, properties))
            added = self.spark.sql(sql.add_files(self.names)).collect()[0]
            result["files_adopted"] = int(added["added_files_count"])
            result["bytes_copied"] = 0
        else:
            self.spark.sql(sql.ctas_target(self.names, self.names.source, partition_columns, properties))
            files = self.spark.sql(f"SELECT count(*) AS n, coalesce(sum(file_size_in_bytes), 0) AS b "
                                   f"FROM {self.names.target}.files").collect()[0]
            result["files_written"] = int(files["n"])
            result["bytes_copied"] = int(files["b"])
        result["snapshot_id"] = self.target_snapshot_id()
        result["seconds"] = round(time.monotonic() - started, 2)
        return result

    def _drop_partial_target(self) -> None:
        """A target left by a crashed copy is ours to redo; any other table of that name is not."""
        if not self.target_exists():
            return
        props = self.target_properties()
        if props.get(sql.SOURCE_PROPERTY) != self.names.source_name:
            raise MigrationError(
                f"{self.names.target_name} already exists and was not created by the migration of "
                f"{self.names.source_name}: choose another --target or drop it"
            )
        self.spark.sql(sql.drop_target(self.names, purge=props.get(sql.STRATEGY_PROPERTY) == CTAS_REWRITE))

    def verification_report(self, partition_columns: list[str] | None = None) -> VerificationReport:
        """Compare the Hive table (or its backup) with the target now; changes nothing."""
        if not self.target_exists():
            raise MigrationError(f"{self.names.target_name} does not exist: run `csp migrate-hive run {self.names.source_name}`")
        source_df = self.spark.table(self._live_source_ref())
        target_df = self.spark.table(self.names.target)
        if partition_columns is None:
            partition_columns = list(self.inspect().partition_columns)
        # The DDL rendering on both sides: unlike simpleString, it cannot show two struct types alike.
        mapping = schema_mapping([(f.name, sql.ddl_type(f.dataType)) for f in source_df.schema],
                                 [(f.name, sql.ddl_type(f.dataType)) for f in target_df.schema])
        source_df, comparable = comparable_columns(source_df, mapping)
        return compare(collect_profile(source_df, partition_columns, comparable),
                       collect_profile(target_df, partition_columns, comparable), mapping)

    def verify(self, state: MigrationState) -> dict:
        facts = state.metadata("preflight")["facts"]
        content = self.source_content()  # before the comparison: a write during it shows at cutover
        report = self.verification_report(list(facts["partition_columns"]))
        if not report.ok:
            raise VerificationFailed(self.names, report)
        return {**report.as_metadata(), "snapshot_id": self.target_snapshot_id(), "source_content": content}

    def cutover(self, state: MigrationState) -> dict:
        """Rename the Hive table to its backup name: readers of the old name now fail loudly, not silently stale."""
        if self.source_exists() and self.backup_exists():
            raise MigrationError(f"both {self.names.source_name} and {self.names.backup_name} exist: "
                                 "drop or rename one of them by hand, then rerun")
        if self.source_exists():
            # A verification holds for the files it saw: a Hive write since then would be missing from the target.
            changes = self._source_changes(state.metadata("verify").get("source_content"))
            if changes:
                self.store.unrecord(state, "verify")
                raise MigrationError(
                    f"Hive table {self.names.source_name} changed since it was verified ({'; '.join(changes)}): "
                    f"{self.names.target_name} may not hold these changes. Run `csp migrate-hive run "
                    f"{self.names.source_name}` again to verify anew (if verification fails, roll back and migrate again)"
                )
            self.spark.sql(sql.rename_hive(self.names, self.names.source_table, self.names.backup_table))
        self.spark.sql(sql.set_properties(self.names.backup, {sql.MIGRATED_TO_PROPERTY: self.names.target_name}))
        return {"hive_backup": self.names.backup_name, "target": self.names.target_name,
                "snapshot_id": self.target_snapshot_id()}

    # ---- entry points --------------------------------------------------------------------

    def run_step(self, step: str) -> dict | None:
        """Run one step if it is not recorded yet (earlier steps must be); returns its metadata, None if skipped."""
        state = self.state()
        if state.done(step):
            return None
        missing = [s for s in STEPS[: STEPS.index(step)] if not state.done(s)]
        if missing:
            raise MigrationError(f"step {step} of {self.names.source_name} needs {', '.join(missing)} first")
        metadata = getattr(self, step)(state)
        self.after_action(step)
        self.store.record(state, step, metadata)
        return metadata

    def step_outcome(self, step: str) -> dict:
        """:meth:`run_step` as one JSON-able dict: the step's metadata (recorded by an earlier run
        when it was done already) and `skipped`."""
        metadata = self.run_step(step)
        if metadata is None:
            return {**self.state().metadata(step), "skipped": True}
        return {**metadata, "skipped": False}

    def act(self, action: str) -> dict | list:
        """One action of a migration job, wherever it runs: a step, the plan, or the rollback."""
        if action == "plan":
            return self.plan()
        if action in ("rollback", "rollback_force"):  # forced: even over writes made after the cutover
            return self.rollback(force=action == "rollback_force")
        if action not in STEPS:
            raise MigrationError(f"unknown migration action {action!r}: one of {', '.join(ACTIONS)}")
        return self.step_outcome(action)

    def run(self) -> RunResult:
        result = RunResult(self.names.source_name, self.names.target_name)
        for step in STEPS:
            metadata = self.run_step(step)
            if metadata is not None:
                result.executed.append(step)
                result.metadata[step] = metadata
        return result

    def plan(self) -> dict:
        """What `run` would do, step by step; reads only."""
        state = self.state()
        preflight = state.metadata("preflight") or self.preflight(state)
        facts = TableFacts.from_dict(preflight["facts"])
        strategy = preflight["strategy"]
        if strategy == ADD_FILES:
            copy = [sql.create_target(self.names, list(facts.columns), list(facts.partition_columns),
                                      {sql.SOURCE_PROPERTY: self.names.source_name, "gc.enabled": "false"}),
                    sql.add_files(self.names)]
        else:
            copy = [sql.ctas_target(self.names, self.names.source, list(facts.partition_columns),
                                    {sql.SOURCE_PROPERTY: self.names.source_name})]
        actions = {
            "preflight": [f"inspect {self.names.source_name}: {facts.format}, {facts.table_type.lower()}, "
                          f"{facts.partition_count} partitions, {facts.file_count} files, {facts.size_bytes} bytes"],
            "copy": copy,
            "verify": [f"compare row counts per partition ({facts.partition_count or 1}) and xxhash64 checksums "
                       f"of each column and of whole rows"],
            "cutover": [sql.rename_hive(self.names, self.names.source_table, self.names.backup_table)],
        }
        return {
            "source": self.names.source_name, "target": self.names.target_name,
            "strategy": strategy, "reason": preflight["reason"], "facts": facts.as_dict(),
            "steps": [{"step": s, "status": "done" if state.done(s) else "pending", "actions": actions[s]} for s in STEPS],
        }

    def finalize(self) -> list[str]:
        """End of the way back: drop the Hive backup (EXTERNAL, never purged: metadata only) and let
        Iceberg own the files.

        Until then adopted files are shared with the backup, so the table keeps `gc.enabled=false` and
        maintenance cannot expire snapshots; after it, the migrated table is maintained like any other.
        """
        state = self.state()
        if state.done("finalize"):
            return []
        if not state.complete:
            raise MigrationError(f"{self.names.source_name} is not cut over yet (next step: {state.next_step()}): "
                                 f"run `csp migrate-hive run {self.names.source_name}` first")
        done = []
        if self.backup_exists():
            adopted = state.metadata("preflight").get("strategy") != CTAS_REWRITE  # unsure: keep the files
            if adopted:
                # A Hive 3+ metastore deletes an EXTERNAL table's files on drop when external.table.purge is
                # true: the files the Iceberg table reads. The drop must be metadata only.
                purge = self._properties(self.names.backup).get(sql.EXTERNAL_PURGE_PROPERTY, "").lower()
                self.spark.sql(sql.set_properties(self.names.backup, {sql.EXTERNAL_PURGE_PROPERTY: "false"}))
                if purge == "true":
                    done.append(f"set {sql.EXTERNAL_PURGE_PROPERTY}=false on {self.names.backup_name}: "
                                f"dropping it must not delete the files of {self.names.target_name}")
            self.spark.sql(sql.drop_hive_backup(self.names))
            done.append(f"dropped Hive backup {self.names.backup_name} " + (
                f"(its files now belong to {self.names.target_name})" if adopted
                else f"({self.names.target_name} holds its own copy of the rows)"))
        self.spark.sql(sql.set_properties(self.names.target, {"gc.enabled": "true"}))
        self.spark.sql(sql.unset_property(self.names.target, sql.BACKUP_PROPERTY))
        done.append(f"enabled garbage collection on {self.names.target_name}")
        self.after_action("finalize")
        self.store.record(state, "finalize", {"actions": done})
        return done

    def commits_since_cutover(self, state: MigrationState) -> int:
        """How many commits that change rows the migrated table has had after the snapshot recorded at
        cutover (0 before cutover, or when the table is not the migration's); an expired cutover snapshot
        counts every one left. Compactions and other rewrites (`replace`) change no row: they do not count."""
        if not state.done("cutover") or not self.target_exists():
            return 0
        if self.target_properties().get(sql.SOURCE_PROPERTY) != self.names.source_name:
            return 0
        cutover = state.metadata("cutover").get("snapshot_id")
        rows = self.spark.sql(f"SELECT snapshot_id, committed_at, operation FROM {self.names.target}.snapshots").collect()
        at = next((r["committed_at"] for r in rows if r["snapshot_id"] == cutover), None)
        if at is None:  # expired: what is left cannot be told apart from a write
            return len(rows)
        return sum(1 for r in rows if r["operation"] != "replace" and r["committed_at"] > at)

    def rollback(self, force: bool = False) -> list[str]:
        """Restore the Hive table under its name and drop the Iceberg table the migration created.

        Refused when the Iceberg table was written after the cutover (the writes would be lost with it),
        unless `force`."""
        state = self.state()
        if state.done("finalize"):
            raise MigrationError(f"{self.names.source_name} was finalized (its Hive backup dropped): "
                                 f"{self.names.target_name} is the only copy, there is nothing to roll back to")
        commits = 0 if force else self.commits_since_cutover(state)
        if commits:
            raise MigrationError(
                f"{self.names.target_name} has {commits} commit{'s' if commits > 1 else ''} after the cutover of "
                f"{self.names.source_name} (snapshot {state.metadata('cutover').get('snapshot_id')}): a rollback "
                "would drop them with the table. Keep what you need, then run "
                f"`csp migrate-hive rollback {self.names.source_name} --force` (in Dagster: the rollback job "
                "with config force: true)"
            )
        done = []
        if self.backup_exists():
            if self.source_exists():
                raise MigrationError(f"both {self.names.source_name} and {self.names.backup_name} exist: "
                                     "drop or rename one of them by hand, then rerun the rollback")
            self.spark.sql(sql.rename_hive(self.names, self.names.backup_table, self.names.source_table))
            done.append(f"restored Hive table {self.names.source_name} from {self.names.backup_name}")
        if self.source_exists():
            self.spark.sql(sql.unset_property(self.names.source, sql.MIGRATED_TO_PROPERTY))
        else:
            raise MigrationError(f"Hive table {self.names.source_name} not found (nor its backup): nothing to roll back to")
        self.after_action("rollback")
        if self.target_exists():
            props = self.target_properties()
            if props.get(sql.SOURCE_PROPERTY) == self.names.source_name:
                # Adopted files belong to the Hive table: drop the metadata only. Rewritten files are ours: purge.
                self.spark.sql(sql.drop_target(self.names, purge=props.get(sql.STRATEGY_PROPERTY) == CTAS_REWRITE))
                done.append(f"dropped Iceberg table {self.names.target_name}")
            else:
                done.append(f"left {self.names.target_name}: it was not created by this migration")
        self.store.forget(self.names.source_name)
        return done
