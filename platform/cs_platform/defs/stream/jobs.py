"""`cs_stream`: one availableNow run of THE streaming query (everything not yet processed), then
materializations of the streamed assets for each landing hour it touched.

An op job rather than a partitioned multi_asset: the hours a run touches are known only after it
ran (files arrive in any hour), and a partitioned asset run must name its partitions up front.
At most one runs at a time: the op is in pool `cs_stream` (limit 1), runs carry the `cs/stream`
tag (queue limit 1 in deploy/dagster.yaml), and the query takes the checkpoint lock.
With CSP_COMPUTE=emr-serverless the query runs on EMR Serverless (`cs_platform.remote.stream_job`)
and its batches come back through Pipes; the materializations are the same.
"""

from collections.abc import Iterator

import dagster as dg

from cs_platform.adapters.documentdb import DocumentDBWriter
from cs_platform.adapters.lake_tables import LakeTables
from cs_platform.defs.partitions import partition_key_of
from cs_platform.defs.resources import DocumentDBResource, EmrServerlessResource, LakeSparkResource, SettingsResource
from cs_platform.defs.stream.assets import STREAMED
from cs_platform.remote.stream_job import BATCH, stream_job_arguments
from cs_platform.settings import EMR_SERVERLESS
from cs_platform.streaming.lock import checkpoint_holder, holder_text
from cs_platform.streaming.metadata import hour_metadata, parse_hour
from cs_platform.streaming.query import DEFAULT_QUERY, checkpoint_location, start_stream

STREAM_TAG = "cs/stream"
POOL = "cs_stream"


class StreamConfig(dg.Config):
    """Where the run reads and writes (tests and rehearsals use their own)."""

    namespace: str = "cs"
    documentdb_database: str = "cs"
    landing_uri: str | None = None
    checkpoint_uri: str | None = None
    query_name: str = DEFAULT_QUERY
    max_files_per_trigger: int | None = None
    lock_wait_seconds: float = 0


@dg.op(pool=POOL, out={}, description="Run the streaming query availableNow; report each touched landing hour.")
def stream_available_now(context: dg.OpExecutionContext, config: StreamConfig, settings: SettingsResource,
                         pyspark: LakeSparkResource, documentdb: DocumentDBResource,
                         emr_serverless: EmrServerlessResource) -> Iterator[dg.AssetMaterialization]:
    located = settings.get().with_overrides(landing_uri=config.landing_uri, checkpoint_uri=config.checkpoint_uri)
    if located.compute == EMR_SERVERLESS:
        held = None if config.lock_wait_seconds else checkpoint_holder(located, config.query_name)
        if held is not None:  # the job would be refused on EMR: do not pay for its start
            raise dg.Failure(f"not submitted to EMR Serverless: {holder_text(held)} holds checkpoint "
                             f"{checkpoint_location(located, config.query_name)}; retry when it has finished")
        arguments = stream_job_arguments(
            config.namespace, config.documentdb_database, config.landing_uri, config.checkpoint_uri, config.query_name,
            config.max_files_per_trigger, config.lock_wait_seconds)
        entries = emr_serverless.run(context, located, "stream_job.py", arguments, BATCH)
    else:
        committed: list[dict] = []
        try:
            entries = start_stream(
                pyspark.spark_session, located, once=True, tables=LakeTables(namespace=config.namespace),
                writer=DocumentDBWriter(client_factory=documentdb.client, database=config.documentdb_database),
                query_name=config.query_name, max_files_per_trigger=config.max_files_per_trigger,
                progress_extra={"dagster_run_id": context.run_id}, lock_wait_seconds=config.lock_wait_seconds,
                on_committed=committed.append,
            ).entries()
        except Exception:
            # the retry run takes only what is left: nothing else would report the hours committed so far
            # (yielded, not logged: events logged with context.log_event are dropped when the op raises)
            yield from _materializations(context, committed, f"before the failure, on {located.compute}")
            raise
    yield from _materializations(context, entries, f"on {located.compute}")


def _materializations(context: dg.OpExecutionContext, entries: list[dict], where: str) -> Iterator[dg.AssetMaterialization]:
    per_hour = hour_metadata(entries)
    for hour, metadata in per_hour.items():
        for asset in STREAMED:
            yield dg.AssetMaterialization(asset_key=asset, partition=partition_key_of(parse_hour(hour)), metadata=metadata)
    context.log.info(f"{len(entries)} batch(es) {where}, hours {list(per_hour)}")


@dg.job(name="cs_stream", tags={STREAM_TAG: DEFAULT_QUERY},
        description="Process every landing file not yet processed (availableNow), then stop.")
def cs_stream_job():
    stream_available_now()
