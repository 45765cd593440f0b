"""Partitions shared by every domain: hourly, by Firehose arrival (landing) hour, UTC."""

import dagster as dg

LANDING_HOURS_START = "2026-01-01-00:00"

landing_hours = dg.HourlyPartitionsDefinition(start_date=LANDING_HOURS_START, timezone="UTC")


def partition_key_of(hour) -> str:
    """Dagster partition key of a landing hour (a datetime at the start of the hour, UTC)."""
    return hour.strftime("%Y-%m-%d-%H:%M")
