"""Which Hive table migrates to which Iceberg table, and the name its Hive backup gets.

Every name is validated here (through `cs_platform.adapters.identifiers`) before any SQL is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from cs_platform.adapters.identifiers import InvalidIdentifier, qualified, validate_identifier

SESSION_CATALOG = "spark_catalog"
TARGET_CATALOG = "lake"
BACKUP_SUFFIX = "__hive_backup"


@dataclass(frozen=True)
class MigrationNames:
    source_db: str
    source_table: str
    target_namespace: str
    target_table: str
    target_catalog: str = TARGET_CATALOG

    def __post_init__(self) -> None:
        for part in (self.source_db, self.source_table, self.target_namespace, self.target_table, self.target_catalog):
            validate_identifier(part, "table name part")

    @classmethod
    def parse(cls, source: str, target: str | None = None) -> "MigrationNames":
        """`legacy.cs_ticket_history` [-> `lake.cs.ticket_history`, the default: `cs_` prefix becomes namespace `cs`]."""
        parts = source.split(".")
        if len(parts) == 1:
            parts = ["legacy", *parts]
        if len(parts) == 3 and parts[0] == SESSION_CATALOG:
            parts = parts[1:]
        if len(parts) != 2:
            raise InvalidIdentifier(f"invalid Hive table {source!r}: expected table or database.table")
        db, table = (validate_identifier(p, "table name part").lower() for p in parts)
        if target is None:
            ns, name = ("cs", table[3:]) if table.startswith("cs_") and len(table) > 3 else ("legacy", table)
            return cls(db, table, ns, name)
        tparts = target.split(".")
        if len(tparts) == 2:
            tparts = [TARGET_CATALOG, *tparts]
        if len(tparts) != 3:
            raise InvalidIdentifier(f"invalid target table {target!r}: expected namespace.table or lake.namespace.table")
        return cls(db, table, tparts[1], tparts[2], target_catalog=tparts[0])

    @property
    def backup_table(self) -> str:
        return self.source_table + BACKUP_SUFFIX

    @property
    def source(self) -> str:
        """Quoted `spark_catalog`.`db`.`table` (Hive tables are read through the session catalog)."""
        return qualified(SESSION_CATALOG, self.source_db, self.source_table)

    @property
    def backup(self) -> str:
        return qualified(SESSION_CATALOG, self.source_db, self.backup_table)

    @property
    def target(self) -> str:
        return qualified(self.target_catalog, self.target_namespace, self.target_table)

    @property
    def source_name(self) -> str:
        return f"{self.source_db}.{self.source_table}"

    @property
    def backup_name(self) -> str:
        return f"{self.source_db}.{self.backup_table}"

    @property
    def target_name(self) -> str:
        return f"{self.target_catalog}.{self.target_namespace}.{self.target_table}"
