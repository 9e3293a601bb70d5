#!/usr/bin/env bash
# Test hosts on one machine: network namespaces on a Linux bridge, so that nats-server and skiff
# nodes get addresses of their own and a test can cut any of them off. tc netem is not available
# here, so a partition is a link set down or an nftables drop: never delay or loss.
set -eu

STATE_DIR=/run/skiff-hosts
NFT_TABLE=skiffhosts

usage() {
  cat <<'EOF'
Usage: infra/hosts.sh COMMAND ...   (as root; needs iproute2, and nftables for cut --from)

  up N [--prefix P] [--subnet A.B.C]  make hosts P1..PN (P=skh, A.B.C=10.77.0 unless given) on
                                      the bridge Pbr0: host i is A.B.C.i/24, the root namespace
                                      A.B.C.254. Prints "NAME ADDRESS" for each host.
  exec NAME -- CMD...                 run CMD inside host NAME (environment, stdio and exit code
                                      are the caller's)
  cut NAME [--from OTHER]             cut NAME off the network, or only from host OTHER
  restore NAME [--from OTHER]         undo that cut
  list [--prefix P]                   print "NAME ADDRESS STATE" for each host (STATE: up or cut)
  down [--prefix P]                   kill every process inside the hosts, then remove them and
                                      the bridge; succeeds when they are already gone
EOF
}

die() { echo "hosts.sh: $*" >&2; exit 1; }
usage_error() { echo "hosts.sh: $*" >&2; usage >&2; exit 2; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces need it): sudo infra/hosts.sh ..."
  command -v ip >/dev/null 2>&1 || die "the ip command is missing: apt-get install iproute2 nftables"
}

need_nft() {
  command -v nft >/dev/null 2>&1 || die "nft is missing (cut --from uses nftables): apt-get install nftables"
}

# A host is its prefix and a number, so a prefix must end in a letter: otherwise skh1's host 1
# and skh's host 11 would both be skh11. 11 characters keep Pbr0 and PvN within 15.
check_prefix() {
  [[ $1 =~ ^[a-z]([a-z0-9]{0,9}[a-z])?$ ]] ||
    usage_error "--prefix '$1': use 1 to 11 lowercase letters or digits that start and end with a letter"
}

check_subnet() {
  local a b c
  IFS=. read -r a b c <<<"$1"
  [[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] && [ "$a" -le 255 ] && [ "$b" -le 255 ] && [ "$c" -le 255 ] ||
    usage_error "--subnet '$1': give the first three numbers of a /24, e.g. --subnet 10.77.0"
}

# Reads --prefix into $prefix; anything else is a usage error naming the command.
parse_prefix() {
  local cmd=$1; shift
  prefix=skh
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix) [ $# -ge 2 ] || usage_error "$cmd: --prefix needs a value"; prefix=$2; shift 2 ;;
      *) usage_error "$cmd: unexpected argument '$1'" ;;
    esac
  done
  check_prefix "$prefix"
}

netns_exists() { ip netns list | awk '{print $1}' | grep -qxF "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# The hosts of a prefix: those in its state file and those `ip netns` has by the exact name
# pattern, so a state file lost with /run still leaves `down` able to find them.
hosts_of() {
  local p=$1
  {
    [ ! -f "$STATE_DIR/$p" ] || awk '{print $1}' "$STATE_DIR/$p"
    ip netns list | awk '{print $1}'
  } | grep -E "^${p}[0-9]+$" | sort -u -V || true
}

# Splits a host name into $h_prefix, $h_index and $h_veth, and checks that the host is there.
parse_host() {
  [[ $1 =~ ^([a-z]([a-z0-9]*[a-z])?)([0-9]+)$ ]] || die "'$1' is not a host name (prefix and number, e.g. skh1): infra/hosts.sh list shows them"
  h_prefix=${BASH_REMATCH[1]}
  h_index=${BASH_REMATCH[3]}
  h_veth=${h_prefix}v${h_index}
  netns_exists "$1" && link_exists "$h_veth" ||
    die "no host $1 (infra/hosts.sh list --prefix $h_prefix shows the hosts; infra/hosts.sh up makes them)"
}

host_address() {
  ip -n "$1" -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]; exit}'
}

host_state() {
  local veth=$1 name=$2
  if ip -o link show dev "$veth" | grep -qE '[<,]UP[,>]' && ip -n "$name" -o link show dev eth0 | grep -qE '[<,]UP[,>]'; then
    echo up
  else
    echo cut
  fi
}

cmd_up() {
  local n="" prefix=skh subnet=10.77.0
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix) [ $# -ge 2 ] || usage_error "up: --prefix needs a value"; prefix=$2; shift 2 ;;
      --subnet) [ $# -ge 2 ] || usage_error "up: --subnet needs a value"; subnet=$2; shift 2 ;;
      -*) usage_error "up: unknown option '$1'" ;;
      *) [ -z "$n" ] || usage_error "up: one host count, got '$n' and '$1'"; n=$1; shift ;;
    esac
  done
  [[ $n =~ ^[1-9][0-9]{0,2}$ ]] && [ "$n" -le 253 ] || usage_error "up N: N is the number of hosts, 1 to 253 (got '$n')"
  check_prefix "$prefix"
  check_subnet "$subnet"
  need_root

  local bridge=${prefix}br0 state=$STATE_DIR/$prefix
  if [ -e "$state" ] || link_exists "$bridge" || [ -n "$(hosts_of "$prefix")" ]; then
    die "hosts with prefix $prefix already exist: run infra/hosts.sh down --prefix $prefix first"
  fi
  # A second route to the /24 would send the hosts' replies, or the runner's packets, elsewhere.
  local used
  used=$({ ip -4 route show root "$subnet.0/24"; ip -4 route show match "$subnet.0/24"; } | grep -v '^default' | head -1 || true)
  [ -z "$used" ] || die "$subnet.0/24 is already in use here ($used): choose another with --subnet"

  # Whatever fails from here on, nothing stays behind.
  made_links=() made_netns=() made_state=""
  trap 'echo "hosts.sh: failed: $BASH_COMMAND" >&2' ERR
  trap 'if [ $? -ne 0 ]; then undo_up; echo "hosts.sh: up failed; removed what it had made" >&2; exit 1; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  mkdir -p "$STATE_DIR"
  : >"$state"
  made_state=$state
  ip link add "$bridge" type bridge
  made_links+=("$bridge")
  ip addr add "$subnet.254/24" dev "$bridge"
  ip link set "$bridge" up

  local i name veth out=""
  for ((i = 1; i <= n; i++)); do
    name=$prefix$i veth=${prefix}v$i
    # Listed before it is made, so a `down` after a killed `up` still finds it.
    echo "$name $subnet.$i" >>"$state"
    ip netns add "$name"
    made_netns+=("$name")
    ip link add "$veth" type veth peer name eth0 netns "$name"
    made_links+=("$veth")
    ip link set "$veth" master "$bridge" up
    ip -n "$name" link set lo up
    ip -n "$name" addr add "$subnet.$i/24" dev eth0
    ip -n "$name" link set eth0 up
    out+="$name $subnet.$i"$'\n'
  done
  trap - EXIT INT TERM ERR
  printf '%s' "$out"
}

undo_up() {
  local x
  for x in "${made_links[@]}"; do ip link del "$x" 2>/dev/null || true; done
  for x in "${made_netns[@]}"; do ip netns del "$x" 2>/dev/null || true; done
  [ -z "$made_state" ] || rm -f "$made_state"
}

cmd_exec() {
  [ $# -ge 3 ] && [ "$2" = -- ] || usage_error "exec NAME -- CMD...: give the host, then --, then the command"
  need_root
  local name=$1
  shift 2
  netns_exists "$name" || die "no host $name (infra/hosts.sh list shows the hosts; infra/hosts.sh up makes them)"
  # `ip netns exec` execs without forking, so the caller's PID is the command's.
  exec ip netns exec "$name" "$@"
}

# cut and restore: NAME [--from OTHER]
cmd_cut_or_restore() {
  local cmd=$1 name="" from=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --from) [ $# -ge 2 ] || usage_error "$cmd: --from needs a host name"; from=$2; shift 2 ;;
      -*) usage_error "$cmd: unknown option '$1'" ;;
      *) [ -z "$name" ] || usage_error "$cmd: one host, got '$name' and '$1'"; name=$1; shift ;;
    esac
  done
  [ -n "$name" ] || usage_error "$cmd: which host? e.g. infra/hosts.sh $cmd skh2"
  need_root
  parse_host "$name"
  if [ -z "$from" ]; then
    local updown=down
    [ "$cmd" = cut ] || updown=up
    ip link set "$h_veth" "$updown"
    ip -n "$name" link set eth0 "$updown"
    return
  fi
  [ "$from" != "$name" ] || usage_error "$cmd: a host cannot be cut from itself"
  need_nft
  local veth=$h_veth addr
  parse_host "$from"
  addr=$(host_address "$from")
  [ -n "$addr" ] || die "host $from has no address on eth0: run infra/hosts.sh down --prefix $h_prefix, then up again"
  if [ "$cmd" = cut ]; then nft_cut "$name" "$from" "$addr"; else nft_restore "$name" "$addr"; fi
}

# Both directions are dropped in NAME alone, so one table holds the whole of a partition.
nft_cut() {
  local name=$1 from=$2 addr=$3
  ip netns exec "$name" nft -f - <<EOF
add table inet $NFT_TABLE
add chain inet $NFT_TABLE input { type filter hook input priority 0; policy accept; }
add chain inet $NFT_TABLE output { type filter hook output priority 0; policy accept; }
EOF
  ip netns exec "$name" nft list table inet "$NFT_TABLE" | grep -qF "ip saddr $addr drop" && return
  ip netns exec "$name" nft add rule inet "$NFT_TABLE" input ip saddr "$addr" drop comment "\"cut from $from\""
  ip netns exec "$name" nft add rule inet "$NFT_TABLE" output ip daddr "$addr" drop comment "\"cut from $from\""
}

nft_restore() {
  local name=$1 addr=$2 chain handle
  ip netns exec "$name" nft list table inet "$NFT_TABLE" >/dev/null 2>&1 || return 0
  for chain in input output; do
    for handle in $(ip netns exec "$name" nft -a list chain inet "$NFT_TABLE" "$chain" |
      awk -v a="$addr" '($0 ~ "ip [sd]addr " a " drop") {print $NF}'); do
      ip netns exec "$name" nft delete rule inet "$NFT_TABLE" "$chain" handle "$handle"
    done
  done
  ip netns exec "$name" nft list table inet "$NFT_TABLE" | grep -q ' drop' ||
    ip netns exec "$name" nft delete table inet "$NFT_TABLE"
}

cmd_list() {
  local prefix name
  parse_prefix list "$@"
  need_root
  for name in $(hosts_of "$prefix"); do
    netns_exists "$name" || continue
    echo "$name $(host_address "$name") $(host_state "${prefix}v${name#"$prefix"}" "$name")"
  done
}

# Every process whose network namespace is one of these, however it got there (`exec`, setns).
pids_in() {
  local name
  for name in "$@"; do ip netns pids "$name" 2>/dev/null || true; done
}

cmd_down() {
  local prefix
  parse_prefix down "$@"
  need_root
  local names here name
  names=$(hosts_of "$prefix")
  here=$(ip netns identify $$ 2>/dev/null || true)
  if [ -n "$here" ] && grep -qxF "$here" <<<"$names"; then
    die "down runs from the root namespace, not from inside $here"
  fi

  # SIGTERM, then SIGKILL for whatever is still there after 2 s.
  local pids tries
  # shellcheck disable=SC2086 # names and PIDs are words
  pids=$(pids_in $names)
  if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null || true
    for ((tries = 0; tries < 20; tries++)); do
      pids=$(pids_in $names)
      [ -n "$pids" ] || break
      sleep 0.1
    done
    for ((tries = 0; tries < 20 && ${#pids} > 0; tries++)); do
      kill -KILL $pids 2>/dev/null || true
      sleep 0.05
      pids=$(pids_in $names)
    done
    [ -z "$pids" ] || echo "hosts.sh: processes still in the hosts after SIGKILL: $pids" >&2
  fi

  # The root-side veth first: deleting it removes its peer at once, where a namespace's
  # interfaces go only when the kernel frees the namespace.
  local veth
  for veth in $(ip -o link show type veth | awk -F': ' '{split($2, a, "@"); print a[1]}' | grep -E "^${prefix}v[0-9]+$" || true); do
    ip link del "$veth" 2>/dev/null || true
  done
  for name in $names; do ip netns del "$name" 2>/dev/null || true; done
  if [ -d "/sys/class/net/${prefix}br0/bridge" ]; then ip link del "${prefix}br0" 2>/dev/null || true; fi
  rm -f "$STATE_DIR/$prefix"
}

case ${1:-} in
  -h | --help) usage ;;
  up) shift; cmd_up "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  cut | restore) cmd_cut_or_restore "$@" ;;
  list) shift; cmd_list "$@" ;;
  down) shift; cmd_down "$@" ;;
  "") usage >&2; exit 2 ;;
  *) usage_error "unknown command '$1'" ;;
esac
