"""Hive -> Iceberg migration: planned, verified, resumable and reversible (see `migrator`)."""

from cs_platform.lakehouse.migration.migrator import HiveMigration, MigrationError, RunResult, VerificationFailed
from cs_platform.lakehouse.migration.names import MigrationNames

__all__ = ["HiveMigration", "MigrationError", "MigrationNames", "RunResult", "VerificationFailed"]
