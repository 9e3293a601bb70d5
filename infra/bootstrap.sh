#!/bin/sh
# Makes a fresh machine ready for skiff: Node 20, the npm packages, and nats-server (from the
# OS packages). Installs what is missing, or stops with a message saying how. Safe to run again.
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

has_nats() { command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || [ -x /usr/local/bin/nats-server ]; }

if ! has_nats; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      say "nats-server is missing. Install it with: sudo apt-get install nats-server   (then run this again)"
      exit 1
    fi
    say "installing nats-server from the Debian packages..."
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
  else
    say "nats-server is missing. Install it with your package manager (the package is nats-server), or download it from https://github.com/nats-io/nats-server/releases and put it on your PATH."
    exit 1
  fi
  has_nats || { say "nats-server still cannot be found after installing it; check your PATH"; exit 1; }
fi

# The compiled programs that the skiff command and the Procfile run (infra/build.ts): built when
# infra/dist-state.js finds dist/ missing or older than its sources or the installed packages.
if ! stale=$(node infra/dist-state.js); then
  say "building dist/ (npm run build): $stale"
  node --import tsx infra/build.ts --quiet
fi
