"""kill -9 between a step's action and its record, twice, then resume with the real CLI.

Derby admits one JVM, and the test session holds the metastore under the shared CSP_HOME. So the
children get their own CSP_HOME (their own Derby metastore, Hive files and state file) but the same
`lake` catalog and warehouse (CSP_CATALOG_URI, CSP_WAREHOUSE_URI), and every step touching Hive —
seed, crashes, resume — runs in a child. The parent checks the Iceberg side through the shared catalog.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import HISTORY_PARTITIONS, HISTORY_ROWS

CHILD = Path(__file__).with_name("_crash_child.py")


@pytest.fixture
def child_env(settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSP_")}
    env.update({"CSP_HOME": str(tmp_path / "child_home"), "CSP_CATALOG_URI": settings.catalog,
                "CSP_WAREHOUSE_URI": settings.warehouse, "CSP_SPARK_DRIVER_MEMORY": "1g",
                "CSP_SPARK_SHUFFLE_PARTITIONS": "2"})
    return env


def state_steps(env, database: str) -> list[str]:
    """The steps recorded in the lake (`<warehouse>/_migrations/`), not under the child's CSP_HOME."""
    path = Path(urlsplit(env["CSP_WAREHOUSE_URI"]).path) / "_migrations" / f"{database}.cs_ticket_history.json"
    return sorted(json.loads(path.read_text())["steps"]) if path.exists() else []


def run_child(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHILD), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_kill_9_between_steps_then_resume(spark, child_env, unique_name):
    database, namespace = unique_name("legacy"), unique_name("mig")
    target = f"{namespace}.ticket_history"

    first = run_child(child_env, database, target, "--seed", "--crash-after", "copy")
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    assert "killing myself after the action of copy" in first.stdout
    assert state_steps(child_env, database) == ["preflight"]  # the copy happened but was never recorded
    assert spark.table(f"lake.{target}").count() == HISTORY_ROWS

    second = run_child(child_env, database, target, "--crash-after", "cutover")
    assert second.returncode == -signal.SIGKILL, second.stderr[-3000:]
    assert state_steps(child_env, database) == ["copy", "preflight", "verify"]

    resumed = subprocess.run([str(Path(sys.executable).with_name("csp")), "migrate-hive", "run",
                              f"{database}.cs_ticket_history", "--target", target, "--json"],
                             env=child_env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["executed"] == ["cutover"]
    assert state_steps(child_env, database) == ["copy", "cutover", "preflight", "verify"]

    # The redone copy replaced the crashed one: no duplicated files or rows.
    spark.sql(f"REFRESH TABLE lake.{target}")
    counts = {r["dt"]: r["n"] for r in spark.sql(f"SELECT dt, count(*) AS n FROM lake.{target} GROUP BY dt").collect()}
    assert counts == HISTORY_PARTITIONS
    paths = [r["file_path"] for r in spark.sql(f"SELECT file_path FROM lake.{target}.files").collect()]
    assert len(paths) == len(set(paths))
    assert all(p.startswith(Path(child_env["CSP_HOME"]).as_uri().replace("file://", "file:")) for p in paths)
