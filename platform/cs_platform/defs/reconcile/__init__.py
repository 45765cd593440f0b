"""Reconciliation domain: consistency checks per landing hour, repair jobs and the repair sensor."""

import dagster as dg

from cs_platform.defs.reconcile.checks import consistency_checks
from cs_platform.defs.reconcile.jobs import backfill_job, reconcile_closed_hours, reconcile_job, reproject_job
from cs_platform.defs.reconcile.sensors import reconciliation_repair

defs = dg.Definitions(
    asset_checks=consistency_checks,
    jobs=[reconcile_job, backfill_job, reproject_job],
    sensors=[reconciliation_repair],
    schedules=[reconcile_closed_hours],
)
