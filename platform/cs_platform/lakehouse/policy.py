"""Typed maintenance policy per Iceberg table, with defaults fit for streaming tables.

Streaming writers leave many small files and one snapshot per micro-batch: the defaults compact
early (2 input files) and keep a short snapshot history. Orphan removal never looks at files
younger than 3 days, because a writer's in-flight files are orphans until its commit lands.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cs_platform.adapters.identifiers import validate_identifier

MIN_ORPHAN_AGE_DAYS = 3
MIB = 1024 * 1024


class PolicyError(ValueError):
    """A maintenance policy value is unsafe or inconsistent; the message names the field."""


class MaintenancePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Literal["binpack", "sort"] = "binpack"
    sort_order: tuple[str, ...] = ()
    time_column: str | None = "landing_hour"  # compaction skips files with rows of the current hour
    target_file_size_bytes: int = Field(default=128 * MIB, ge=MIB)
    min_input_files: int = Field(default=2, ge=2)
    snapshot_max_age_hours: int = Field(default=72, ge=1)
    retain_last_snapshots: int = Field(default=20, ge=1)
    manifest_min_count: int = Field(default=20, ge=1)  # rewrite_manifests pays above this many
    manifest_target_size_bytes: int = Field(default=8 * MIB, ge=MIB)
    orphan_age_days: float = Field(default=MIN_ORPHAN_AGE_DAYS)
    commit_retries: int = Field(default=10, ge=0)
    commit_min_wait_ms: int = Field(default=100, ge=0)
    commit_max_wait_ms: int = Field(default=60_000, ge=0)

    @field_validator("orphan_age_days")
    @classmethod
    def _orphan_age(cls, value: float) -> float:
        if not math.isfinite(value):  # NaN would pass the comparison below, then fail mid-run
            raise PolicyError(f"orphan_age_days must be a finite number of days, got {value}")
        if value < MIN_ORPHAN_AGE_DAYS:
            raise PolicyError(
                f"orphan_age_days={value} is below the minimum of {MIN_ORPHAN_AGE_DAYS} days: younger files may belong "
                "to a commit in flight and deleting them would corrupt the table"
            )
        return value

    @field_validator("sort_order")
    @classmethod
    def _sort_columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_identifier(c, "sort column") for c in value)

    @field_validator("time_column")
    @classmethod
    def _time_column(cls, value: str | None) -> str | None:
        return None if value is None else validate_identifier(value, "time column")

    @model_validator(mode="after")
    def _sort_needs_columns(self) -> "MaintenancePolicy":
        if self.strategy == "sort" and not self.sort_order:
            raise PolicyError("strategy='sort' needs at least one column in sort_order")
        return self

    @property
    def small_file_bytes(self) -> int:
        """Files under 75% of the target are worth rewriting (Iceberg's own binpack threshold)."""
        return int(self.target_file_size_bytes * 0.75)

    def snapshot_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(hours=self.snapshot_max_age_hours)

    def orphan_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.orphan_age_days)

    def table_properties(self) -> dict[str, str]:
        """Commit retries, so maintenance and the stream retry each other's conflicts instead of failing."""
        return {
            "commit.retry.num-retries": str(self.commit_retries),
            "commit.retry.min-wait-ms": str(self.commit_min_wait_ms),
            "commit.retry.max-wait-ms": str(self.commit_max_wait_ms),
            "commit.manifest.target-size-bytes": str(self.manifest_target_size_bytes),
        }


APPEND_HEAVY = MaintenancePolicy()
MERGE_HEAVY = MaintenancePolicy(strategy="sort", sort_order=("ticket_id",), time_column="updated_at")

# Migrated from Hive: history rows, compacted by the day of the change they record.
HISTORY = MaintenancePolicy(time_column="changed_at")

DEFAULT_POLICIES: dict[str, MaintenancePolicy] = {
    "events": APPEND_HEAVY,
    "events_quarantine": APPEND_HEAVY,
    "tickets": MERGE_HEAVY,
    "ticket_history": HISTORY,
}

KNOWN_TABLES = ("cs.events", "cs.tickets", "cs.events_quarantine", "cs.ticket_history")


def policy_for(table: str, overrides: dict | None = None) -> MaintenancePolicy:
    """The default policy of a table (by its last name part), with optional field overrides."""
    base = DEFAULT_POLICIES.get(table.split(".")[-1].strip("`"), APPEND_HEAVY)
    if not overrides:
        return base
    try:
        return MaintenancePolicy(**{**base.model_dump(), **overrides})
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise PolicyError(f"invalid maintenance policy for {table}: {problems}") from None


def _describe(error: dict) -> str:
    message = error["msg"].removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"])
    return message if not field or message.startswith(field) else f"{field}: {message}"
