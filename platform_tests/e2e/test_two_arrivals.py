"""Two arrivals, `csp stream --once` after each (a real subprocess with its own JVM): the lake tables
and the DocumentDB documents equal a pure-Python reference fold, field by field."""

from __future__ import annotations

import math

import pytest

from .harness import arrivals, assert_matches_reference, deliver, sample, snapshot, summary_of

pytestmark = pytest.mark.slow


def test_two_arrivals_match_the_reference_fold(spark, mongo_client, e2e_env):
    sim = sample()
    first, second = arrivals(sim)
    manifest = sim.manifest(include_events=False)
    assert manifest["redelivered"] > 0 and manifest["late"] > 0 and manifest["malformed_lines"] > 0
    assert any(o.key.endswith(".gz") for o in first) and any(not o.key.endswith(".gz") for o in first)

    deliver(e2e_env.landing, first)
    one = summary_of(e2e_env.stream_once())
    # at most 8 files per micro-batch (the harness's --max-files-per-trigger)
    assert (one["batches"], one["lines_read"]) == (math.ceil(len(first) / 8), sum(o.lines for o in first))
    assert_matches_reference(snapshot(spark, mongo_client, e2e_env), sim, first)

    deliver(e2e_env.landing, second)
    two = summary_of(e2e_env.stream_once())
    assert (two["batches"], two["lines_read"]) == (math.ceil(len(second) / 8), sum(o.lines for o in second))
    assert_matches_reference(snapshot(spark, mongo_client, e2e_env), sim, first + second)

    again = summary_of(e2e_env.stream_once())
    assert again["batches"] == 0
