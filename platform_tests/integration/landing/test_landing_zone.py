"""LandingZone on a local directory and on S3 (moto server), and `csp generate` to both."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import time

from click.testing import CliRunner

from cs_platform.adapters.landing import LandingZone, read_raw_lines
from cs_platform.cli.generate import generate

UTC = dt.timezone.utc
H10 = dt.datetime(2026, 11, 26, 10, tzinfo=UTC)
H11 = dt.datetime(2026, 11, 26, 11, tzinfo=UTC)
KEY_A = "2026/11/26/10/cs-events-1-2026-11-26-10-00-05-aaaa"
KEY_B = "2026/11/26/10/cs-events-1-2026-11-26-10-30-00-bbbb.gz"
KEY_C = "2026/11/26/11/cs-events-1-2026-11-26-11-00-01-cccc"


def fill(landing: LandingZone) -> None:
    landing.write_object(KEY_A, b'{"a":1}\n{"a":2}\n')
    landing.write_object(KEY_B, gzip.compress(b'{"b":1}\r\n\r\n{"b":2}\r\n', mtime=0))
    landing.write_object(KEY_C, b'{"c":1}\n')


def run_generate(*args: str) -> dict:
    result = CliRunner().invoke(generate, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    return summary


def test_local_write_list_and_hours(tmp_path):
    landing = LandingZone((tmp_path / "landing").as_uri())
    assert landing.list_files() == []
    fill(landing)
    (tmp_path / "landing/2026/11/26/10/_SUCCESS").write_text("")
    (tmp_path / "landing/2026/11/26/10/.partial.tmp").write_text("x")
    files = landing.list_files()
    assert [(f.key, f.landing_hour, f.size, f.gzip) for f in files] == [
        (KEY_A, H10, 16, False),
        (KEY_B, H10, len(gzip.compress(b'{"b":1}\r\n\r\n{"b":2}\r\n', mtime=0)), True),
        (KEY_C, H11, 8, False),
    ]
    assert files[0].uri == (tmp_path / "landing" / KEY_A).as_uri()
    assert all(f.mtime.tzinfo is UTC and abs(time.time() - f.mtime.timestamp()) < 60 for f in files)
    assert [f.key for f in landing.files_for_hour(dt.datetime(2026, 11, 26, 10, 42))] == [KEY_A, KEY_B]
    assert landing.files_for_hour(dt.datetime(2026, 11, 26, 9)) == []
    assert {h: [f.key for f in fs] for h, fs in landing.files_by_hour().items()} == {H10: [KEY_A, KEY_B], H11: [KEY_C]}
    assert landing.read_text(KEY_B) == '{"b":1}\r\n\r\n{"b":2}\r\n'


def test_local_listing_since_skips_old_hours_and_files(tmp_path):
    landing = LandingZone((tmp_path / "landing").as_uri())
    fill(landing)
    old = time.time() - 3600
    for key in (KEY_A, KEY_B):
        os.utime(tmp_path / "landing" / key, (old, old))
    os.utime(tmp_path / "landing/2026/11/26/10", (old, old))
    since = dt.datetime.fromtimestamp(time.time() - 600, UTC)
    assert [f.key for f in landing.list_files(since_mtime=since)] == [KEY_C]
    assert [f.key for f in landing.list_files(since_mtime=old)] == [KEY_A, KEY_B, KEY_C]


def test_read_raw_lines_matches_the_streaming_reader(spark, tmp_path):
    landing = LandingZone((tmp_path / "landing").as_uri())
    fill(landing)
    lines = read_raw_lines(spark, landing.files_for_hour(H10))
    rows = sorted((r.source_file.rsplit("/", 1)[1], r.line_number, r.raw_line, str(r.landing_hour)) for r in lines.collect())
    assert rows == [
        ("cs-events-1-2026-11-26-10-00-05-aaaa", 1, '{"a":1}', "2026-11-26 10:00:00"),
        ("cs-events-1-2026-11-26-10-00-05-aaaa", 2, '{"a":2}', "2026-11-26 10:00:00"),
        ("cs-events-1-2026-11-26-10-30-00-bbbb.gz", 1, '{"b":1}', "2026-11-26 10:00:00"),
        ("cs-events-1-2026-11-26-10-30-00-bbbb.gz", 3, '{"b":2}', "2026-11-26 10:00:00"),
    ]
    streamed = (spark.read.format("text").option("wholetext", True).option("recursiveFileLookup", True)
                .load(landing.uri).select("_metadata.file_path").collect())
    batch = {r.source_file for r in read_raw_lines(spark, landing.list_files()).collect()}
    assert batch == {r.file_path for r in streamed}
    assert read_raw_lines(spark, []).count() == 0


def test_generate_to_local_is_deterministic_and_writes_its_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CSP_LANDING_URI", raising=False)
    args = ["--events", "300", "--hours", "2", "--start", "2026-11-26T10", "--seed", "3",
            "--redelivery-rate", "0.1", "--late-rate", "0.1", "--malformed-rate", "0.05", "--gzip-share", "0.5"]
    first = run_generate(*args)
    default_landing = LandingZone((tmp_path / "home" / "landing").resolve().as_uri())
    assert first["landing_uri"] == default_landing.uri
    manifest_path = tmp_path / "home" / "manifests" / f"{first['run_id']}.json"
    assert first["manifest"] == str(manifest_path.resolve())
    manifest = json.loads(manifest_path.read_text())
    files = default_landing.list_files()
    assert [(f.key, f.size) for f in files] == sorted((m["key"], m["bytes"]) for m in manifest["files"])
    for entry in manifest["files"]:
        text = default_landing.read_text(entry["key"])
        assert len(text.splitlines()) == entry["lines"]
    assert manifest["distinct_events"] == len(manifest["events"]) == 300

    other = (tmp_path / "other").as_uri()
    second = run_generate(*args, "--landing-uri", other, "--manifest", str(tmp_path / "m2.json"))
    again = LandingZone(other).list_files()
    assert [(f.key, f.size) for f in again] == [(f.key, f.size) for f in files]
    assert [LandingZone(other).read_text(f.key) for f in again] == [default_landing.read_text(f.key) for f in files]
    assert second["run_id"] == first["run_id"]


def test_generate_refuses_bad_options(tmp_path, monkeypatch):
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(generate, ["--events", "5", "--tickets", "5"])
    assert result.exit_code == 2
    assert "Error: give --events or --tickets, not both" in result.output
    result = CliRunner().invoke(generate, ["--late-rate", "2"])
    assert result.exit_code == 2
    assert "Invalid value for '--late-rate': must be between 0 and 1, got 2.0" in result.output
    result = CliRunner().invoke(generate, ["--start", "tomorrow"])
    assert result.exit_code == 2
    assert "Invalid value for --start: expected YYYY-MM-DDTHH in UTC, got 'tomorrow'" in result.output


def test_s3_landing_zone_and_generate(s3_landing_uri, moto_endpoint, tmp_path, monkeypatch):
    landing = LandingZone(s3_landing_uri, s3_endpoint_url=moto_endpoint)
    fill(landing)
    files = landing.list_files()
    assert [(f.key, f.landing_hour, f.size) for f in files] == [
        (KEY_A, H10, 16), (KEY_B, H10, len(gzip.compress(b'{"b":1}\r\n\r\n{"b":2}\r\n', mtime=0))), (KEY_C, H11, 8)]
    assert files[0].uri == f"{s3_landing_uri}/{KEY_A}"
    assert all(f.mtime.tzinfo is not None and abs(time.time() - f.mtime.timestamp()) < 60 for f in files)
    assert [f.key for f in landing.files_for_hour(H11)] == [KEY_C]
    # an object nested under an hour prefix is outside the layout (its lines: bad_path), not the hour's
    landing.write_object("2026/11/26/11/sub/x", b'{"c":2}\n')
    assert [f.key for f in landing.files_for_hour(H11)] == [KEY_C]
    assert landing.list_files()[-1].key == "2026/11/26/11/sub/x" and landing.list_files()[-1].landing_hour is None
    landing.s3.delete_object(Bucket=landing.bucket, Key=landing.prefix + "2026/11/26/11/sub/x")
    # an s3a:// landing zone names its objects s3a://, as Spark does in the stream's source_file
    s3a = LandingZone(s3_landing_uri.replace("s3://", "s3a://", 1), s3_endpoint_url=moto_endpoint)
    assert [f.uri for f in s3a.files_for_hour(H11)] == [f"{s3_landing_uri.replace('s3://', 's3a://', 1)}/{KEY_C}"]
    assert landing.list_files(since_mtime=time.time() + 3600) == []
    assert landing.read_text(KEY_B) == '{"b":1}\r\n\r\n{"b":2}\r\n'
    # with a `since`, S3 is listed from 26 h before its hour on (keys sort by arrival hour): a key of
    # an older hour is not listed even when written just now (Firehose writes none that late)
    since = dt.datetime.fromisoformat(f"{H11.date()}T{H11.hour:02d}:30:00+00:00") + dt.timedelta(hours=26)
    assert [f.key for f in landing.list_files(since_mtime=since.timestamp() - 7 * 86400)] == [KEY_A, KEY_B, KEY_C]
    assert [f.key for f in landing.list_files(since_mtime=since)] == [KEY_C]

    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    summary = run_generate("--tickets", "20", "--hours", "1", "--start", "2026-11-27T05", "--seed", "9",
                           "--landing-uri", s3_landing_uri + "/gen", "--manifest", str(tmp_path / "m.json"))
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert summary["landing_uri"] == s3_landing_uri + "/gen"
    generated = LandingZone(s3_landing_uri + "/gen", s3_endpoint_url=moto_endpoint)
    assert [(f.key, f.size) for f in generated.list_files()] == sorted((m["key"], m["bytes"]) for m in manifest["files"])
    assert manifest["tickets"] == 20
    assert {f.key for f in landing.list_files()} >= {"gen/" + m["key"] for m in manifest["files"]}
