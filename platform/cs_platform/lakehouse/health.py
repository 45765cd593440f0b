"""Health probe of an Iceberg table from its metadata alone (PyIceberg, no JVM).

The probe decides which maintenance step pays: compaction only where some partition holds at
least ``min_input_files`` small files with rows older than the current hour (the stream is
still writing the current hour), delete-file rewrite only when delete files exist, snapshot
expiry only when snapshots are old or many, manifest rewrite only above a manifest count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from cs_platform.lakehouse.policy import MaintenancePolicy
from cs_platform.lakehouse.table_ops import TableRef


@dataclass(frozen=True)
class TableHealth:
    table: str
    snapshot_id: int | None
    data_files: int
    small_files: int
    compactable_small_files: int  # small files with rows older than the current hour
    compactable_partitions: int
    delete_files: int
    records: int
    data_bytes: int
    delete_bytes: int
    snapshots: int
    manifests: int
    oldest_snapshot_age_hours: float | None
    max_files_per_partition: int
    pays: dict[str, bool] = field(default_factory=dict)

    def metadata(self) -> dict:
        """Flat numbers for Dagster metadata and CLI output."""
        values = asdict(self)
        pays = values.pop("pays")
        values.update({f"pays_{step}": flag for step, flag in pays.items()})
        return values


def current_hour(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _before(bound, cutoff: datetime) -> bool:
    if bound is None:
        return True  # no stats: let Iceberg's own filter decide
    if isinstance(bound, datetime):
        bound = bound if bound.tzinfo else bound.replace(tzinfo=timezone.utc)
        return bound < cutoff
    return True


def probe(catalog, ref: TableRef, policy: MaintenancePolicy, now: datetime | None = None) -> TableHealth:
    """Count files, small files, deletes, snapshots and manifests of the table's current state."""
    now = now or datetime.now(timezone.utc)
    table = catalog.load_table(ref.identifier)
    snapshot = table.current_snapshot()
    snapshot_times = [s.timestamp_ms for s in table.metadata.snapshots]
    oldest_age = (now.timestamp() * 1000 - min(snapshot_times)) / 3_600_000 if snapshot_times else None
    if snapshot is None:
        return TableHealth(str(ref), None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, oldest_age, 0,
                           pays=_pays(policy, 0, 0, len(snapshot_times), oldest_age, 0))

    time_column = policy.time_column if policy.time_column in {f.name for f in table.schema().fields} else None
    cutoff = current_hour(now)
    data = table.inspect.data_files().to_pylist()
    deletes = table.inspect.delete_files().to_pylist()
    manifests = len(snapshot.manifests(table.io))

    per_partition: Counter = Counter()
    compactable: Counter = Counter()
    small = 0
    for entry in data:
        partition = repr(sorted((entry.get("partition") or {}).items()))
        per_partition[partition] += 1
        if entry["file_size_in_bytes"] < policy.small_file_bytes:
            small += 1
            metrics = (entry.get("readable_metrics") or {}).get(time_column) if time_column else None
            if time_column is None or _before((metrics or {}).get("lower_bound"), cutoff):
                compactable[partition] += 1
    worth = {p: n for p, n in compactable.items() if n >= policy.min_input_files}
    return TableHealth(
        table=str(ref),
        snapshot_id=snapshot.snapshot_id,
        data_files=len(data),
        small_files=small,
        compactable_small_files=sum(worth.values()),
        compactable_partitions=len(worth),
        delete_files=len(deletes),
        records=sum(e["record_count"] for e in data),
        data_bytes=sum(e["file_size_in_bytes"] for e in data),
        delete_bytes=sum(e["file_size_in_bytes"] for e in deletes),
        snapshots=len(snapshot_times),
        manifests=manifests,
        oldest_snapshot_age_hours=None if oldest_age is None else round(oldest_age, 3),
        max_files_per_partition=max(per_partition.values(), default=0),
        pays=_pays(policy, len(worth), len(deletes), len(snapshot_times), oldest_age, manifests),
    )


def _pays(policy: MaintenancePolicy, partitions: int, deletes: int, snapshots: int, oldest_age: float | None,
          manifests: int) -> dict[str, bool]:
    return {
        "rewrite_data_files": partitions > 0,
        "rewrite_position_delete_files": deletes > 0,
        "expire_snapshots": snapshots > policy.retain_last_snapshots
        or (snapshots > 1 and oldest_age is not None and oldest_age > policy.snapshot_max_age_hours),
        "rewrite_manifests": manifests >= policy.manifest_min_count,
        "remove_orphan_files": True,  # orphans are invisible to metadata: always list them
    }
