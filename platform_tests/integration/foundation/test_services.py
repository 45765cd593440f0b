"""`csp services`: data survives down/up, status --json is usable by any tool, homes stay apart."""

import json
import os
import subprocess
import sys

import pymongo
import psycopg


def _csp(home, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSP_")}
    env["CSP_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-m", "cs_platform.cli", *args], capture_output=True, text=True, env=env,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_up_write_down_up_keeps_data_and_status_json(tmp_path):
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    try:
        first = json.loads(_csp(home_a, "services", "up", "--json"))
        again = json.loads(_csp(home_a, "services", "up", "--json"))
        assert again["catalog"]["pid"] == first["catalog"]["pid"]  # idempotent: nothing restarted
        assert again["documentdb"]["pid"] == first["documentdb"]["pid"]
        other = json.loads(_csp(home_b, "services", "up", "--json"))
        assert other["catalog"]["port"] != first["catalog"]["port"]
        assert other["documentdb"]["port"] != first["documentdb"]["port"]

        status = json.loads(_csp(home_a, "services", "status", "--json"))
        for key in ("landing_uri", "warehouse_uri", "checkpoint_uri", "catalog_uri", "documentdb_uri"):
            assert key in status
        assert status["landing_uri"] == (home_a / "landing").resolve().as_uri()
        sqlalchemy_url = status["catalog_uri"]
        assert sqlalchemy_url.startswith("postgresql+psycopg://")
        with psycopg.connect(sqlalchemy_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE marker (v text)")
            conn.execute("INSERT INTO marker VALUES ('kept')")
        with pymongo.MongoClient(status["documentdb_uri"]) as client:
            client.cs.tickets.insert_one({"_id": "T1", "status": "open"})

        down = json.loads(_csp(home_a, "services", "down", "--json"))
        assert down["catalog"]["running"] is False and down["documentdb"]["running"] is False
        still = json.loads(_csp(home_b, "services", "status", "--json"))
        assert still["catalog"]["running"] and still["documentdb"]["running"]  # down stops only its own home

        up = json.loads(_csp(home_a, "services", "up", "--json"))
        assert up["catalog"]["port"] == first["catalog"]["port"]  # remembered ports
        with psycopg.connect(up["catalog_uri"].replace("postgresql+psycopg", "postgresql")) as conn:
            assert conn.execute("SELECT v FROM marker").fetchall() == [("kept",)]
        with pymongo.MongoClient(up["documentdb_uri"]) as client:
            assert client.cs.tickets.find_one({"_id": "T1"}) == {"_id": "T1", "status": "open"}

        from pyiceberg.catalog.sql import SqlCatalog
        catalog = SqlCatalog("lake", uri=up["catalog_uri"], warehouse=up["warehouse_uri"])
        catalog.create_namespace("probe")
        assert ("probe",) in catalog.list_namespaces()
    finally:
        _csp(home_a, "services", "down")
        _csp(home_b, "services", "down")


def test_status_of_a_home_never_started(tmp_path):
    status = json.loads(_csp(tmp_path / "empty", "services", "status", "--json"))
    assert status["catalog"]["running"] is False and status["documentdb"]["running"] is False
    assert status["catalog_uri"] is None and status["documentdb_uri"] is None  # no port chosen yet
    assert status["landing_uri"] == (tmp_path / "empty" / "landing").resolve().as_uri()


def test_a_remembered_pid_or_port_that_is_not_this_homes_server_is_never_used_or_signalled(tmp_path):
    """After a reboot (or `down`), the pids and ports a home remembers may be anyone's: another
    home's server, or an unrelated process. Settings refuse them and `down` signals nothing."""
    home = tmp_path / "h"
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (home / "services").mkdir(parents=True)
        (home / "services" / "state.json").write_text(json.dumps({
            "catalog": {"pid": stranger.pid, "port": 5999}, "documentdb": {"pid": stranger.pid, "port": 6999}}))
        (home / "services" / "postgres").mkdir()
        (home / "services" / "postgres" / "postmaster.pid").write_text(f"{stranger.pid}\n")
        status = json.loads(_csp(home, "services", "status", "--json"))
        assert (status["catalog"]["running"], status["catalog"]["pid"]) == (False, None)
        assert (status["documentdb"]["running"], status["documentdb"]["pid"]) == (False, None)
        # the URIs a stopped home had stay visible; operations refuse them
        assert status["catalog_uri"] == "postgresql+psycopg://postgres@127.0.0.1:5999/iceberg"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSP_")}
        result = subprocess.run([sys.executable, "-m", "cs_platform.cli", "table", "history", "cs.events"],
                                capture_output=True, text=True, env={**env, "CSP_HOME": str(home)}, timeout=120)
        assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
            2, f"error: local catalog is not running for CSP_HOME={home.resolve()}: run `csp services up` "
               "(or set CSP_CATALOG_URI)")
        _csp(home, "services", "down")
        assert stranger.poll() is None  # not ours: never signalled
    finally:
        stranger.kill()
        stranger.wait()
