"""EMR Serverless entry point of one action of a Hive migration job (a step, the plan, or the
rollback): the same ``HiveMigration.act`` as the local op, next to the legacy tables' metastore
(``CSP_HIVE_METASTORE_URI``, e.g. the Glue Data Catalog). Its outcome goes back to Dagster as one
Pipes custom message; a migration error (a failed verification, a name already taken) goes back
as ``{"error": message}``, so the op fails with the migration's own words."""

from __future__ import annotations

import argparse

OUTCOME = "migration.outcome"  # key of the custom message carrying the action's outcome


def migration_job_arguments(source: str, target: str, action: str) -> list[str]:
    return ["--source", source, "--target", target, "--action", action]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from cs_platform.lakehouse.migration.state import ACTIONS

    parser = argparse.ArgumentParser(prog="migration_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="Hive table, database.table")
    parser.add_argument("--target", required=True, help="lake table, lake.namespace.table")
    parser.add_argument("--action", required=True, choices=ACTIONS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.migration import HiveMigration, MigrationError, MigrationNames
    from cs_platform.settings import load_settings

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings()
        names = MigrationNames.parse(args.source, args.target)
        spark = build_spark_session(settings, app_name=f"csp-migrate-{args.action}", hive=True)
        try:
            outcome = HiveMigration(spark, settings, names).act(args.action)
        except MigrationError as exc:
            outcome = {"error": str(exc)}
        pipes.report_custom_message({OUTCOME: outcome})
        pipes.log.info(f"{args.action} of {names.source_name} -> {names.target_name} done")


if __name__ == "__main__":
    main()
