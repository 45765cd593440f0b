"""Reconciliation domain: consistency checks per landing hour, the sensor that runs them once an
hour has closed and been streamed, repair jobs and the repair sensor."""

import dagster as dg

from cs_platform.defs.reconcile.checks import consistency_checks
from cs_platform.defs.reconcile.jobs import backfill_job, reconcile_job, reproject_job
from cs_platform.defs.reconcile.sensors import (
    reconcile_closed_hours, reconciliation_repair, reconciliation_run_failures,
)

defs = dg.Definitions(
    asset_checks=consistency_checks,
    jobs=[reconcile_job, backfill_job, reproject_job],
    sensors=[reconcile_closed_hours, reconciliation_repair, reconciliation_run_failures],
)
