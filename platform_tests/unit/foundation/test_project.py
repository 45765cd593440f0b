"""Project contracts: architecture (import-linter), Dagster definitions, dagster_cloud.yaml."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_logic_imports_no_dagster_or_store_clients():
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "logic/ knows nothing about Dagster or stores KEPT" in result.stdout


def test_no_platform_package_shadows_the_standard_library():
    assert not (ROOT / "platform" / "__init__.py").exists()
    import platform

    assert platform.python_version()  # still the standard library's module


def test_dagster_cloud_yaml_passes_dagster_clouds_validation():
    from dagster_cloud_cli.commands.ci.checks import check_dagster_cloud_yaml

    result = check_dagster_cloud_yaml(ROOT / "dagster_cloud.yaml")
    assert result.errors == []
    from dagster_cloud_cli.config.models import load_dagster_cloud_yaml

    parsed = load_dagster_cloud_yaml((ROOT / "dagster_cloud.yaml").read_text())
    assert [loc.code_source.module_name for loc in parsed.locations] == ["cs_platform.definitions"]


def test_definitions_validate(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    result = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-m", "cs_platform.definitions"],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "All code locations passed validation." in result.stdout + result.stderr


def test_definitions_wire_the_shared_resources():
    from cs_platform.definitions import defs

    from cs_platform.defs.resources import shared_resources

    assert set(defs.resources) == set(shared_resources()) == {
        "settings", "pyspark", "pyspark_hive", "iceberg", "documentdb", "emr_serverless"}


def test_local_dagster_instance_config_is_valid(tmp_path):
    (tmp_path / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text())
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    result = subprocess.run([str(BIN / "dagster"), "instance", "info"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "key: cs/stream" in result.stdout


def test_streamed_assets_carry_a_freshness_policy():
    import datetime as dt

    import dagster as dg

    from cs_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in (["lake", "cs", "events"], ["lake", "cs", "tickets"], ["lake", "cs", "events_quarantine"],
                ["documentdb", "cs", "tickets"]):
        policy = graph.get(dg.AssetKey(key)).freshness_policy
        assert (policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta()) == (
            dt.timedelta(hours=2), dt.timedelta(hours=1))
