#!/bin/sh
# Makes a fresh machine ready for skiff: Node 20, the npm packages, nats-server and prometheus
# (from the OS packages); with --test, what the tests need too (iproute2, nftables, ping). Installs what is
# missing, or stops with a message saying how. Safe to run again.
set -e
cd "$(dirname "$0")/.."
say() { echo "bootstrap: $*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  say "skiff needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none)). Install it from https://nodejs.org or your package manager."
  exit 1
fi

if [ ! -x node_modules/.bin/tsx ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
fi

# need PACKAGE COMMAND: the Debian package, unless COMMAND is already there.
need() {
  pkg=$1 cmd=$2
  if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || [ -x "/usr/local/bin/$cmd" ]; then return 0; fi
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      say "$cmd is missing. Install it with: sudo apt-get install $pkg   (then run this again)"
      exit 1
    fi
    say "installing $pkg from the Debian packages..."
    [ -n "${apt_updated:-}" ] || { $sudo apt-get update -qq >/dev/null; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg" >/dev/null
  else
    say "$cmd is missing. Install it with your package manager (the package is $pkg)."
    exit 1
  fi
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || { say "$cmd still cannot be found after installing $pkg; check your PATH"; exit 1; }
}

need nats-server nats-server
# Prometheus scrapes the cluster (the Procfile's prometheus line) and the tests check it end to end.
need prometheus prometheus
# The tests also make test hosts (infra/hosts.sh: network namespaces, a bridge, nftables) and ping them.
if [ "${1:-}" = "--test" ]; then
  need iproute2 ip
  need nftables nft
  need iputils-ping ping
fi

# The compiled programs that the skiff command and the Procfile run (infra/build.ts): built when
# infra/dist-state.js finds dist/ missing or older than its sources or the installed packages.
if ! stale=$(node infra/dist-state.js); then
  say "building dist/ (npm run build): $stale"
  node --import tsx infra/build.ts --quiet
fi
