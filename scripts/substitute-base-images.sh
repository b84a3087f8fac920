#!/usr/bin/env bash
# Stand-ins for the public base images, built from Debian's packages, for a machine with a
# Docker daemon and Debian's archive but no container registry (docs/operations.md, "The
# smoke check"). Not what users get: compose.yaml and the Dockerfile default to
# python:3.11-slim and postgres:17.
#
#   local/python:3.11-bookworm   Debian 12's python3 (3.11) and python3-venv
#   local/postgres:17-trixie     Debian 13's postgresql-17, with an entrypoint that reads
#                                POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB on first
#                                start like the public image's
#
# Certificates under /usr/local/share/ca-certificates are added to both images' trust (a
# machine whose way out re-signs TLS needs its authority there for pip to reach PyPI).
# Needs root, debootstrap and Docker.
#
#   sudo scripts/substitute-base-images.sh             # both; or name one: python, postgres
#   PYTHON_IMAGE=local/python:3.11-bookworm POSTGRES_IMAGE=local/postgres:17-trixie \
#     scripts/compose-smoke.sh
set -euo pipefail

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$(mktemp -d "${TMPDIR:-/tmp}/membervault-bases.XXXXXX")"
trap 'rm -rf "$work"' EXIT

rootfs() {  # rootfs DIR SUITE PACKAGES: a minimal Debian, trusting the local authorities
  debootstrap --variant=minbase --include="ca-certificates,$3" "$2" "$1" "$mirror" >/dev/null
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
    chroot "$1" update-ca-certificates >/dev/null 2>&1
  fi
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*
}

python_base() {
  echo "substitute-base-images: local/python:3.11-bookworm"
  rootfs "$work/python" bookworm python3,python3-venv
  tar -C "$work/python" -c . | docker import - local/python:3.11-bookworm-rootfs >/dev/null
  docker build --quiet -t local/python:3.11-bookworm - >/dev/null <<'DOCKERFILE'
FROM local/python:3.11-bookworm-rootfs
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
DOCKERFILE
  docker rmi local/python:3.11-bookworm-rootfs >/dev/null
}

postgres_base() {
  echo "substitute-base-images: local/postgres:17-trixie"
  rootfs "$work/postgres" trixie postgresql-17
  rm -rf "$work/postgres/var/lib/postgresql/17" "$work/postgres/etc/postgresql/17"
  install -m 0755 /dev/stdin "$work/postgres/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# A new data directory: a cluster owned by $POSTGRES_USER (password-checked over TCP),
# its database $POSTGRES_DB; then the server, as postgres.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  chown postgres "$pwfile"
  setpriv --reuid=postgres --regid=postgres --init-groups \
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" \
      | setpriv --reuid=postgres --regid=postgres --init-groups \
          postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -c listen_addresses='*' "$@"
ENTRYPOINT
  tar -C "$work/postgres" -c . | docker import - local/postgres:17-trixie-rootfs >/dev/null
  docker build --quiet -t local/postgres:17-trixie - >/dev/null <<'DOCKERFILE'
FROM local/postgres:17-trixie-rootfs
ENV LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
DOCKERFILE
  docker rmi local/postgres:17-trixie-rootfs >/dev/null
}

[ $# -gt 0 ] || set -- python postgres
for base in "$@"; do
  case "$base" in
    python) python_base ;;
    postgres) postgres_base ;;
    *) echo "substitute-base-images: unknown base $base (python, postgres)" >&2; exit 2 ;;
  esac
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^local/'
