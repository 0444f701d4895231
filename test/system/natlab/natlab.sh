#!/usr/bin/env bash
# natlab.sh — real NATs from Linux network namespaces, for the reachability tests.
#
#   natlab.sh up PREFIX              build a lab whose namespaces are all named PREFIX<role>
#   natlab.sh nat PREFIX NA|NB TYPE  (re)configure one NAT router and flush its conntrack state
#   natlab.sh gate PREFIX closed|open  cut (or restore) UDP between the two home networks only,
#                                    so punching fails while the relay still works
#   natlab.sh udp-timeout PREFIX NA|NB SECONDS  how long the router's conntrack keeps idle UDP
#                                    flows (replied or not); "default" restores Linux's 30 s / 120 s
#   natlab.sh portmap PREFIX NA|NB on|off  nftables table and chains for a port-mapping daemon
#                                    (miniupnpd) on the router, and the router's NAT rules let
#                                    its mappings and its STUN self-test through (docs/reachability.md)
#   natlab.sh v6 PREFIX NA|NB on|off|broken  give the home network behind the router global IPv6
#                                    (routed, no NAT66, stateful firewall), none at all (the
#                                    default), or addresses whose upstream drops every packet
#   natlab.sh down PREFIX            delete every namespace named PREFIX<role> (idempotent)
#   natlab.sh sweep                  delete leftovers of earlier runs whose owner process is gone
#
# NAT types: full-cone · address-restricted · port-restricted · symmetric · udp-blocked ·
# tcp443-only (only outbound TCP to port 443 gets out; not in the matrix, its own test).
#
# Topology (only documentation / shared address space, never the host's network):
#   PREFIXinet  bridge br0: "the internet", 203.0.113.0/24 (+ 2001:db8::/64), no address of its own
#   PREFIXS     servers: 203.0.113.10 and .11, 2001:db8::10 and ::11 (login server, supernodes); .12, .13 (their TCP 443 listeners)
#   PREFIXP     public host 203.0.113.30, 2001:db8::30 (no NAT)
#   PREFIXNA    NAT router, wan0 203.0.113.21, lan0 100.64.1.1/24 → PREFIXA 100.64.1.10
#               IPv6 (when on): wan0 2001:db8::21, lan0 2001:db8:1::1/64 → PREFIXA 2001:db8:1::10
#   PREFIXNB    NAT router, wan0 203.0.113.22, lan0 100.64.2.1/24 → PREFIXB 100.64.2.10
#               IPv6 (when on): wan0 2001:db8::22, lan0 2001:db8:2::1/64 → PREFIXB 2001:db8:2::10
# Every veth pair is created with both ends inside lab namespaces: nothing touches the root
# namespace, and no route leaves the lab.
#
# Why the rules look the way they do (each found the hard way, see docs/reachability.md):
#  - Full cone is not in mainline Linux: types full-cone and address-restricted forward inbound
#    UDP to the one LAN host on ports it has used (DMZ style), filtered per remote address for the
#    address-restricted type.
#  - A Linux port-restricted NAT turns symmetric when a peer's punch reaches the router before the
#    inside host sent anything (the unsolicited packet creates a conntrack entry that clashes with
#    the host's own later flow, so the host gets a fresh port). Unsolicited new inbound UDP to the
#    router itself is dropped in the input hook, before conntrack confirms it.
#  - ip_forward is per namespace and starts at 0.
#  - IPv6 is routed, not translated (no NAT66, as home routers do it), behind a stateful firewall
#    like theirs: inbound only for flows the LAN host started (established/related), so two homes
#    still need simultaneous open — but no mapping, no port prediction, no birthday punching.
set -euo pipefail

x() { local ns=$1; shift; ip netns exec "$PREFIX$ns" "$@"; }
lan_of() { case $1 in NA) echo 1;; NB) echo 2;; esac; }
wan_of() { case $1 in NA) echo 203.0.113.21;; NB) echo 203.0.113.22;; esac; }
ROLES=(inet S P NA NB A B)

check_prefix() {
  [[ ${1:-} =~ ^tcnat-[0-9]+-$ ]] || { echo "natlab: prefix must look like tcnat-<pid>-, got '${1:-}'" >&2; exit 2; }
}

rules() { # router type → nft ruleset
  local r=$1 t=$2 n; n=$(lan_of "$r")
  local host=100.64.$n.10 dnat="" masq='oifname "wan0" masquerade' inbound="" block=""
  # With a port-mapping daemon on the router: inbound UDP it forwards (DNAT in its own table) is
  # let through; the other types make no DNAT of their own, so only its mappings match. Its STUN
  # self-test is answered from the lab's STUN fixture's other address and port (unsolicited
  # flows to the router itself, otherwise dropped in the input hook).
  # The router's own traffic (the daemon's STUN test) leaves from its own address, untranslated:
  # a symmetric type's masquerade would otherwise give it random ports, as it does for the LAN.
  local portmap_fwd="" portmap_in="" portmap_out=""
  if [[ $PREFIX != unused ]] && x "$r" nft list table inet miniupnpd >/dev/null 2>&1; then
    portmap_out="oifname \"wan0\" ip saddr $(wan_of "$r") accept"
    portmap_fwd='iifname "wan0" ct status dnat accept'
    portmap_in='iifname "wan0" ip saddr { 203.0.113.10, 203.0.113.11 } udp sport { 3478, 3479 } counter accept'
  fi
  case $t in
    full-cone)          dnat="iifname \"wan0\" udp dport @mapped dnat to $host"
                        inbound='iifname "wan0" ct status dnat accept' ;;
    address-restricted) dnat="iifname \"wan0\" udp dport @mapped dnat to $host"
                        inbound='iifname "wan0" ct status dnat ip saddr . udp dport @permit accept' ;;
    port-restricted)    ;;
    symmetric)          masq='oifname "wan0" meta l4proto udp masquerade fully-random
    oifname "wan0" masquerade' ;;
    udp-blocked)        block='iifname "lan0" meta l4proto udp counter drop' ;;
    tcp443-only)        block='iifname "lan0" tcp dport 443 accept
    iifname "lan0" counter drop' ;;   # networks that let only HTTPS out
    *) echo "natlab: unknown NAT type '$t'" >&2; exit 2 ;;
  esac
  cat <<RULES
table ip natlab {
  comment "natlab-type $t"
  set mapped { type inet_service; flags timeout; timeout 120s; }
  set permit { type ipv4_addr . inet_service; flags timeout; timeout 120s; }
  chain nat_pre { type nat hook prerouting priority dstnat; policy accept;
    $dnat
  }
  chain nat_post { type nat hook postrouting priority srcnat; policy accept;
    $portmap_out
    $masq
  }
  chain filter_fwd { type filter hook forward priority filter; policy drop;
    $block
    iifname "lan0" meta l4proto udp update @mapped { udp sport }
    iifname "lan0" meta l4proto udp update @permit { ip daddr . udp sport }
    ct state established,related accept
    iifname "lan0" accept
    $inbound
    $portmap_fwd
  }
  chain filter_in { type filter hook input priority filter; policy accept;
    $portmap_in
    iifname "wan0" meta l4proto udp ct state new drop
  }
}
RULES
}

set_nat() { # router type
  local r=$1 t=$2 text
  text=$(rules "$r" "$t")
  x "$r" nft delete table ip natlab 2>/dev/null || true
  x "$r" nft -f - <<<"$text"
  x "$r" conntrack -F >/dev/null 2>&1 || true
  x "$r" conntrack -F -f ipv6 >/dev/null 2>&1 || true
}

v6_of() { case $1 in NA) echo 2001:db8::21;; NB) echo 2001:db8::22;; esac; }

firewall6() { # router — a home router's IPv6 firewall: routed, stateful, nothing unsolicited gets in
  x "$1" nft delete table ip6 natlab6 2>/dev/null || true
  x "$1" nft -f - <<RULES
table ip6 natlab6 {
  chain filter_fwd { type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan0" accept
    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
  }
}
RULES
}

v6() { # router on|off|broken — global IPv6 for the home network behind the router, none, or dead
  local r=$1 n c; n=$(lan_of "$r"); c=${r#N}
  [[ ${2:-} =~ ^(on|off|broken)$ ]] || { echo "natlab: v6 NA|NB on|off|broken, got '${2:-}'" >&2; exit 2; }
  x "$r" nft delete table ip6 natlab6cut 2>/dev/null || true
  x "$c" ip -6 route del default 2>/dev/null || true
  x "$c" ip -6 addr del "2001:db8:$n::10/64" dev eth0 2>/dev/null || true
  x "$r" ip -6 addr del "2001:db8:$n::1/64" dev lan0 2>/dev/null || true
  x "$r" conntrack -F -f ipv6 >/dev/null 2>&1 || true
  [[ $2 == off ]] && return 0
  x "$r" ip -6 addr add "2001:db8:$n::1/64" dev lan0 nodad
  x "$c" ip -6 addr add "2001:db8:$n::10/64" dev eth0 nodad
  x "$c" ip -6 route add default via "2001:db8:$n::1"
  [[ $2 == broken ]] || return 0
  # The host has its address and route, but nothing it sends gets past the router (a dead upstream).
  x "$r" nft -f - <<RULES
table ip6 natlab6cut {
  chain cut { type filter hook forward priority filter - 10; policy drop; }
}
RULES
}

gate() { # closed|open — on router NB, before conntrack (raw priority), so no state is left behind
  x NB nft delete table ip natgate 2>/dev/null || true
  [[ $1 == open ]] && return 0
  [[ $1 == closed ]] || { echo "natlab: gate closed|open, got '$1'" >&2; exit 2; }
  x NB nft -f - <<RULES
table ip natgate {
  chain pre { type filter hook prerouting priority raw; policy accept;
    meta l4proto udp ip saddr $(wan_of NA) counter drop
    meta l4proto udp ip daddr $(wan_of NA) counter drop
  }
}
RULES
}

udp_timeout() { # router seconds|default — conntrack timeouts are per namespace
  local r=$1 t=$2 u s
  if [[ $t == default ]]; then u=30; s=120; else [[ $t =~ ^[0-9]+$ ]] || { echo "natlab: udp-timeout SECONDS|default" >&2; exit 2; }; u=$t; s=$t; fi
  x "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$u" net.netfilter.nf_conntrack_udp_timeout_stream="$s"
}

portmap() { # router on|off — miniupnpd's own table (upnp_table_name / upnp_nat_table_name
  # miniupnpd): Debian's nft_init.sh, which should create it, sources a file the package lacks.
  local r=$1 t
  x "$r" nft delete table inet miniupnpd 2>/dev/null || true
  if [[ $2 == on ]]; then
    x "$r" nft -f - <<RULES
table inet miniupnpd {
  chain forward { type filter hook forward priority filter - 1; policy accept; }
  chain prerouting { type nat hook prerouting priority dstnat - 1; policy accept; }
  chain postrouting { type nat hook postrouting priority srcnat - 1; policy accept; }
}
RULES
  else [[ $2 == off ]] || { echo "natlab: portmap on|off, got '$2'" >&2; exit 2; }; fi
  t=$(x "$r" nft list table ip natlab | grep -oE 'comment "natlab-type [a-z-]+"' | cut -d' ' -f3 | tr -d '"')
  [[ -n $t ]] && set_nat "$r" "$t"
  return 0
}

veth() { ip -n "$PREFIX$1" link add "$2" type veth peer name "$4" netns "$PREFIX$3"; }

up() {
  for n in "${ROLES[@]}"; do ip netns add "$PREFIX$n"; x "$n" ip link set lo up; done
  x inet ip link add br0 type bridge
  x inet ip link set br0 up
  for h in S P NA NB; do
    local port; port=$(echo "$h" | tr 'A-Z' 'a-z')0
    local inner=eth0; [[ $h == N* ]] && inner=wan0
    veth inet "$port" "$h" "$inner"
    x inet ip link set "$port" master br0 up
    x "$h" ip link set "$inner" up
  done
  x S ip addr add 203.0.113.10/24 dev eth0
  x S ip addr add 203.0.113.11/24 dev eth0
  # Supernodes' port-443 TCP listeners on addresses of their own (the login server has .10:443).
  x S ip addr add 203.0.113.12/24 dev eth0
  x S ip addr add 203.0.113.13/24 dev eth0
  x S ip -6 addr add 2001:db8::10/64 dev eth0 nodad
  x S ip -6 addr add 2001:db8::11/64 dev eth0 nodad
  x P ip addr add 203.0.113.30/24 dev eth0
  x P ip -6 addr add 2001:db8::30/64 dev eth0 nodad
  for r in NA NB; do
    local n c; n=$(lan_of $r); c=${r#N}
    x "$r" ip addr add "$(wan_of $r)/24" dev wan0
    veth "$r" lan0 "$c" eth0
    x "$r" ip addr add 100.64.$n.1/24 dev lan0
    x "$r" ip link set lan0 up
    x "$c" ip addr add 100.64.$n.10/24 dev eth0
    x "$c" ip link set eth0 up
    x "$c" ip route add default via 100.64.$n.1
    x "$r" sysctl -qw net.ipv4.ip_forward=1
    x "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    set_nat "$r" port-restricted
    # IPv6: the router's wan0 address and the routes to each home's /64 are always there; the
    # home's own addresses come and go with `v6 on|off` (off by default: IPv4 only, as before).
    x "$r" ip -6 addr add "$(v6_of $r)/64" dev wan0 nodad
    x "$r" sysctl -qw net.ipv6.conf.all.forwarding=1
    firewall6 "$r"
  done
  for h in S P NA NB; do
    [[ $h != NA ]] && x "$h" ip -6 route add 2001:db8:1::/64 via "$(v6_of NA)"
    [[ $h != NB ]] && x "$h" ip -6 route add 2001:db8:2::/64 via "$(v6_of NB)"
  done
  return 0
}

down() {
  local n
  for n in "${ROLES[@]}"; do ip netns del "$PREFIX$n" 2>/dev/null || true; done
}

sweep() { # leftovers of runs that crashed: owner pid is part of the prefix
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^tcnat-[0-9]+-' || true); do
    pid=$(echo "$ns" | cut -d- -f2)
    if ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns" 2>/dev/null || true; fi
  done
}

cmd=${1:-}; shift || true
case $cmd in
  up)    check_prefix "${1:-}"; PREFIX=$1; up ;;
  nat)   check_prefix "${1:-}"; PREFIX=$1; set_nat "$2" "$3" ;;
  gate)  check_prefix "${1:-}"; PREFIX=$1; gate "${2:-}" ;;
  udp-timeout) check_prefix "${1:-}"; PREFIX=$1; udp_timeout "$2" "$3" ;;
  portmap) check_prefix "${1:-}"; PREFIX=$1; portmap "$2" "${3:-}" ;;
  v6)    check_prefix "${1:-}"; PREFIX=$1; v6 "$2" "${3:-}" ;;
  rules) PREFIX=unused; rules "$1" "$2" ;;
  down)  check_prefix "${1:-}"; PREFIX=$1; down ;;
  sweep) sweep ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
