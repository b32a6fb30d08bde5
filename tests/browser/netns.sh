#!/bin/sh
# Runs a command in a network of its own, for the browser tests and the browser benchmark.
# Start it as `unshare -rnpm --fork --kill-child --mount-proc sh tests/browser/netns.sh CMD...`:
# a user, network, PID and mount namespace that the caller makes without privileges, so the
# command and everything it starts (podseed serve, Chromium) reach nothing outside, and all
# of them die with it.
#
# Chromium gathers no WebRTC ICE candidates on loopback alone, so the namespace gets a veth
# pair with 10.99.0.1/24 and a default route on it: browsers find each other at 10.99.0.1,
# while the page itself stays on http://127.0.0.1 (a secure context, which service workers
# need).
set -eu
ip link set lo up
ip link add pod0 type veth peer name pod1
ip addr add 10.99.0.1/24 dev pod0
ip link set pod0 up
ip link set pod1 up
ip route add default dev pod0
exec "$@"
