#!/bin/sh
# nats-server with JetStream for skiff, its store under .skiff/nats. Extra arguments are passed on:
# the Procfile gives the client port and the monitoring port, whose /healthz is the readiness check.
set -e
bin=$(command -v nats-server || true)
for d in /usr/sbin /usr/local/sbin /usr/local/bin; do
  [ -n "$bin" ] && break
  [ -x "$d/nats-server" ] && bin="$d/nats-server"
done
if [ -z "$bin" ]; then
  echo "nats-server is not installed: run sh infra/bootstrap.sh, or: apt-get install nats-server" >&2
  exit 127
fi
mkdir -p .skiff/nats
exec "$bin" -c infra/nats.conf -a 127.0.0.1 -js -sd .skiff/nats "$@"
