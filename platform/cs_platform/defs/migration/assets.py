"""The legacy Hive tables (external to Dagster) and the lake tables the migration produces."""

from __future__ import annotations

import dagster as dg

from cs_platform.lakehouse.migration.names import MigrationNames

# Hive table -> default lake table; each gets a migration job and a rollback job.
MIGRATIONS = {
    "legacy.cs_ticket_history": "lake.cs.ticket_history",
    "legacy.cs_agent_roster": "lake.cs.agent_roster",
}
_FORMATS = {"cs_ticket_history": "parquet", "cs_agent_roster": "csv"}


def legacy_key(names: MigrationNames) -> dg.AssetKey:
    return dg.AssetKey(["legacy", names.source_table])


def target_key(names: MigrationNames) -> dg.AssetKey:
    return dg.AssetKey([names.target_catalog, names.target_namespace, names.target_table])


def migration_asset_specs(source: str, target: str) -> list[dg.AssetSpec]:
    names = MigrationNames.parse(source, target)
    return [
        dg.AssetSpec(
            legacy_key(names),
            description=f"Legacy Hive table {names.source_name} (embedded Derby metastore locally); "
                        f"kept as {names.backup_name} after cutover.",
            group_name="legacy",
            kinds={"hive", _FORMATS.get(names.source_table, "parquet")},
        ),
        dg.AssetSpec(
            target_key(names),
            deps=[legacy_key(names)],
            description=f"Iceberg table {names.target_name}, migrated from {names.source_name} by the job "
                        f"migrate_hive__{names.source_table} (verified row counts and column checksums).",
            group_name="lake_migrated",
            kinds={"iceberg"},
        ),
    ]
