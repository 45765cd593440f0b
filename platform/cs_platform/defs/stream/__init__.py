"""Stream domain: the streamed assets, the `cs_stream` job and the Structured Streaming sensor."""

import dagster as dg

from cs_platform.defs.stream.assets import streamed_assets
from cs_platform.defs.stream.jobs import cs_stream_job
from cs_platform.defs.stream.sensors import cs_stream_sensor

defs = dg.Definitions(assets=streamed_assets, jobs=[cs_stream_job], sensors=[cs_stream_sensor])
