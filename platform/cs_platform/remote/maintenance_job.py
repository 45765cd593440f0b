"""EMR Serverless entry point of one step of the `lake_maintenance_job` on one table: the same
``Maintainer.run_step`` as the local step op, where the table's data is rewritten at scale. Its
``StepResult`` (status, outcome, health before and after) goes back to Dagster as one Pipes custom
message, from which the op reports the same observation and metadata as a local run."""

from __future__ import annotations

import argparse
import json

STEP_RESULT = "maintenance.step"  # key of the custom message carrying the step's result


def maintenance_job_arguments(target: dict, step: str) -> list[str]:
    """The step op's target (a ``MaintenanceTarget`` as a dict) and step as this entry point's arguments."""
    return ["--target", json.dumps(target, sort_keys=True, separators=(",", ":")), "--step", step]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from cs_platform.lakehouse.maintenance import STEPS

    parser = argparse.ArgumentParser(prog="maintenance_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, type=json.loads, help="MaintenanceTarget as JSON")
    parser.add_argument("--step", required=True, choices=STEPS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from dagster_pipes import open_dagster_pipes

    from cs_platform.adapters.catalog import pyiceberg_catalog
    from cs_platform.adapters.spark import build_spark_session
    from cs_platform.lakehouse.maintenance import MaintenanceError, MaintenanceTarget
    from cs_platform.settings import load_settings

    args = parse_args(argv)
    with open_dagster_pipes() as pipes:
        settings = load_settings()
        target = MaintenanceTarget(**args.target)
        spark = build_spark_session(settings, app_name=f"csp-maintain-{args.step}")
        try:
            result = target.maintainer(spark, pyiceberg_catalog(settings)).run_step(args.step)
        except MaintenanceError as exc:  # the op fails with this message, not EMR's "job run failed"
            pipes.report_custom_message({STEP_RESULT: {"error": str(exc)}})
            pipes.log.error(str(exc))
            return
        pipes.report_custom_message({STEP_RESULT: result.as_dict()})
        pipes.log.info(f"{args.step} on {target.table}: {result.status} {result.reason}".rstrip())


if __name__ == "__main__":
    main()
