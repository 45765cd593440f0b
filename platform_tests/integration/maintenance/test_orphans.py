"""Orphan removal deletes a planted old orphan, keeps a young one, and never touches a live file."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cs_platform.lakehouse.maintenance import Maintainer
from cs_platform.lakehouse.policy import MaintenancePolicy, policy_for
from cs_platform.lakehouse.table_ops import TableRef
from platform_tests.integration.maintenance.conftest import table_rows

DAY = 86_400


def _age(path: Path, days: float) -> None:
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment))


def test_remove_orphans_deletes_old_orphan_keeps_young_and_live(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.orders")
    spark.sql(f"CREATE TABLE {ref.sql} (id BIGINT, item STRING) USING iceberg")
    for batch in ([(1, "a"), (2, "b")], [(3, "c")], [(4, "d")]):
        spark.createDataFrame(batch, "id BIGINT, item STRING").writeTo(ref.sql).append()
    location = Path(urlsplit(iceberg_catalog.load_table(ref.identifier).location()).path)
    live = sorted(p for p in location.rglob("*") if p.is_file())
    data_files = iceberg_catalog.load_table(ref.identifier).inspect.data_files()["file_path"].to_pylist()
    assert sorted(urlsplit(f).path for f in data_files) == sorted(str(p) for p in live if p.suffix == ".parquet")
    for path in live:  # live files older than any threshold must still be kept
        _age(path, 30)
    old_orphan = location / "data" / "00000-0-orphan-old.parquet"
    young_orphan = location / "data" / "00000-0-orphan-young.parquet"
    for orphan, days in ((old_orphan, 10), (young_orphan, 1)):
        orphan.write_bytes(b"not referenced by any snapshot")
        _age(orphan, days)

    maintainer = Maintainer(spark, iceberg_catalog, ref, policy_for(str(ref)))
    assert [urlsplit(f).path for f in maintainer.list_orphans()] == [str(old_orphan)]
    assert old_orphan.exists()  # listing is a dry run

    result = maintainer.remove_orphan_files()

    assert result.status == "done"
    assert result.outcome["orphans_listed"] == 1
    assert result.outcome["orphans_deleted"] == 1
    assert [urlsplit(f).path for f in result.outcome["orphan_files"]] == [str(old_orphan)]
    assert not old_orphan.exists()
    assert young_orphan.exists()
    assert [p for p in live if not p.exists()] == []
    assert table_rows(spark, ref) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_dry_run_lists_orphans_and_deletes_nothing(spark, iceberg_catalog, namespace):
    ref = TableRef.parse(f"{namespace}.orders")
    spark.sql(f"CREATE TABLE {ref.sql} (id BIGINT) USING iceberg")
    spark.sql(f"INSERT INTO {ref.sql} VALUES (1)")
    location = Path(urlsplit(iceberg_catalog.load_table(ref.identifier).location()).path)
    orphan = location / "data" / "stray.parquet"
    orphan.write_bytes(b"stray")
    _age(orphan, 10)

    result = Maintainer(spark, iceberg_catalog, ref, policy_for(str(ref)), dry_run=True).remove_orphan_files()

    assert result.status == "dry_run"
    assert result.outcome["orphans_listed"] == 1
    assert result.outcome["orphans_deleted"] == 0
    assert orphan.exists()


def test_orphan_age_below_three_days_is_rejected():
    with pytest.raises(ValueError, match="orphan_age_days=2.5 is below the minimum of 3 days: younger files may belong "
                                         "to a commit in flight and deleting them would corrupt the table"):
        MaintenancePolicy(orphan_age_days=2.5)
    assert MaintenancePolicy(orphan_age_days=3).orphan_cutoff(datetime(2026, 11, 27, tzinfo=timezone.utc)) == \
        datetime(2026, 11, 24, tzinfo=timezone.utc)
