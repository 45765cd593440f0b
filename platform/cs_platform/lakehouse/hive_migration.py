"""Entry point named in the design: the Hive migration lives in `cs_platform.lakehouse.migration`."""

from cs_platform.lakehouse.migration import HiveMigration, MigrationError, MigrationNames, RunResult, VerificationFailed

__all__ = ["HiveMigration", "MigrationError", "MigrationNames", "RunResult", "VerificationFailed"]
