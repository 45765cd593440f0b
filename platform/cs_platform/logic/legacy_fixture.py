"""Realistic rows for the legacy Hive fixture: the ticket history the old platform kept.

Pure and deterministic (a seeded RNG): the same arguments give the same rows, so tests can
assert exact counts and a migration can be verified against a known source.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from pyspark.sql import types as T

TICKET_HISTORY_SCHEMA = T.StructType([
    T.StructField("history_id", T.StringType()),
    T.StructField("ticket_id", T.StringType()),
    T.StructField("seq", T.IntegerType()),
    T.StructField("event_type", T.StringType()),
    T.StructField("status", T.StringType()),
    T.StructField("priority", T.StringType()),
    T.StructField("agent_id", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("csat_score", T.IntegerType()),
    T.StructField("changed_at", T.TimestampType()),
    T.StructField("dt", T.StringType()),  # Hive partition column: the day of changed_at
])

AGENT_ROSTER_SCHEMA = T.StructType([
    T.StructField("agent_id", T.StringType()),
    T.StructField("full_name", T.StringType()),
    T.StructField("team", T.StringType()),
    T.StructField("hired_on", T.DateType()),
    T.StructField("active", T.BooleanType()),
    T.StructField("weekly_hours", T.IntegerType()),
])

_CHANNELS = ("chat", "email", "phone")
_PRIORITIES = ("low", "normal", "normal", "high", "urgent")
_TEAMS = ("billing", "onboarding", "technical", "retention")
_FIRST = ("Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Luis")
_LAST = ("Alvarez", "Brown", "Chen", "Diallo", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen")


def agent_ids(agents: int) -> list[str]:
    return [f"agent-{i:03d}" for i in range(1, agents + 1)]


def ticket_history_rows(
    days: int = 5, tickets_per_day: int = 20, agents: int = 8, start: date = date(2024, 3, 1), seed: int = 7
) -> list[tuple]:
    """One row per historical change of a ticket, as in TICKET_HISTORY_SCHEMA.

    Each ticket is created, assigned, gets status changes, sometimes a priority change and a
    CSAT score; later changes may fall on the next day (another `dt` partition), as in real history.
    """
    rng = random.Random(seed)
    staff = agent_ids(agents)
    rows: list[tuple] = []
    for day in range(days):
        for n in range(tickets_per_day):
            ticket_id = f"T-{start.strftime('%Y%m%d')}-{day:02d}{n:04d}"
            at = datetime.combine(start + timedelta(days=day), datetime.min.time()) + timedelta(
                minutes=rng.randrange(0, 23 * 60)
            )
            channel, priority, status = rng.choice(_CHANNELS), rng.choice(_PRIORITIES), "open"
            agent = None
            seq = 0

            def add(event_type: str, csat: int | None = None) -> None:
                nonlocal seq
                seq += 1
                rows.append((
                    f"{ticket_id}#{seq}", ticket_id, seq, event_type, status, priority, agent, channel, csat,
                    at, at.strftime("%Y-%m-%d"),
                ))

            add("ticket_created")
            at += timedelta(minutes=rng.randrange(1, 90))
            agent = rng.choice(staff)
            add("agent_assigned")
            if rng.random() < 0.3:
                at += timedelta(minutes=rng.randrange(5, 240))
                priority = rng.choice(("high", "urgent"))
                add("priority_changed")
            if rng.random() < 0.4:
                at += timedelta(minutes=rng.randrange(10, 600))
                status = "pending"
                add("status_changed")
            if rng.random() < 0.8:
                at += timedelta(minutes=rng.randrange(10, 1800))
                status = "solved"
                add("status_changed")
                if rng.random() < 0.5:
                    at += timedelta(minutes=rng.randrange(5, 600))
                    add("csat_submitted", csat=rng.randint(1, 5))
    return rows


def agent_roster_rows(agents: int = 8, seed: int = 11) -> list[tuple]:
    """The agent roster as the old HR export wrote it (AGENT_ROSTER_SCHEMA); one agent has no hours."""
    rng = random.Random(seed)
    rows = []
    for i, agent_id in enumerate(agent_ids(agents)):
        hours = None if i == agents - 1 else rng.choice((20, 30, 38, 40))
        rows.append((
            agent_id, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", rng.choice(_TEAMS),
            date(2019, 1, 7) + timedelta(days=rng.randrange(0, 1800)), rng.random() < 0.85, hours,
        ))
    return rows
