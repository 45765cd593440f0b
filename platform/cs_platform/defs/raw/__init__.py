"""Raw domain: the Firehose landing zone as an external asset, and the sensor that watches it."""

import dagster as dg

from cs_platform.defs.raw.assets import raw_cs_events
from cs_platform.defs.raw.sensors import landing_sensor

defs = dg.Definitions(assets=[raw_cs_events], sensors=[landing_sensor])
