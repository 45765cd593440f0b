"""Fixtures of the migration tests: a freshly seeded legacy Hive database and a lake namespace per test.

Hive databases are isolated by name (the shared session's embedded Derby metastore); lake targets
by namespace. Seed size: 3 days x 10 tickets = 121 history rows over 5 `dt` partitions, 8 agents.
"""

from __future__ import annotations

import pytest

HISTORY_ROWS = 121
HISTORY_PARTITIONS = {"2024-03-01": 32, "2024-03-02": 36, "2024-03-03": 41, "2024-03-04": 10, "2024-03-05": 2}
ROSTER_ROWS = 8


@pytest.fixture
def legacy_db(spark, settings, unique_name):
    from cs_platform.lakehouse.migration.legacy_seed import seed_legacy

    database = unique_name("legacy")
    seeded = seed_legacy(spark, settings, database=database, days=3, tickets_per_day=10)
    assert seeded == {"cs_ticket_history": {"created": True, "rows": HISTORY_ROWS},
                      "cs_agent_roster": {"created": True, "rows": ROSTER_ROWS}}
    return database


@pytest.fixture
def lake_ns(unique_name):
    return unique_name("mig")


@pytest.fixture
def history_migration(spark, settings, legacy_db, lake_ns):
    from cs_platform.lakehouse.migration import HiveMigration, MigrationNames

    names = MigrationNames.parse(f"{legacy_db}.cs_ticket_history", f"{lake_ns}.ticket_history")
    return HiveMigration(spark, settings, names)


@pytest.fixture
def roster_migration(spark, settings, legacy_db, lake_ns):
    from cs_platform.lakehouse.migration import HiveMigration, MigrationNames

    names = MigrationNames.parse(f"{legacy_db}.cs_agent_roster", f"{lake_ns}.agent_roster")
    return HiveMigration(spark, settings, names)
