"""Maintenance domain: the daily Iceberg maintenance job, table-operation jobs and health
observations of the lake assets (defined by the stream domain; observed here by key)."""

import dagster as dg

from cs_platform.defs.maintenance.jobs import lake_maintenance_job, lake_maintenance_schedule
from cs_platform.defs.maintenance.observations import lake_health_job, lake_health_sensor
from cs_platform.defs.maintenance.table_jobs import TABLE_JOBS

defs = dg.Definitions(
    jobs=[lake_maintenance_job, lake_health_job, *TABLE_JOBS],
    schedules=[lake_maintenance_schedule],
    sensors=[lake_health_sensor],
)
