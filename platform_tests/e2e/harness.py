"""End-to-end harness: simulated Firehose objects in two arrivals, `csp stream --once` as a real
subprocess (its own Spark JVM), a pure-Python reference fold, and exact lake/DocumentDB snapshots."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cs_platform.logic.firehose import UTC
from cs_platform.logic.simulator import SimulationConfig, simulate

CSP = str(Path(sys.executable).parent / "csp")
SPLIT_HOUR = "2026/11/26/03"  # objects of earlier hours arrive first, the rest (late, re-deliveries) second
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def sample(seed: int = 11, events: int = 400):
    """A small simulation with re-deliveries across hours, late arrivals and malformed lines."""
    return simulate(SimulationConfig(events=events, hours=4, start=dt.datetime(2026, 11, 26, tzinfo=UTC), seed=seed,
                                     redelivery_rate=0.1, late_rate=0.1, malformed_rate=0.03))


def arrivals(sim) -> tuple[list, list]:
    objects = list(sim.objects())
    first = [o for o in objects if o.key < SPLIT_HOUR]
    return first, [o for o in objects if o.key >= SPLIT_HOUR]


_next_mtime = [0.0]


def deliver(landing: Path, objects) -> None:
    """Land the objects atomically, each with its own modification time, increasing in delivery
    order. The file source batches files by modification time; files written within the same
    millisecond would be ordered by directory listing, which differs between two landing dirs, so
    two runs could cut different batches (and keep different deliveries of a re-delivered event)."""
    for obj in objects:
        path = landing / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(obj.data)
        _next_mtime[0] = max(_next_mtime[0] + 0.01, time.time())
        os.utime(tmp, (_next_mtime[0], _next_mtime[0]))
        tmp.rename(path)


def micros(iso: str | None) -> int | None:
    if iso is None:
        return None
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


@dataclass
class Env:
    """One isolated pipeline: namespace, database, landing, checkpoint."""

    root: Path
    namespace: str = field(default_factory=lambda: f"e2e_{uuid.uuid4().hex[:10]}")
    database: str = field(default_factory=lambda: f"e2e_{uuid.uuid4().hex[:10]}")
    documentdb_uri: str | None = None

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def stream_once(self, fault: str | None = None, fault_batch: int | None = None, chunk_size: int = 1000,
                    max_files: int = 8, timeout: int = 600) -> subprocess.CompletedProcess:
        """`csp stream --once` in its own process group; the group is killed after it ends, so no
        orphaned JVM survives a kill -9 of the Python driver."""
        env = {**os.environ, "CSP_SPARK_DRIVER_MEMORY": "1g", "CSP_SPARK_SHUFFLE_PARTITIONS": "4"}
        env.pop("CSP_FAULT_POINT", None)
        env.pop("CSP_FAULT_BATCH", None)
        if fault:
            env["CSP_FAULT_POINT"] = fault
            if fault_batch is not None:
                env["CSP_FAULT_BATCH"] = str(fault_batch)
        if self.documentdb_uri:
            env["CSP_DOCUMENTDB_URI"] = self.documentdb_uri
        args = [CSP, "stream", "--once", "--json", "--namespace", self.namespace, "--database", self.database,
                "--landing-uri", self.landing.as_uri(), "--checkpoint-uri", self.checkpoints.as_uri(),
                "--max-files-per-trigger", str(max_files), "--documentdb-chunk-size", str(chunk_size)]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return subprocess.CompletedProcess(args, proc.returncode, out, err)


# ---- pure-Python reference --------------------------------------------------------------------


def reference_fold(events: list[dict]) -> dict[str, dict]:
    """DESIGN 3.2, written independently of the Spark fold: ticket_id -> state (timestamps in micros)."""
    by_ticket: dict[str, list[dict]] = defaultdict(list)
    for e in {e["event_id"]: e for e in events}.values():
        by_ticket[e["ticket_id"]].append(e)
    states = {}
    for ticket, evs in by_ticket.items():
        def latest(pred):
            chosen = [e for e in evs if pred(e)]
            return max(chosen, key=lambda e: (e["seq"], e["event_id"])) if chosen else None

        creates = [e for e in evs if e["event_type"] == "ticket_created"]
        created = min(creates, key=lambda e: (e["seq"], [-ord(c) for c in e["event_id"]])) if creates else None
        status_ev = latest(lambda e: e["event_type"] == "status_changed")
        status = status_ev["status"] if status_ev else "open"
        prio_candidates = [e for e in evs if e["event_type"] == "priority_changed"] + ([created] if created else [])
        prio_ev = max(prio_candidates, key=lambda e: (e["seq"], e["event_id"])) if prio_candidates else None
        agent = latest(lambda e: e["event_type"] == "agent_assigned")
        csat = latest(lambda e: e["event_type"] == "csat_submitted")
        solved = latest(lambda e: e["event_type"] == "status_changed" and e["status"] == "solved")
        agent_msgs = [micros(e["occurred_at"]) for e in evs if e["event_type"] == "message_added" and e["author"] == "agent"]
        last = max(evs, key=lambda e: (e["seq"], e["event_id"]))
        states[ticket] = {
            "ticket_id": ticket,
            "customer_id": created["customer_id"] if created else None,
            "channel": created["channel"] if created else None,
            "created_at": micros(created["occurred_at"]) if created else None,
            "status": status,
            "priority": (prio_ev["priority"] or "normal") if prio_ev else "normal",
            "agent_id": agent["agent_id"] if agent else None,
            "csat_score": csat["csat_score"] if csat else None,
            "message_count": sum(1 for e in evs if e["event_type"] == "message_added"),
            "first_response_at": min(agent_msgs) if agent_msgs else None,
            "resolved_at": micros(solved["occurred_at"]) if solved and status in ("solved", "closed") else None,
            "last_seq": last["seq"],
            "updated_at": micros(last["occurred_at"]),
            "event_count": len(evs),
        }
    return states


def expected_documents(states: dict[str, dict]) -> dict[str, dict]:
    docs = {}
    for ticket, s in states.items():
        docs[ticket] = {
            "_id": ticket, **{k: s[k] for k in ("status", "priority", "agent_id", "customer_id", "channel",
                                                  "message_count", "last_seq", "event_count")},
            "updated_at_ms": s["updated_at"] // 1000,
        }
    return docs


# ---- what the pipeline produced ---------------------------------------------------------------

TS_COLUMNS = {"occurred_at", "landing_hour", "created_at", "first_response_at", "resolved_at", "updated_at"}


def read_table(spark, table: str, key: str, drop=("ingested_at",)) -> dict:
    """key -> row dict, timestamps as epoch micros (no timezone ambiguity)."""
    from pyspark.sql import functions as F

    spark.sql(f"REFRESH TABLE {table}")
    df = spark.table(table)
    cols = [F.unix_micros(c).alias(c) if c in TS_COLUMNS else F.col(c) for c in df.columns if c not in drop]
    rows = [r.asDict() for r in df.select(*cols).collect()]
    keyed = {tuple(r[k] for k in key.split(",")) if "," in key else r[key]: r for r in rows}
    assert len(keyed) == len(rows), f"duplicate {key} in {table}"
    return keyed


def read_documents(client, database: str) -> dict[str, dict]:
    docs = {}
    for d in client[database]["tickets"].find():
        updated = d.pop("updated_at")
        d["updated_at_ms"] = int((updated.replace(tzinfo=UTC) - EPOCH) / dt.timedelta(milliseconds=1))
        docs[d["_id"]] = d
    return docs


def snapshot(spark, client, env: Env) -> dict:
    from cs_platform.adapters.lake_tables import LakeTables

    tables = LakeTables(namespace=env.namespace)
    landing_prefix = env.landing.as_uri()

    def relative(rows):  # compare runs on different landing roots by key under the root
        for r in rows.values():
            r["source_file"] = r["source_file"].replace("file:///", "file:/").replace(
                landing_prefix.replace("file:///", "file:/"), "")
        return rows

    events = relative(read_table(spark, tables.events, "event_id"))
    quarantine = relative(read_table(spark, tables.events_quarantine, "source_file,line_number"))
    quarantine = {(r["source_file"], r["line_number"]): r for r in quarantine.values()}
    return {
        "events": events, "quarantine": quarantine,
        "tickets": read_table(spark, tables.tickets, "ticket_id"),
        "documents": read_documents(client, env.database),
    }


def assert_matches_reference(snap: dict, sim, objects) -> None:
    """Lake tables and documents equal what the delivered objects imply, field by field."""
    delivered = {eid for o in objects for eid in _planned(sim)[o.key].event_ids}
    events = [e for e in sim.events if e["event_id"] in delivered]
    assert set(snap["events"]) == delivered
    for e in events:
        row = snap["events"][e["event_id"]]
        for name in ("event_type", "ticket_id", "seq", "customer_id", "channel", "priority", "agent_id", "author",
                     "status", "csat_score"):
            assert row[name] == e[name], (e["event_id"], name, row[name], e[name])
        assert row["occurred_at"] == micros(e["occurred_at"])
        assert row["landing_hour"] is not None

    keys = {o.key for o in objects}
    expected_q = {(m["key"], m["line_number"]): m["reason"] for m in sim.manifest(include_events=False)["malformed"]
                  if m["key"] in keys}
    got_q = {("/".join(sf.split("/")[-5:]), ln): r["reason"]
             for (sf, ln), r in snap["quarantine"].items()}
    assert got_q == expected_q

    states = reference_fold(events)
    assert snap["tickets"] == states
    assert snap["documents"] == expected_documents(states)


def _planned(sim) -> dict:
    return {o.key: o for o in sim.planned}


def summary_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"csp stream failed ({proc.returncode}): {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
