"""Hive -> Iceberg migration: `legacy/*` external assets, a migration job and a rollback job per table."""

import dagster as dg

from cs_platform.defs.migration.assets import MIGRATIONS, migration_asset_specs
from cs_platform.defs.migration.jobs import build_migration_job, build_rollback_job

defs = dg.Definitions(
    assets=[spec for source, target in MIGRATIONS.items() for spec in migration_asset_specs(source, target)],
    jobs=[job for source, target in MIGRATIONS.items()
          for job in (build_migration_job(source, target), build_rollback_job(source, target))],
)
