"""`csp legacy seed`: the legacy Hive tables the migration starts from, in the Hive metastore.

- `cs_ticket_history`: EXTERNAL, Parquet, partitioned by `dt` (the common legacy layout);
- `cs_agent_roster`: EXTERNAL, comma-delimited text (an HR export), which Iceberg cannot adopt.
Files live under `CSP_HOME/legacy/<database>/<table>`. Seeding is idempotent: an existing table
(or its migration backup) is left alone.
"""

from __future__ import annotations

from cs_platform.adapters.identifiers import qualified, validate_identifier
from cs_platform.lakehouse.migration.names import BACKUP_SUFFIX, SESSION_CATALOG
from cs_platform.lakehouse.migration.sql import ddl_type
from cs_platform.logic.legacy_fixture import (
    AGENT_ROSTER_SCHEMA,
    TICKET_HISTORY_SCHEMA,
    agent_roster_rows,
    ticket_history_rows,
)
from cs_platform.settings import Settings

TICKET_HISTORY = "cs_ticket_history"
AGENT_ROSTER = "cs_agent_roster"
LEGACY_TABLES = (TICKET_HISTORY, AGENT_ROSTER)


def _columns_ddl(schema, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"`{validate_identifier(f.name)}` {ddl_type(f.dataType)}" for f in schema if f.name not in skip)


def _exists(spark, database: str, table: str) -> bool:
    return spark.catalog.tableExists(f"{database}.{table}") or spark.catalog.tableExists(f"{database}.{table}{BACKUP_SUFFIX}")


def seed_legacy(spark, settings: Settings, database: str = "legacy", days: int = 5, tickets_per_day: int = 20,
                agents: int = 8) -> dict[str, dict]:
    """Create and fill the legacy tables that do not exist yet; returns {table: {created, rows}}."""
    validate_identifier(database, "database")
    root = settings.home_dir / "legacy" / database
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {qualified(SESSION_CATALOG, database)}")
    result = {}

    history = ticket_history_rows(days=days, tickets_per_day=tickets_per_day, agents=agents)
    if _exists(spark, database, TICKET_HISTORY):
        result[TICKET_HISTORY] = {"created": False, "rows": None}
    else:
        table = qualified(SESSION_CATALOG, database, TICKET_HISTORY)
        spark.sql(
            f"CREATE EXTERNAL TABLE {table} ({_columns_ddl(TICKET_HISTORY_SCHEMA, skip=('dt',))}) "
            f"PARTITIONED BY (dt string) STORED AS PARQUET LOCATION '{(root / TICKET_HISTORY).as_uri()}'"
        )
        df = spark.createDataFrame(history, TICKET_HISTORY_SCHEMA)
        df.createOrReplaceTempView("_legacy_ticket_history_seed")
        columns = ", ".join(f"`{f.name}`" for f in TICKET_HISTORY_SCHEMA if f.name != "dt")
        for dt in sorted({row[-1] for row in history}):  # static partitions: no dynamic-partition settings needed
            spark.sql(f"INSERT OVERWRITE TABLE {table} PARTITION (dt='{dt}') "
                      f"SELECT {columns} FROM _legacy_ticket_history_seed WHERE dt = '{dt}'")
        spark.catalog.dropTempView("_legacy_ticket_history_seed")
        result[TICKET_HISTORY] = {"created": True, "rows": len(history)}

    roster = agent_roster_rows(agents=agents)
    if _exists(spark, database, AGENT_ROSTER):
        result[AGENT_ROSTER] = {"created": False, "rows": None}
    else:
        table = qualified(SESSION_CATALOG, database, AGENT_ROSTER)
        spark.sql(
            f"CREATE EXTERNAL TABLE {table} ({_columns_ddl(AGENT_ROSTER_SCHEMA)}) "
            "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE "
            f"LOCATION '{(root / AGENT_ROSTER).as_uri()}'"
        )
        spark.createDataFrame(roster, AGENT_ROSTER_SCHEMA).createOrReplaceTempView("_legacy_agent_roster_seed")
        spark.sql(f"INSERT OVERWRITE TABLE {table} SELECT * FROM _legacy_agent_roster_seed")
        spark.catalog.dropTempView("_legacy_agent_roster_seed")
        result[AGENT_ROSTER] = {"created": True, "rows": len(roster)}
    return result
