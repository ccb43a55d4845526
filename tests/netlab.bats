#!/usr/bin/env bats
# scripts/netlab: two network namespaces joined by a veth "en0", so that the
# walkthrough's en0-versus-localhost steps run on one Linux machine.
# shellcheck disable=SC2154 # bats' run sets stderr_lines
load helper
bats_require_minimum_version 1.5.0

NETLAB="$KIT_ROOT/scripts/netlab"

setup() {
	# Our own namespace names: a student's "netlab" is never touched.
	export NETLAB_NAME="kitnl$$r$RANDOM"
	HOST_NS=$NETLAB_NAME-host
	PEER_NS=$NETLAB_NAME-peer
}

teardown() {
	kit_teardown
	"$NETLAB" down >/dev/null 2>&1 || true
}

ns_udp_bound() { [ -n "$(ss -N "$1" -Huan "( sport = :$2 )")" ]; }
our_namespaces() { ip netns list 2>/dev/null | grep -E "^$NETLAB_NAME-(host|peer)( |$)" || true; }
gone() { ! alive "$1" || [[ "$(ps -o stat= -p "$1")" == Z* ]]; }
root_en0() { ip -o link show en0 2>/dev/null || true; }

@test "up builds host and peer, each with lo and en0 at its address" {
	need_netns
	before=$(root_en0)
	run "$NETLAB" up
	[ "$status" -eq 0 ]
	[[ "$output" == *"scripts/netlab run host ./udpserver -a 192.0.2.1"* ]]
	run ip -n "$HOST_NS" -br addr show en0
	[[ "$output" == *" UP "*"192.0.2.1/24"* ]]
	run ip -n "$PEER_NS" -br addr show en0
	[[ "$output" == *" UP "*"192.0.2.2/24"* ]]
	run ip -n "$HOST_NS" -br addr show lo
	[[ "$output" == *"127.0.0.1/8"* ]]
	run ip -n "$PEER_NS" -br addr show lo
	[[ "$output" == *"127.0.0.1/8"* ]]
	# Nothing was added to the real machine's own network.
	[ "$(root_en0)" = "$before" ]
	run "$NETLAB" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"$HOST_NS"*"192.0.2.1/24"*"$PEER_NS"*"192.0.2.2/24"* ]]
}

@test "up twice is fine and builds nothing twice" {
	need_netns
	"$NETLAB" up >/dev/null
	run "$NETLAB" up
	[ "$status" -eq 0 ]
	[[ "$output" == *"already up"* ]]
	[ "$(ip -n "$HOST_NS" -br addr | grep -c '192.0.2.1/24')" -eq 1 ]
	[ "$(ip -n "$HOST_NS" -br link | grep -c '^en0')" -eq 1 ]
}

@test "run host executes inside the host namespace; status and stdin pass through" {
	need_netns
	"$NETLAB" up >/dev/null
	run "$NETLAB" run host ip -br addr
	[ "$status" -eq 0 ]
	[[ "$output" == *en0*"192.0.2.1/24"* ]]
	[[ "$output" != *"192.0.2.2/24"* ]]
	run "$NETLAB" run peer ip -br addr show en0
	[[ "$output" == *"192.0.2.2/24"* ]]
	run "$NETLAB" run host sh -c 'exit 7'
	[ "$status" -eq 7 ]
	[ "$(echo through | "$NETLAB" run peer cat)" = through ]
	run env SHELL=/bin/sh "$NETLAB" shell peer <<<'ip -br addr show en0'
	[ "$status" -eq 0 ]
	[[ "$output" == *"192.0.2.2/24"* ]]
}

@test "udpclient in peer gets the echo of udpserver in host bound to en0" {
	need_netns
	"$NETLAB" up >/dev/null
	port=$(free_port udp)
	start_bg udpserver "$NETLAB" run host "$BIN/udpserver" -a 192.0.2.1 -p "$port"
	wait_until 5 ns_udp_bound "$HOST_NS" "$port"
	run "$NETLAB" run peer "$BIN/udpclient" -t 3 -m across 192.0.2.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *'from 192.0.2.1:'"$port"': "across"'* ]]
	file_has "$BATS_TEST_TMPDIR/udpserver.out" "from 192\.0\.2\.2:[0-9]+: \"across\""
}

@test "in host: a client bound to 127.0.0.1 reaches the server on 192.0.2.1; one sending to 127.0.0.1 does not" {
	need_netns
	"$NETLAB" up >/dev/null
	port=$(free_port udp)
	cport=$(free_port udp)
	start_bg udpserver "$NETLAB" run host "$BIN/udpserver" -a 192.0.2.1 -p "$port"
	wait_until 5 ns_udp_bound "$HOST_NS" "$port"
	# The weak host model: the kernel routes between its own interfaces.
	run "$NETLAB" run host "$BIN/udpclient" -b "127.0.0.1:$cport" -t 3 -m weak 192.0.2.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"weak" (same as sent)'* ]]
	file_has "$BATS_TEST_TMPDIR/udpserver.out" "from 127\.0\.0\.1:$cport: \"weak\""
	# The server listens on en0's address only: a datagram to localhost is lost.
	run "$NETLAB" run host "$BIN/udpclient" -t 1 -m lost 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	run ! file_has "$BATS_TEST_TMPDIR/udpserver.out" '"lost"'
}

@test "down leaves nothing behind, stops what ran inside, and is fine when already down" {
	need_netns
	before=$(root_en0)
	"$NETLAB" up >/dev/null
	ino=$(stat -L -c %i "/var/run/netns/$HOST_NS")
	port=$(free_port udp)
	start_bg udpserver "$NETLAB" run host "$BIN/udpserver" -a 192.0.2.1 -p "$port"
	pid=$LAST_PID
	wait_until 5 ns_udp_bound "$HOST_NS" "$port"
	run "$NETLAB" down
	[ "$status" -eq 0 ]
	[[ "$output" == *"stopping"*"$pid"* ]]
	# down sent it SIGTERM (128 + 15): it is gone (a zombie until reaped).
	wait_until 5 gone "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 143 ]
	[ -z "$(our_namespaces)" ]
	[ ! -e "/var/run/netns/$HOST_NS" ]
	[ ! -e "/var/run/netns/$PEER_NS" ]
	[ "$(root_en0)" = "$before" ]
	# No process is left in the host namespace, so it and its en0 are gone.
	held=0
	for f in /proc/[0-9]*/ns/net; do
		if [ "$(readlink "$f" 2>/dev/null)" = "net:[$ino]" ]; then
			held=$((held + 1))
		fi
	done
	[ "$held" -eq 0 ]
	run "$NETLAB" down
	[ "$status" -eq 0 ]
	[[ "$output" == *"not up"* ]]
}

@test "run, shell and status fail clearly when the lab is not up" {
	need_netns
	run --separate-stderr "$NETLAB" run host true
	[ "$status" -eq 1 ]
	one_stderr_line "not up.*netlab up"
	run --separate-stderr "$NETLAB" shell peer
	[ "$status" -eq 1 ]
	one_stderr_line "not up"
	run "$NETLAB" status
	[ "$status" -eq 1 ]
	[[ "$output" == *"not up"* ]]
	[ -z "$(our_namespaces)" ]
}

@test "a step that fails during up removes what was built" {
	need_netns
	real_ip=$(command -v ip)
	mkdir "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/ip" <<EOF
#!/bin/sh
# ip, except that giving the peer its address fails
case "\$*" in *"addr add 192.0.2.2/24"*) echo "RTNETLINK answers: simulated" >&2; exit 2 ;; esac
exec "$real_ip" "\$@"
EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/ip"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run "$NETLAB" up
	[ "$status" -eq 1 ]
	[[ "$output" == *"failed"*"192.0.2.2/24"* ]]
	[ -z "$(our_namespaces)" ]
}

@test "usage errors exit 2 with one line on stderr" {
	usage_errors "^netlab: " "$NETLAB" -- "" "bogus" "-x" "up now" "run" "run host" \
		"run moon true" "addr" "addr moon" "shell moon" "shell host peer"
	[ -z "$(our_namespaces)" ]
}

@test "-h prints the usage; addr prints each node's en0 address" {
	run "$NETLAB" -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: netlab "* ]]
	[[ "$output" == *"192.0.2.1"*"192.0.2.2"* ]]
	[ "$("$NETLAB" addr host)" = 192.0.2.1 ]
	[ "$("$NETLAB" addr peer)" = 192.0.2.2 ]
}

@test "where no namespace can be made: says why, and both ways to get one" {
	# an ip whose `netns add` fails as it does for a normal user outside
	# scripts/private
	mkdir "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/ip" <<'EOF'
#!/bin/sh
case "$*" in "netns add"*) echo "mount --make-shared /run/netns failed: Operation not permitted" >&2; exit 1 ;; esac
exit 0
EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/ip"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run --separate-stderr "$NETLAB" up
	[ "$status" -eq 1 ]
	[[ "${stderr_lines[0]}" == "netlab: up needs network namespaces, and making one failed here (mount --make-shared /run/netns failed: Operation not permitted)." ]]
	[[ "${stderr_lines[1]}" == *"Without sudo: scripts/netlab shell"* ]]
	[[ "${stderr_lines[2]}" == "  As root: sudo $NETLAB up" ]]
	[ -z "$(our_namespaces)" ]
}

@test "shell: host's lo and en0 in a private network, no sudo; exit leaves nothing behind" {
	need_netns
	# the server is left running: leaving the shell must stop it
	run bash -c "printf '%s\n' 'ip -br addr show en0' \
		'./udpserver -a 192.0.2.1 >/dev/null & echo server pid \$!; sleep 0.5' \
		'scripts/netlab run peer ./udpclient -t 3 -m across 192.0.2.1 | grep recvfrom' \
		| (cd '$KIT_ROOT' && SHELL=/bin/bash scripts/netlab shell)"
	[ "$status" -eq 0 ]
	[[ "$output" == *"a shell in host"* ]]
	[[ "$output" == *"en0"*"UP"*"192.0.2.1/24"* ]]
	[[ "$output" == *'"across" (same as sent)'* ]]
	# the lab's namespaces lived in the shell's private /run: none here
	[ -z "$(our_namespaces)" ]
	local pid
	pid=$(sed -n 's/^server pid \([0-9]*\)$/\1/p' <<<"$output")
	[ -n "$pid" ]
	wait_until 5 gone "$pid"
}

@test "without ip: names the package to install" {
	mkdir "$BATS_TEST_TMPDIR/bin"
	for tool in bash uname id cat; do
		ln -s "$(command -v "$tool")" "$BATS_TEST_TMPDIR/bin/$tool"
	done
	PATH="$BATS_TEST_TMPDIR/bin" run "$NETLAB" up
	[ "$status" -eq 1 ]
	[[ "$output" == *"iproute2"* ]]
}

@test "macOS: explains how to use the real en0 instead" {
	PATH="$KIT_ROOT/tests/stubs/macos:$PATH" run "$NETLAB" up
	[ "$status" -eq 1 ]
	[[ "$output" == *"ipconfig getifaddr en0"* ]]
	[[ "$output" == *"./udpserver -a "* ]]
	PATH="$KIT_ROOT/tests/stubs/macos:$PATH" run "$NETLAB" run host true
	[ "$status" -eq 1 ]
	[[ "$output" == *"en0"* ]]
	PATH="$KIT_ROOT/tests/stubs/macos:$PATH" run "$NETLAB" down
	[ "$status" -eq 0 ]
	[ -z "$(our_namespaces)" ]
}
