"""A realistic, deterministic CS event simulator producing Firehose objects and a manifest.

Pure Python (no I/O): :func:`simulate` plans every delivery from one ``random.Random(seed)``;
:meth:`Simulation.objects` encodes the objects lazily (so a writer can show progress) and
:meth:`Simulation.manifest` says exactly what was produced, for tests and benchmarks:
files, lines, distinct valid events, malformed lines with their expected quarantine reason,
re-deliveries, late arrivals, per-hour counts and the distinct valid events themselves.

Realism: ticket lifecycles (created, assigned, customer/agent messages, pending, priority
changes, solved, reopened, closed, CSAT), Zipf-skewed customers and agents, a diurnal curve
with burst hours and burst minutes. Firehose behaviour: arrival = occurrence + buffering
delay; the hour prefix is the arrival hour; objects cut by buffer interval and size; a share
gzip-compressed; late arrivals land hours later; re-deliveries repeat an event's exact line in
another object (often another hour).
"""

from __future__ import annotations

import bisect
import datetime as dt
import gzip
import hashlib
import itertools
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from cs_platform.logic.firehose import UTC, as_utc, hour_floor, object_key

MANIFEST_VERSION = 1
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# every reason a line (not a path) can be quarantined for; generated round-robin
MALFORMED_REASONS = (
    "invalid_json", "not_an_object", "missing_field:event_id", "missing_field:ticket_id",
    "bad_type:seq", "out_of_range:seq", "bad_timestamp:occurred_at", "unknown_event_type",
    "bad_type:data", "missing_field:data.customer_id", "bad_value:channel", "bad_value:status",
    "out_of_range:csat_score",
)


@dataclass(frozen=True)
class SimulationConfig:
    events: int | None = 1000          # exact number of distinct valid events (or use tickets)
    tickets: int | None = None         # exact number of tickets instead of events
    hours: int = 1
    start: dt.datetime = dt.datetime(2026, 11, 26, tzinfo=UTC)
    seed: int = 0
    gzip_share: float = 0.5
    redelivery_rate: float = 0.0       # share of events delivered twice
    late_rate: float = 0.0             # share of events arriving 1-4 hours late
    malformed_rate: float = 0.0        # malformed lines per valid delivery
    stream_name: str = "cs-events"
    buffer_seconds: int = 300          # Firehose buffering interval
    max_lines_per_object: int = 5000   # Firehose buffering size, in lines

    def __post_init__(self):
        if (self.events is None) == (self.tickets is None):
            raise ValueError("give exactly one of events or tickets")
        if (self.events or self.tickets or 0) < 1 or self.hours < 1:
            raise ValueError("events/tickets and hours must be >= 1")
        for name in ("gzip_share", "redelivery_rate", "late_rate", "malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if HOUR_MS % (self.buffer_seconds * 1000):
            raise ValueError("buffer_seconds must divide an hour")

    @property
    def start_ms(self) -> int:
        return int(hour_floor(self.start).timestamp() * 1000)

    def tag(self) -> str:
        """Short digest of the parameters: ids from different runs never collide."""
        text = json.dumps({**asdict(self), "start": self.start_ms}, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:6]


@dataclass
class PlannedObject:
    key: str
    gzip: bool
    lines: list[str]
    valid_lines: int
    malformed: list[tuple[int, str]]    # (line_number, expected reason)
    event_ids: list[str]
    size: int | None = None


@dataclass
class SimObject:
    key: str
    data: bytes
    lines: int
    gzip: bool


@dataclass
class Simulation:
    config: SimulationConfig
    planned: list[PlannedObject]
    events: list[dict]                  # distinct valid events, flattened (contract columns)
    stats: dict = field(default_factory=dict)

    def objects(self) -> Iterator[SimObject]:
        """Encode each object (deterministic gzip: no timestamp in the header)."""
        for obj in self.planned:
            data = ("\n".join(obj.lines) + "\n").encode("utf-8")
            if obj.gzip:
                data = gzip.compress(data, compresslevel=6, mtime=0)
            obj.size = len(data)
            yield SimObject(obj.key, data, len(obj.lines), obj.gzip)

    def manifest(self, include_events: bool = True) -> dict:
        cfg = self.config
        hours: dict[str, Counter] = defaultdict(Counter)
        hour_events: dict[str, set] = defaultdict(set)
        malformed = []
        for obj in self.planned:
            hour = _hour_iso(obj.key)
            h = hours[hour]
            h["files"] += 1
            h["lines"] += len(obj.lines)
            h["valid_lines"] += obj.valid_lines
            h["malformed_lines"] += len(obj.malformed)
            hour_events[hour].update(obj.event_ids)
            malformed += [{"key": obj.key, "line_number": n, "reason": r} for n, r in obj.malformed]
        for hour, ids in hour_events.items():
            hours[hour]["distinct_events"] = len(ids)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "params": {**asdict(cfg), "start": hour_floor(cfg.start).isoformat()},
            "stream_name": cfg.stream_name,
            "files": [{"key": o.key, "lines": len(o.lines), "valid_lines": o.valid_lines,
                       "malformed_lines": len(o.malformed), "gzip": o.gzip, "bytes": o.size,
                       "landing_hour": _hour_iso(o.key)} for o in self.planned],
            "total_files": len(self.planned),
            "total_lines": sum(len(o.lines) for o in self.planned),
            "valid_lines": sum(o.valid_lines for o in self.planned),
            "distinct_events": len(self.events),
            "tickets": len({e["ticket_id"] for e in self.events}),
            "redelivered": self.stats.get("redelivered", 0),
            "late": self.stats.get("late", 0),
            "malformed_lines": len(malformed),
            "malformed_by_reason": dict(sorted(Counter(m["reason"] for m in malformed).items())),
            "malformed": malformed,
            "hours": {h: dict(c) for h, c in sorted(hours.items())},
        }
        if include_events:
            manifest["events"] = self.events
        return manifest


def _hour_iso(key: str) -> str:
    return key[:13].replace("/", "-", 2).replace("/", "T")  # YYYY-MM-DDTHH


# ---- people and time -------------------------------------------------------------------------


class _Zipf:
    """Skewed choice among n ids: a few customers/agents carry most of the load."""

    def __init__(self, rng: random.Random, n: int, s: float = 1.1):
        weights = [1.0 / (k ** s) for k in range(1, n + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.rng = rng

    def pick(self) -> int:
        return bisect.bisect_left(self.cumulative, self.rng.random() * self.cumulative[-1])


class _Clock:
    """Ticket creation times: a diurnal curve, burst hours (x3) and burst minutes."""

    def __init__(self, rng: random.Random, cfg: SimulationConfig):
        self.rng = rng
        self.start_ms = cfg.start_ms
        weights = []
        first_hour = hour_floor(cfg.start).hour
        for h in range(cfg.hours):
            hour_of_day = (first_hour + h) % 24
            diurnal = 0.35 + math.sin(math.pi * max(0, hour_of_day - 6) / 17) ** 2 if 6 <= hour_of_day <= 23 else 0.3
            burst = 3.0 if rng.random() < 0.1 else 1.0
            weights.append(diurnal * burst)
        self.cumulative = list(itertools.accumulate(weights))
        self.burst_minute = [rng.randrange(60) for _ in range(cfg.hours)]

    def ticket_created_ms(self) -> int:
        rng = self.rng
        h = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
        if rng.random() < 0.3:
            offset = int(rng.gauss(self.burst_minute[h] * MINUTE_MS, 3 * MINUTE_MS)) % HOUR_MS
        else:
            offset = rng.randrange(HOUR_MS)
        return self.start_ms + h * HOUR_MS + offset


_ISO_CACHE: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """2026-11-26T10:15:00.123Z"""
    seconds, millis = divmod(ms, 1000)
    text = _ISO_CACHE.get(seconds)
    if text is None:
        text = dt.datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if len(_ISO_CACHE) > 200_000:
            _ISO_CACHE.clear()
        _ISO_CACHE[seconds] = text
    return f"{text}.{millis:03d}Z"


# ---- ticket lifecycles ---------------------------------------------------------------------


class _Lifecycle:
    def __init__(self, rng: random.Random, customers: _Zipf, agents: _Zipf):
        self.rng, self.customers, self.agents = rng, customers, agents

    def _minutes(self, mean: float) -> int:
        return max(1000, int(self.rng.expovariate(1.0 / mean) * MINUTE_MS))

    def events(self, created_ms: int) -> list[tuple[int, str, dict]]:
        """(occurred_ms, event_type, data) in seq order."""
        rng = self.rng
        t = created_ms
        data = {"customer_id": f"C-{self.customers.pick() + 1:06d}",
                "channel": rng.choices(("chat", "email", "phone"), (0.5, 0.35, 0.15))[0]}
        if rng.random() < 0.7:
            data["priority"] = rng.choices(("low", "normal", "high", "urgent"), (0.2, 0.5, 0.22, 0.08))[0]
        out = [(t, "ticket_created", data)]
        agent = None
        if rng.random() < 0.92:
            t += self._minutes(6)
            agent = f"A-{self.agents.pick() + 1:04d}"
            out.append((t, "agent_assigned", {"agent_id": agent}))

        def conversation(rounds: int) -> None:
            nonlocal t
            for _ in range(rounds):
                t += self._minutes(4)
                out.append((t, "message_added", {"author": "customer"}))
                t += self._minutes(9)
                out.append((t, "message_added", {"author": "agent",
                                                 "agent_id": agent or f"A-{self.agents.pick() + 1:04d}"}))
                if rng.random() < 0.15:
                    t += self._minutes(2)
                    out.append((t, "status_changed", {"status": "pending"}))
                if rng.random() < 0.07:
                    t += self._minutes(3)
                    out.append((t, "priority_changed", {"priority": rng.choice(("low", "normal", "high", "urgent"))}))

        conversation(1 + min(7, int(rng.expovariate(0.8))))
        if rng.random() < 0.78:
            t += self._minutes(5)
            out.append((t, "status_changed", {"status": "solved"}))
            if rng.random() < 0.1:  # reopened by the customer
                t += self._minutes(30)
                out.append((t, "status_changed", {"status": "open"}))
                conversation(1)
                t += self._minutes(5)
                out.append((t, "status_changed", {"status": "solved"}))
            if rng.random() < 0.45:
                t += self._minutes(20)
                out.append((t, "csat_submitted", {"csat_score": rng.choices((1, 2, 3, 4, 5), (5, 7, 13, 30, 45))[0]}))
            if rng.random() < 0.5:
                t += self._minutes(60)
                out.append((t, "status_changed", {"status": "closed"}))
        return out


def _flat(event_id: str, ticket_id: str, seq: int, occurred_at: str, event_type: str, data: dict) -> dict:
    priority = data.get("priority")
    if event_type == "ticket_created" and priority is None:
        priority = "normal"
    agent_id = data.get("agent_id") if event_type != "message_added" or data.get("author") == "agent" else None
    return {"event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "seq": seq,
            "occurred_at": occurred_at, "customer_id": data.get("customer_id"),
            "channel": data.get("channel"), "priority": priority, "agent_id": agent_id,
            "author": data.get("author"), "status": data.get("status"), "csat_score": data.get("csat_score")}


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


# ---- malformed lines -----------------------------------------------------------------------


def malformed_line(reason: str, rng: random.Random, ticket_id: str, occurred_ms: int) -> str:
    """A line that validation must quarantine with exactly ``reason``."""
    base = {"event_id": _uuid(rng), "event_type": "status_changed", "ticket_id": ticket_id, "seq": 1,
            "occurred_at": iso_ms(occurred_ms), "data": {"status": "open"}}
    dumps = lambda d: json.dumps(d, separators=(",", ":"))  # noqa: E731
    if reason == "invalid_json":
        return dumps(base)[: rng.randrange(10, 40)]
    if reason == "not_an_object":
        return dumps([base["event_id"], base["event_type"]])
    if reason.startswith("missing_field:") and "." not in reason:
        del base[reason.split(":")[1]]
    elif reason == "bad_type:seq":
        base["seq"] = "1"
    elif reason == "out_of_range:seq":
        base["seq"] = 0
    elif reason == "bad_timestamp:occurred_at":
        base["occurred_at"] = dt.datetime.fromtimestamp(occurred_ms // 1000, UTC).strftime("%d/%m/%Y %H:%M")
    elif reason == "unknown_event_type":
        base["event_type"] = "ticket_merged"
    elif reason == "bad_type:data":
        base["data"] = "status=open"
    elif reason == "missing_field:data.customer_id":
        base.update(event_type="ticket_created", data={"channel": "email"})
    elif reason == "bad_value:channel":
        base.update(event_type="ticket_created", data={"customer_id": "C-000001", "channel": "fax"})
    elif reason == "bad_value:status":
        base["data"] = {"status": "done"}
    elif reason == "out_of_range:csat_score":
        base.update(event_type="csat_submitted", data={"csat_score": 7})
    else:
        raise ValueError(f"no generator for reason {reason!r}")
    return dumps(base)


# ---- the plan ------------------------------------------------------------------------------


def simulate(cfg: SimulationConfig, progress=None) -> Simulation:
    """Plan all objects of a run. ``progress(n)`` is called as events are generated."""
    rng = random.Random(cfg.seed)
    tag = cfg.tag()
    expected_tickets = cfg.tickets or max(1, (cfg.events or 0) // 9)
    customers = _Zipf(rng, max(20, expected_tickets // 3))
    agents = _Zipf(rng, max(5, expected_tickets // 40), s=0.8)
    clock = _Clock(rng, cfg)
    lifecycle = _Lifecycle(rng, customers, agents)
    end_ms = cfg.start_ms + cfg.hours * HOUR_MS
    dumps = json.JSONEncoder(separators=(",", ":")).encode

    events: list[dict] = []
    deliveries: list[tuple[int, int, str, str]] = []  # (arrival_ms, order, line, event_id)
    late = redelivered = 0
    buffer_ms = cfg.buffer_seconds * 1000
    ticket_no = 0
    while (cfg.tickets is not None and ticket_no < cfg.tickets) or (cfg.events is not None and len(events) < cfg.events):
        ticket_no += 1
        ticket_id = f"T-{tag}-{ticket_no:07d}"
        lifecycle_events = [e for e in lifecycle.events(clock.ticket_created_ms()) if e[0] < end_ms]
        if cfg.events is not None:
            lifecycle_events = lifecycle_events[: cfg.events - len(events)]
        for seq, (occurred_ms, event_type, data) in enumerate(lifecycle_events, start=1):
            event_id = _uuid(rng)
            occurred_at = iso_ms(occurred_ms)
            line = dumps({"event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "seq": seq,
                          "occurred_at": occurred_at, "data": data})
            events.append(_flat(event_id, ticket_id, seq, occurred_at, event_type, data))
            if rng.random() < cfg.late_rate:
                arrival = occurred_ms + rng.randrange(HOUR_MS, 4 * HOUR_MS)
                late += 1
            else:
                arrival = occurred_ms + rng.randrange(500, 90_000)
            deliveries.append((arrival, len(deliveries), line, event_id))
            if rng.random() < cfg.redelivery_rate:
                deliveries.append((arrival + rng.randrange(buffer_ms + 1000, 3 * HOUR_MS), len(deliveries), line, event_id))
                redelivered += 1
        if progress is not None and ticket_no % 1000 == 0:
            progress(len(events))

    n_malformed = round(cfg.malformed_rate * len(deliveries))
    malformed_reasons = [MALFORMED_REASONS[i % len(MALFORMED_REASONS)] for i in range(n_malformed)]
    for reason in malformed_reasons:
        occurred = cfg.start_ms + rng.randrange(cfg.hours * HOUR_MS)
        line = malformed_line(reason, rng, f"T-{tag}-{rng.randrange(1, ticket_no + 1):07d}", occurred)
        deliveries.append((occurred + rng.randrange(500, 90_000), len(deliveries), line, "!" + reason))

    planned = _cut_objects(sorted(deliveries), cfg, rng)
    sim = Simulation(cfg, planned, events, {"redelivered": redelivered, "late": late})
    if progress is not None:
        progress(len(events))
    return sim


def _cut_objects(deliveries, cfg: SimulationConfig, rng: random.Random) -> list[PlannedObject]:
    """Group arrivals into Firehose objects: one per buffer interval, split by size."""
    buffer_ms = cfg.buffer_seconds * 1000
    planned: list[PlannedObject] = []
    for _, group in itertools.groupby(deliveries, key=lambda d: d[0] // buffer_ms):
        group = list(group)
        for start in range(0, len(group), cfg.max_lines_per_object):
            chunk = group[start:start + cfg.max_lines_per_object]
            arrival = dt.datetime.fromtimestamp(chunk[0][0] / 1000, UTC)
            is_gzip = rng.random() < cfg.gzip_share
            key = object_key(cfg.stream_name, arrival, _uuid(rng), gzip=is_gzip)
            malformed = [(n, eid[1:]) for n, (_, _, _, eid) in enumerate(chunk, start=1) if eid.startswith("!")]
            planned.append(PlannedObject(
                key=key, gzip=is_gzip, lines=[d[2] for d in chunk], valid_lines=len(chunk) - len(malformed),
                malformed=malformed, event_ids=[d[3] for d in chunk if not d[3].startswith("!")]))
    return planned


def parse_start(text: str) -> dt.datetime:
    """``2026-11-26T00`` (or any ISO form) -> aware UTC datetime."""
    for fmt in ("%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
