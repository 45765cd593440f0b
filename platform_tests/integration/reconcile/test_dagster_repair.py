"""Through Dagster: a partitioned check fails for hour H with counts and samples, the repair
sensor alerts and launches the repair of exactly H, the repair run re-checks H and it passes;
retries are bounded. Real tables, a real Dagster instance (ephemeral), a real HTTP webhook."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from cs_platform.defs.partitions import landing_hours
from cs_platform.defs.reconcile import checks, jobs, sensors
from cs_platform.defs.reconcile.assets import STREAMED, ReconcileConfig
from cs_platform.defs.resources import SettingsResource, shared_resources
from platform_tests.integration.reconcile.conftest import source_file_of
from platform_tests.integration.reconcile.locking import once_run_releasing_after, refusal
from platform_tests.integration.reconcile.snapshots import assert_unchanged, snapshot

H10_KEY = "2026-11-26-10:00"


def _definitions() -> dg.Definitions:
    # The stream domain owns these assets; stand-ins with the same keys and partitions keep this
    # test independent of it.
    stand_ins = [dg.AssetSpec(key, partitions_def=landing_hours) for key in STREAMED]
    return dg.Definitions(
        assets=stand_ins, asset_checks=list(checks.consistency_checks),
        jobs=[jobs.reconcile_job, jobs.backfill_job, jobs.reproject_job],
        sensors=[sensors.reconciliation_repair], resources=shared_resources(),
    )


@pytest.fixture
def dagster_env(lake, webhook, monkeypatch):
    monkeypatch.setenv("CSP_ALERT_WEBHOOK_URL", webhook.url)
    return _definitions(), dg.DagsterInstance.ephemeral(), ReconcileConfig(namespace=lake.namespace,
                                                                          documentdb_database=lake.database)


def _run_checks(defs, instance, config, partition=H10_KEY) -> dict[str, dg.AssetCheckEvaluation]:
    # a failed blocking ERROR check fails its step (and the run): that is what blocks downstream
    result = defs.resolve_job_def("reconcile").execute_in_process(
        instance=instance, tags={"dagster/partition": partition}, run_config=jobs.checks_run_config(config),
        raise_on_error=False)
    return _evaluations_of_run(instance, result.run_id)


def _evaluations_of_run(instance, run_id) -> dict[str, dg.AssetCheckEvaluation]:
    """Check results as the instance recorded them (also those of a step that then failed)."""
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data for e in entries}


def _tick(defs, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={"settings": SettingsResource()})
    requests = list(sensors.reconciliation_repair(context) or [])
    return requests, context.cursor


def _launch(defs, instance, request: dg.RunRequest, succeeds: bool = True) -> dict[str, dg.AssetCheckEvaluation]:
    result = defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, partition_key=request.partition_key, run_config=request.run_config, tags=request.tags,
        raise_on_error=False)
    assert result.success is succeeds  # a repair that did not repair fails its run
    return _evaluations_of_run(instance, result.run_id)


def _meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def test_missing_events_fail_the_hour_alert_and_are_backfilled_by_the_sensor(spark, lake, mongo_client, dagster_env,
                                                                             webhook):
    defs, instance, config = dagster_env
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"DELETE FROM {lake.tables.events} WHERE event_id IN ('e05', 'e07')")

    found = _run_checks(defs, instance, config)

    raw = found["reconciles_with_raw"]
    assert (raw.passed, raw.severity, raw.partition) == (False, dg.AssetCheckSeverity.ERROR, H10_KEY)
    meta = _meta(raw)
    assert (meta["missing_events"], meta["missing_events_samples"]) == (2, ["e05", "e07"])
    assert (meta["missing_quarantine"], meta["unexpected_events"], meta["unexpected_quarantine"]) == (0, 0, 0)
    # refolding T1 and T3 without their deleted events no longer gives the stored rows
    tickets = found["tickets_match_events"]
    assert (tickets.passed, _meta(tickets)["mismatched_tickets_samples"]) == (False, [
        "T1: message_count,first_response_at,event_count", "T3: customer_id,channel,created_at,event_count"])
    assert found["documentdb_matches_lake"].passed and found["quarantine_rate_below_threshold"].passed is False

    requests, cursor = _tick(defs, instance, None)

    assert [(r.job_name, r.partition_key, r.tags["cs_platform/repair_attempt"]) for r in requests] == [
        ("backfill", H10_KEY, "1/2")]
    assert requests[0].run_config == {"ops": {"backfill_landing_hours": {"config": {
        "namespace": lake.namespace, "documentdb_database": lake.database}}}}
    assert [(a["check"], a["partition"], a["title"], a["details"]["total_discrepancies"]) for a in webhook.received] == [
        ("reconciles_with_raw", H10_KEY, f"reconciles_with_raw failed for {H10_KEY}: backfill launched (attempt 1/2)", 2),
        ("tickets_match_events", H10_KEY, f"tickets_match_events failed for {H10_KEY}: backfill launched (attempt 1/2)", 2)]
    assert webhook.received[0]["details"]["missing_events_samples"] == ["e05", "e07"]

    rechecked = _launch(defs, instance, requests[0])

    assert rechecked["reconciles_with_raw"].passed and rechecked["tickets_match_events"].passed
    assert _tick(defs, instance, cursor)[0] == []
    assert len(webhook.received) == 2
    assert_unchanged(before, snapshot(spark, lake, mongo_client), reinserted_events={"e05", "e07"})


def test_corrupted_ticket_row_and_document_are_repaired_by_backfill_and_reproject(spark, lake, mongo_client,
                                                                                 dagster_env, webhook):
    defs, instance, config = dagster_env
    before = snapshot(spark, lake, mongo_client)
    spark.sql(f"UPDATE {lake.tables.tickets} SET agent_id = 'a9' WHERE ticket_id = 'T1'")
    mongo_client[lake.database]["tickets"].update_one({"_id": "T3"}, {"$set": {"status": "closed", "last_seq": 1}})

    found = _run_checks(defs, instance, config)

    assert found["reconciles_with_raw"].passed
    tickets, documents = found["tickets_match_events"], found["documentdb_matches_lake"]
    assert (tickets.passed, tickets.severity, _meta(tickets)["mismatched_tickets_samples"]) == (
        False, dg.AssetCheckSeverity.ERROR, ["T1: agent_id"])
    # the corrupted lake row T1 is also projected, so its document now differs from the lake
    assert (documents.passed, documents.severity, _meta(documents)["mismatched_documents_samples"]) == (
        False, dg.AssetCheckSeverity.WARN, ["T1: agent_id", "T3: status,last_seq"])

    requests, cursor = _tick(defs, instance, None)

    assert sorted((r.job_name, r.partition_key) for r in requests) == [("backfill", H10_KEY), ("reproject", H10_KEY)]
    assert [a["check"] for a in webhook.received] == ["tickets_match_events"]  # WARN repairs quietly
    rechecks = {"backfill": {"reconciles_with_raw": True, "tickets_match_events": True},
                "reproject": {"documentdb_matches_lake": True}}
    for request in sorted(requests, key=lambda r: r.job_name):  # backfill first, then reproject from the lake
        evaluations = _launch(defs, instance, request)
        assert {name: e.passed for name, e in evaluations.items()} == rechecks[request.job_name], evaluations
    assert _tick(defs, instance, cursor)[0] == []
    assert_unchanged(before, snapshot(spark, lake, mongo_client))


def test_an_unrepairable_hour_is_retried_a_bounded_number_of_times_then_alerts(spark, lake, dagster_env, webhook):
    defs, instance, config = dagster_env
    source = source_file_of(spark, lake, "e04")
    spark.sql(f"""INSERT INTO {lake.tables.events_quarantine} SELECT raw_line, source_file, 77, landing_hour, reason,
                  ingested_at FROM {lake.tables.events_quarantine} WHERE line_number = 2 AND source_file = '{source}'""")
    try:
        found = _run_checks(defs, instance, config)
        assert _meta(found["reconciles_with_raw"])["unexpected_quarantine_samples"] == [f"{source}:77"]
        cursor, launched = None, []
        for _ in range(sensors.MAX_REPAIR_ATTEMPTS + 1):
            requests, cursor = _tick(defs, instance, cursor)
            launched += [r.tags["cs_platform/repair_attempt"] for r in requests]
            for request in requests:
                assert _launch(defs, instance, request, succeeds=False)["reconciles_with_raw"].passed is False
        assert launched == ["1/2", "2/2"]
        assert [a["title"] for a in webhook.received][-1] == (
            f"reconciles_with_raw still failing for {H10_KEY} after 2 repairs: giving up, manual action needed")
        assert _tick(defs, instance, cursor) == ([], cursor)  # stays failed, no more runs or alerts
    finally:
        spark.sql(f"DELETE FROM {lake.tables.events_quarantine} WHERE line_number = 77")


def test_quarantine_rate_check_warns_above_the_threshold(lake, dagster_env):
    defs, instance, config = dagster_env
    rate = _run_checks(defs, instance, config, partition=H10_KEY)["quarantine_rate_below_threshold"]
    assert (rate.passed, rate.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert {k: _meta(rate)[k] for k in ("quarantined", "valid", "quarantine_rate", "threshold")} == {
        "quarantined": 3, "valid": 6, "quarantine_rate": 0.333333, "threshold": 0.05}


def test_a_repair_run_that_fails_before_any_check_result_alerts(lake, dagster_env, webhook):
    """No check result, so reconciliation_repair sees nothing: the run-failure sensor alerts."""
    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import writer_lock

    defs, instance, config = dagster_env
    with writer_lock(load_settings(), "once"):  # an availableNow run holds the checkpoint: refused at once
        result = defs.resolve_job_def("backfill").execute_in_process(
            instance=instance, partition_key=H10_KEY, run_config={"ops": {"backfill_landing_hours": {
                "config": config.as_run_config()}}}, tags={"cs_platform/repair_of": "reconciles_with_raw",
                                                           "cs_platform/repair_attempt": "1/2"}, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    context = dg.build_run_status_sensor_context(sensor_name="reconciliation_run_failures", dagster_event=failure,
                                                 dagster_instance=instance, dagster_run=run,
                                                 resources={"settings": SettingsResource()}).for_run_failure()
    sensors.reconciliation_run_failures(context)
    alert = webhook.received[-1]
    assert alert["title"].startswith(f"backfill run {result.run_id} failed for {H10_KEY}: cannot backfill now: "
                                     "another streaming query is already running on checkpoint ")
    assert {k: alert[k] for k in ("severity", "check", "asset", "partition", "details")} == {
        "severity": "ERROR", "check": "reconciles_with_raw", "asset": "lake/cs/events", "partition": H10_KEY,
        "details": {"run_id": result.run_id, "attempt": "1/2"}}


def test_a_repair_takes_the_lock_of_the_configured_query_and_waits_for_it_when_asked(spark, lake, mongo_client,
                                                                                    dagster_env, tmp_path):
    """The repair locks the checkpoint of the `cs_stream` run config it names (query_name,
    checkpoint_uri): refused while that query's --once run holds it, done after it with a wait."""
    from cs_platform.settings import load_settings
    from cs_platform.streaming.query import writer_lock

    defs, instance, config = dagster_env
    before = snapshot(spark, lake, mongo_client)
    located = load_settings(checkpoint_uri=tmp_path.as_uri())
    repair = {**config.as_run_config(), "checkpoint_uri": tmp_path.as_uri(), "query_name": "eu"}

    def backfill(**extra):
        return defs.resolve_job_def("backfill").execute_in_process(
            instance=instance, partition_key=H10_KEY, raise_on_error=False,
            run_config={"ops": {"backfill_landing_hours": {"config": {**repair, **extra}}}})

    with writer_lock(located, "once", query_name="eu") as held:
        refused = backfill()
        holder = held.path.read_text()
    assert not refused.success
    failure = instance.all_logs(refused.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)[0].dagster_event
    assert failure.step_failure_data.error.message.strip() == (
        f"dagster._core.definitions.events.Failure: {refusal(held, holder)}")
    assert held.checkpoint == f"{tmp_path.as_uri()}/eu"

    with once_run_releasing_after(located, "eu") as released_at:
        waited = backfill(lock_wait_seconds=60)
        done_at = time.monotonic()
    assert waited.success
    assert released_at[0] <= done_at  # it ran after the --once run released the lock
    assert_unchanged(before, snapshot(spark, lake, mongo_client))
