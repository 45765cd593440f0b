"""Benchmark: one landing-sensor tick over N new Firehose objects (target: 10k in < 5 s).

Baseline, in the same process: a bare recursive os.scandir + stat of the same files (the least
any listing must do). Prints both figures and the ratio; then a steady-state tick (nothing new).

    .venv/bin/python bench/landing_sensor.py --files 10000
    .venv/bin/python bench/landing_sensor.py --files 500     # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))


def make_landing(root: Path, files: int, hours: int) -> None:
    from cs_platform.adapters.landing import LandingZone
    from cs_platform.logic.firehose import object_key

    landing = LandingZone(root.as_uri())
    start = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    line = b'{"event_id":"e","event_type":"status_changed","ticket_id":"T","seq":1,"occurred_at":"2026-11-26T00:00:00.000Z","data":{"status":"open"}}\n'
    for i in range(files):
        arrival = start + dt.timedelta(seconds=(i * hours * 3600) // files)
        landing.write_object(object_key("cs-events", arrival, f"{i:08d}", gzip=False), line * 3)


def baseline_listing(root: Path) -> int:
    count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                else:
                    entry.stat()
                    count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-landing-") as tmp:
        root = Path(tmp) / "landing"
        os.environ["CSP_HOME"] = str(Path(tmp) / "home")
        os.environ["CSP_LANDING_URI"] = root.as_uri()
        t0 = time.perf_counter()
        make_landing(root, args.files, args.hours)
        print(f"wrote {args.files} objects over {args.hours} hour prefixes in {time.perf_counter() - t0:.2f} s")

        import dagster as dg

        from cs_platform.defs.raw.sensors import landing_sensor
        from cs_platform.defs.resources import SettingsResource

        t0 = time.perf_counter()
        listed = baseline_listing(root)
        baseline = time.perf_counter() - t0
        assert listed == args.files, listed

        instance = dg.DagsterInstance.ephemeral()  # the daemon has one already: not timed
        context = dg.build_sensor_context(instance=instance, cursor=None, resources={"settings": SettingsResource()})
        t0 = time.perf_counter()
        result = landing_sensor(context)
        tick = time.perf_counter() - t0
        reported = sum(e.metadata["file_count"].value for e in result.asset_events)
        assert reported == args.files, reported

        context = dg.build_sensor_context(instance=instance, cursor=result.cursor,
                                          resources={"settings": SettingsResource()})
        t0 = time.perf_counter()
        steady = landing_sensor(context)
        steady_tick = time.perf_counter() - t0
        assert steady.asset_events == []

        print(f"baseline  os.scandir+stat of {listed} files: {baseline * 1000:8.1f} ms")
        print(f"sensor    first tick, {reported} new files in {len(result.asset_events)} hour partitions: "
              f"{tick * 1000:8.1f} ms  (cursor {len(result.cursor) / 1024:.0f} KiB)")
        print(f"sensor    next tick, nothing new: {steady_tick * 1000:8.1f} ms")
        print(f"ratio     sensor / baseline: {tick / baseline:.1f}x   target < 5 s: {'OK' if tick < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
