#!/usr/bin/env bash
# Seeds a small sample into an empty landing zone, so a newcomer sees the streaming sensor launch a run
# and the lake assets materialize in the UI within a couple of minutes. Does nothing once seeded.
set -euo pipefail
BIN="$(dirname "$0")/../.venv/bin"
marker="${CSP_HOME:?}/.seeded"
[ -e "$marker" ] && exit 0
# Three hours of events, starting 8 hours ago: late arrivals land up to 4 hours after their event,
# and every arrival (landing) hour must already have passed, as in a real Firehose archive.
start=$(date -u -d '-8 hours' +%Y-%m-%dT%H)
"$BIN/csp" generate --events "${SEED_EVENTS:-3000}" --hours 3 --start "$start" --seed 7 \
  --redelivery-rate 0.02 --late-rate 0.05 --malformed-rate 0.01
touch "$marker"
