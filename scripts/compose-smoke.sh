#!/usr/bin/env bash
# The compose set-up, end to end, on a machine with Docker (not part of the test suite):
# build and start PostgreSQL, the migrations, the server and the worker; wait for
# /readyz and the image's health check; check that the worker runs, that the server's
# /metrics serves the running worker's metrics (through the shared volume) and that the
# worker can do a pass; create an administrator; get a token; run one named GraphQL query;
# check that /metrics refuses a scrape without its token and counts the query with it;
# check that the server logs JSON lines with request and trace ids; check that the
# services ran as 10001 on a read-only root file system and wrote nothing outside their
# volume and /tmp; tear everything down (volumes included), whatever happened.
#
#   scripts/compose-smoke.sh            # SMOKE_PORT=18000 by default
#   PYTHON_IMAGE=local/python:3.11-bookworm POSTGRES_IMAGE=local/postgres:17-trixie \
#     scripts/compose-smoke.sh          # with stand-in bases (scripts/substitute-base-images.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v docker >/dev/null || { echo "compose-smoke: docker is not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "compose-smoke: the Docker daemon is not reachable" >&2; exit 2; }
# Compose v2 (compose.yaml names its project, which v1 refuses): the plugin, or the
# stand-alone binary of v2.
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif docker-compose version --short 2>/dev/null | grep -q '^v\?2\.'; then
  compose_cmd=(docker-compose)
else
  echo "compose-smoke: needs Docker Compose v2 (docker compose)" >&2; exit 2
fi

port="${SMOKE_PORT:-18000}"
base="http://127.0.0.1:${port}"
project="membervault-smoke-$$"
export MEMBERVAULT_HTTP_PORT="$port"
MEMBERVAULT_METRICS_TOKEN="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export MEMBERVAULT_METRICS_TOKEN
compose() { "${compose_cmd[@]}" -p "$project" "$@"; }
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

finish() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "compose-smoke: FAILED; the services' last lines:" >&2
    compose logs --no-color --tail 40 >&2 || true
  fi
  compose down --volumes --remove-orphans >/dev/null 2>&1 || true
  exit "$status"
}
trap finish EXIT

echo "compose-smoke: building and starting ($project)"
compose up --build --detach

echo "compose-smoke: waiting for $base/readyz"
for _ in $(seq 1 90); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" = 200 ]; then
    ready=1
    break
  fi
  sleep 2
done
[ "${ready:-0}" = 1 ] || { echo "compose-smoke: /readyz never answered 200" >&2; exit 1; }
# The image's own HEALTHCHECK (every 10 s after a start period of 20 s).
for _ in $(seq 1 30); do
  health="$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps --quiet server)")"
  [ "$health" = starting ] || break
  sleep 2
done
[ "$health" = healthy ] || { echo "compose-smoke: the server's health check says $health" >&2; exit 1; }
echo "compose-smoke: /readyz answers 200, the server is healthy"
[ "$(compose ps --format '{{.Service}} {{.State}}' | grep -c '^worker running')" = 1 ] \
  || { echo "compose-smoke: the worker is not running" >&2; exit 1; }
# The running worker's own metrics (before the pass below, which would write some of its
# own): on the shared volume, added to the server's scrape. Its first pass starts with it.
scrape() { curl -fsS -H "authorization: Bearer ${MEMBERVAULT_METRICS_TOKEN}" "$base/metrics"; }
for _ in $(seq 1 15); do
  if grep -q '^membervault_worker_step_duration_seconds_count{step="exports"}' <<<"$(scrape)"; then
    worker_scraped=1
    break
  fi
  sleep 2
done
[ "${worker_scraped:-0}" = 1 ] \
  || { echo "compose-smoke: /metrics has none of the running worker's metrics" >&2; exit 1; }
echo "compose-smoke: /metrics serves the running worker's metrics (the shared volume)"
done_pass="$(compose exec -T worker membervault worker --once --json | json_field '["done"]')" \
  || { echo "compose-smoke: the worker could not do a pass" >&2; exit 1; }
echo "compose-smoke: the worker runs; one more pass did $done_pass"

secret="$(compose exec -T server membervault admin create smoke-admin --name 'Smoke admin')"
token="$(curl -fsS -u "smoke-admin:${secret}" -d grant_type=client_credentials \
  "$base/oauth/token" | json_field '["access_token"]')"

answer="$(curl -fsS -H "authorization: Bearer ${token}" -H 'content-type: application/json' \
  -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
  -d '{"query": "query SmokeVerifyAccessLog { verifyAccessLog { ok checked } }"}' \
  "$base/graphql")"
[ "$(echo "$answer" | json_field '["data"]["verifyAccessLog"]["ok"]')" = True ] \
  || { echo "compose-smoke: unexpected answer: $answer" >&2; exit 1; }
echo "compose-smoke: GraphQL answered $answer"

[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 401 ] \
  || { echo "compose-smoke: /metrics did not refuse a scrape without its token" >&2; exit 1; }
scraped="$(scrape)"
grep -q '^membervault_graphql_requests_total{.*operation="SmokeVerifyAccessLog"' <<<"$scraped" \
  || { echo "compose-smoke: /metrics does not count the query" >&2; exit 1; }
grep -q '^membervault_jobs_queued{queue="exports"} 0' <<<"$scraped" \
  || { echo "compose-smoke: /metrics has no job queues" >&2; exit 1; }

server_log="$(compose logs --no-color server)"
grep -q '"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"' <<<"$server_log" \
  || { echo "compose-smoke: no JSON log line carries the caller's trace id" >&2; exit 1; }

# After all of the above: nothing was written outside the volumes and /tmp.
for service in migrate server worker; do
  container="$(compose ps --all --quiet "$service")"
  [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' "$container")" = "true 10001:10001" ] \
    || { echo "compose-smoke: $service is not read-only as 10001:10001" >&2; exit 1; }
  [ -z "$(docker diff "$container")" ] \
    || { echo "compose-smoke: $service wrote outside its volume and /tmp" >&2; exit 1; }
done
[ "$(compose exec -T server id -u):$(compose exec -T worker id -u)" = "10001:10001" ] \
  || { echo "compose-smoke: the server or the worker does not run as 10001" >&2; exit 1; }
# As root, who owns /: only the read-only mount stops the write.
if compose exec -T --user 0 server sh -c ': >/smoke-probe' 2>/dev/null; then
  echo "compose-smoke: the server's root file system is writable" >&2; exit 1
fi
echo "compose-smoke: migrate, server and worker ran as 10001 on a read-only root, wrote nothing outside their volume and /tmp"

echo "compose-smoke: ok"
