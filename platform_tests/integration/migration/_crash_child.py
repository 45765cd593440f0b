"""Child process of the kill -9 test: seeds and/or runs a migration, optionally SIGKILLing itself
right after a step's action and before the step is recorded (the worst moment for a crash).

Usage: python _crash_child.py DATABASE TARGET [--seed] [--crash-after STEP]
"""

from __future__ import annotations

import argparse
import json
import os
import signal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("target")
    parser.add_argument("--seed", action="store_true")
    parser.add_argument("--crash-after", default=None)
    args = parser.parse_args()

    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.migration import HiveMigration, MigrationNames
    from cs_platform.lakehouse.migration.legacy_seed import seed_legacy
    from cs_platform.settings import load_settings

    settings = load_settings()
    spark = build_spark_session(settings, app_name="migration-crash-child", hive=True)
    if args.seed:
        seed_legacy(spark, settings, database=args.database, days=3, tickets_per_day=10)

    def crash(step: str) -> None:
        if step == args.crash_after:
            print(f"killing myself after the action of {step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    names = MigrationNames.parse(f"{args.database}.cs_ticket_history", args.target)
    result = HiveMigration(spark, settings, names, after_action=crash).run()
    print(json.dumps({"executed": result.executed}), flush=True)


if __name__ == "__main__":
    main()
