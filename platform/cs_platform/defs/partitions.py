"""Partitions shared by every domain: hourly, by Firehose arrival (landing) hour, UTC, from
CSP_LANDING_HOURS_START (read when the code location loads: a bad value fails the load, naming it)."""

import dagster as dg

from cs_platform.settings import load_settings

landing_hours = dg.HourlyPartitionsDefinition(start_date=f"{load_settings().landing_hours_start}-00:00",
                                              timezone="UTC")


def partition_key_of(hour) -> str:
    """Dagster partition key of a landing hour (a datetime at the start of the hour, UTC)."""
    return hour.strftime("%Y-%m-%d-%H:%M")
