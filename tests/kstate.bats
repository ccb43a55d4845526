#!/usr/bin/env bats
# scripts/kstate: lsof, ss and netstat for one port or process, each under
# its "$ command" line, with a reading under every socket line. Linux
# against real programs; macOS through tests/stubs/macos, whose lsof and
# netstat print recorded macOS output (tests/fixtures/kstate).

load helper
bats_require_minimum_version 1.5.0

KSTATE="$KIT_ROOT/scripts/kstate"
MACOS_STUBS="$BATS_TEST_DIRNAME/stubs/macos"

# section PREFIX: the lines kstate printed after its "$ PREFIX..." line, up
# to the next "$ " line (from $output).
section() {
	printf '%s\n' "$output" | awk -v p="\$ $1" '
		index($0, p) == 1 { on = 1; next }
		/^\$ / { on = 0 }
		on'
}

# section_has PREFIX REGEX: that section has a line matching REGEX.
section_has() {
	section "$1" | grep -qE -- "$2" || {
		echo "no line matching '$2' under '\$ $1'; kstate printed:" >&2
		printf '%s\n' "$output" >&2
		return 1
	}
}

# count_in PREFIX REGEX: how many lines of that section match REGEX.
count_in() { section "$1" | grep -cE -- "$2" || true; }

# reading_after PREFIX LINE-REGEX READING-REGEX: in that section, the line
# right after the one matching LINE-REGEX matches READING-REGEX.
reading_after() {
	section "$1" | grep -A1 -E -- "$2" | tail -n +2 | grep -qE -- "$3" || {
		echo "under '\$ $1', the line after '$2' does not match '$3':" >&2
		printf '%s\n' "$output" >&2
		return 1
	}
}

recv_q_is() { ss -Htan "( sport = :$1 )" | grep -qE "^ESTAB +$2 "; } # PORT N
ss_state() { [ -n "$(ss -Htan state "$1" "( sport = :$2 or dport = :$2 )")" ]; }
prompts() { [ "$(grep -c 'press Enter to run it' "$1" 2>/dev/null)" -ge "$2" ]; }

# step_until FD OUTFILE REGEX: answer a step-mode program's prompts with
# Enter (on FD) until the step it announces matches REGEX.
step_until() {
	local fd=$1 out=$2 re=$3 n
	for n in 1 2 3 4 5 6 7 8; do
		wait_until 5 prompts "$out" "$n" || return 1
		grep 'step: next:' "$out" | tail -1 | grep -qE -- "$re" && return 0
		echo >&"$fd"
	done
	echo "no step matching '$re' in $out" >&2
	return 1
}

@test "a listening tcpserver1: lsof, ss and netstat each show the port, read as LISTEN" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	section_has "lsof -w -n -P -i :$port" "TCP \*:$port \(LISTEN\)"
	section_has "ss -tuanp '( sport = :$port or dport = :$port )'" "LISTEN .*:$port .*pid=$SERVER_PID,"
	section_has "netstat -tuanp | grep" "LISTEN +$SERVER_PID/tcpserver1"
	reading_after "lsof" "\(LISTEN\)" "^    -> LISTEN: a server socket"
	reading_after "ss" "LISTEN" "-> LISTEN: .*Recv-Q 0 = connections waiting for accept\(\), Send-Q 5 = backlog"
	reading_after "netstat" "LISTEN" "^    -> LISTEN: "
	# The sections come in this order, each command shown once.
	[ "$(printf '%s\n' "$output" | grep -E '^\$ ' | cut -d' ' -f2 | tr '\n' ' ')" = "lsof ss netstat " ]
}

@test "an ESTABLISHED pair (tcpserver3 + tcpclient -w) reads ESTABLISHED on both ends" {
	port=$(free_port tcp)
	start_server tcpserver3 "$port"
	with_input client
	start_bg client "$BIN/tcpclient" -t 5 -m hi -w 127.0.0.1 "$port"
	feed_open client 4
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "Press Enter"
	cport=$(sed -nE 's/.*connected: fd [0-9]+ is 127\.0\.0\.1:([0-9]+) .*/\1/p' "$BATS_TEST_TMPDIR/client.out")
	[ -n "$cport" ]
	run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	reading_after lsof "127\.0\.0\.1:$cport->127\.0\.0\.1:$port \(ESTABLISHED\)" "-> ESTABLISHED: "
	reading_after lsof "127\.0\.0\.1:$port->127\.0\.0\.1:$cport \(ESTABLISHED\)" "-> ESTABLISHED: "
	reading_after ss "ESTAB .*127\.0\.0\.1:$cport +127\.0\.0\.1:$port " "-> ESTABLISHED: "
	reading_after ss "ESTAB .*127\.0\.0\.1:$port +127\.0\.0\.1:$cport " "-> ESTABLISHED: "
	[ "$(count_in ss '^    -> ESTABLISHED: ')" -eq 2 ]
	[ "$(count_in netstat '^    -> ESTABLISHED: ')" -eq 2 ]
	# Both ends are owned by a process: no orphan flag anywhere.
	[[ $output != *"owned by no process"* ]]
}

@test "tcpserver1 + tcpclient -w: FIN-WAIT-2 (no owner) and CLOSE-WAIT, then TIME-WAIT after Enter" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	with_input client
	start_bg client "$BIN/tcpclient" -t 5 -m hi -w 127.0.0.1 "$port"
	client=$LAST_PID
	feed_open client 4
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "Press Enter"
	wait_until 5 ss_state fin-wait-2 "$port"
	wait_until 5 ss_state close-wait "$port"

	run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	# ss and netstat see the server's end, which no process owns any more...
	reading_after ss "FIN-WAIT-2 .*127\.0\.0\.1:$port " "^    -> FIN-WAIT-2: we closed and our FIN was ACKed"
	reading_after ss "^    -> FIN-WAIT-2:" "^    -> owned by no process \(orphaned"
	reading_after ss "CLOSE-WAIT .*pid=$client," "^    -> CLOSE-WAIT: the peer closed; this end has not called close\(\) yet"
	reading_after netstat "FIN_WAIT2 +-" "^    -> FIN-WAIT-2: "
	reading_after netstat "^    -> FIN-WAIT-2:" "^    -> owned by no process \(orphaned"
	reading_after netstat "CLOSE_WAIT +$client/tcpclient" "^    -> CLOSE-WAIT: "
	section_has ss "^    \(1 connection here is owned by no process"
	# ...and lsof, which lists processes' files, sees only the client's end.
	reading_after lsof "\(CLOSE_WAIT\)" "^    -> CLOSE-WAIT: "
	[ "$(count_in lsof FIN)" -eq 0 ]
	# Not root, the orphan's line does not send the user to sudo: no
	# process owns it, for root neither.
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho 1000\n' >"$BATS_TEST_TMPDIR/bin/id"
	chmod +x "$BATS_TEST_TMPDIR/bin/id"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	reading_after ss "^    -> FIN-WAIT-2:" "^    -> owned by no process \(orphaned.*for root neither\)$"
	[[ $output != *"sudo shows every owner"* ]]

	echo >&4
	wait_until 5 ss_state time-wait "$port"
	run "$KSTATE" -t "$port"
	[ "$status" -eq 0 ]
	reading_after ss "TIME-WAIT .*127\.0\.0\.1:$port " "^    -> TIME-WAIT: the side that closed first waits 2\*MSL \(60 s on Linux\)"
	reading_after netstat "TIME_WAIT" "^    -> TIME-WAIT: .*'Address already in use'"
	[ "$(count_in lsof TIME)" -eq 0 ]
	[ "$(count_in ss CLOSE-WAIT)" -eq 0 ]
}

@test "a full accept queue: the queued connection waits for accept(), the next one reads SYN-SENT" {
	port=$(free_port tcp)
	# tcpserver1 -l 0 stopped before accept(): Linux queues one connection.
	with_input server
	start_bg server "$BIN/tcpserver1" -S -l 0 -p "$port"
	feed_open server 4
	step_until 4 "$BATS_TEST_TMPDIR/server.out" "accept"
	wait_until 5 tcp_listening "$port"
	start_bg c1 "$BIN/tcpclient" -t 10 -m hi 127.0.0.1 "$port"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/c1.out" "send\("
	start_bg c2 "$BIN/tcpclient" -t 10 -m hi 127.0.0.1 "$port"
	c2=$LAST_PID
	wait_until 5 ss_state syn-sent "$port"
	# c1's 3 bytes wait, unread, in the server end's Recv-Q
	wait_until 5 recv_q_is "$port" 3

	run "$KSTATE" -t "$port"
	[ "$status" -eq 0 ]
	reading_after ss "LISTEN +1 +0 " "Recv-Q 1 = connections waiting for accept\(\), Send-Q 0 = backlog \(full"
	reading_after ss "SYN-SENT .*pid=$c2," "^    -> SYN-SENT: connect\(\) sent SYN and no SYN-ACK came"
	# The server's end of c1 is ESTABLISHED, holds "hi\n" unread, has no fd yet.
	reading_after ss "ESTAB +3 .*127\.0\.0\.1:$port " "-> ESTABLISHED: .*Recv-Q 3: bytes that arrived and no recv\(\) has read yet"
	section_has ss "owned by no process yet: it waits in the listener's accept queue"
	reading_after lsof "\(SYN_SENT\)" "-> SYN-SENT: "
}

@test "a bound UDP server reads as bound UDP in lsof, ss and netstat" {
	port=$(free_port udp)
	start_server udpserver "$port"
	run "$KSTATE" -u "$port"
	[ "$status" -eq 0 ]
	reading_after "lsof -w -n -P -i UDP:$port" "UDP \*:$port" "^    -> UDP, bound: a bound UDP socket: UDP has no connection state"
	reading_after "ss -uanp" "UNCONN .*:$port .*pid=$SERVER_PID," "^    -> UDP, bound: "
	reading_after "netstat -uanp" ":$port .*$SERVER_PID/udpserver" "^    -> UDP, bound: "
}

@test "an unbound UDP socket (udpclient -S before sendto) shows up by -p PID as having no port" {
	port=$(free_port udp)
	with_input client
	start_bg client "$BIN/udpclient" -S -m hi 127.0.0.1 "$port"
	client=$LAST_PID
	feed_open client 4
	step_until 4 "$BATS_TEST_TMPDIR/client.out" "next: sendto"

	run "$KSTATE" -p "$client"
	[ "$status" -eq 0 ]
	reading_after "lsof -w -n -P -p $client | grep" "^udpclient +$client .* sock .*protocol: UDP" \
		"^    -> UDP, no port: a UDP socket with no port yet: the kernel assigns one at bind\(\) or the first sendto\(\)"
	# ss and netstat only list sockets that have a port.
	section_has "ss -tuanp | grep -E '^Netid|pid=$client,'" "no socket here"
	section_has "netstat -tuanp | grep -E '^Proto| $client/'" "no socket here"

	# One Enter more: sendto() binds it, and it becomes a bound UDP socket.
	echo >&4
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "now bound to"
	run "$KSTATE" -p "$client"
	[ "$status" -eq 0 ]
	reading_after ss "UNCONN .*pid=$client," "^    -> UDP, bound: "
	[[ $output != *"UDP, no port"* ]]
}

@test "-t and -u: one protocol each, in every tool's own syntax" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	start_server udpserver "$port"

	run "$KSTATE" -t "$port"
	[ "$status" -eq 0 ]
	section_has "lsof -w -n -P -i TCP:$port" "LISTEN"
	section_has "ss -tanp " "LISTEN"
	section_has "netstat -tanp " "LISTEN"
	[[ $output != *UDP,* && $output != *udpserver* ]]

	run "$KSTATE" -u "$port"
	[ "$status" -eq 0 ]
	section_has "lsof -w -n -P -i UDP:$port" "UDP, bound"
	section_has "ss -uanp " "UDP, bound"
	section_has "netstat -uanp " "UDP, bound"
	[[ $output != *LISTEN* && $output != *tcpserver* ]]

	run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	[ "$(count_in "ss -tuanp " '^    -> (LISTEN|UDP, bound):')" -eq 2 ]
}

@test "-p PID: that process's sockets only" {
	port=$(free_port tcp)
	other=$(free_port tcp)
	start_server tcpserver1 "$port"
	pid=$SERVER_PID
	start_server tcpserver3 "$other"
	run "$KSTATE" -p "$pid"
	[ "$status" -eq 0 ]
	reading_after "lsof -w -n -P -a -p $pid -i" "TCP \*:$port \(LISTEN\)" "-> LISTEN: "
	reading_after "ss -tuanp | grep -E '^Netid|pid=$pid,'" ":$port " "-> LISTEN: "
	reading_after "netstat -tuanp | grep -E '^Proto| $pid/'" ":$port " "-> LISTEN: "
	[[ $output != *":$other "* && $output != *tcpserver3* ]]
}

@test "nothing on the port (or no such process): one line, exit 1" {
	port=$(free_port tcp)
	run "$KSTATE" "$port"
	[ "$status" -eq 1 ]
	[ "$output" = "kstate: nothing uses port $port" ]

	sh -c 'exit 0' &
	gone=$!
	wait "$gone"
	run "$KSTATE" -p "$gone"
	[ "$status" -eq 1 ]
	[ "$output" = "kstate: no process $gone" ]

	# A live process with no socket at all.
	run "$KSTATE" -p $$
	[ "$status" -eq 1 ]
	[ "$output" = "kstate: process $$ has no sockets" ]
}

@test "usage errors: one line on stderr, exit 2; -h exits 0" {
	local args
	usage_errors '^kstate: .*\(kstate -h for help\)$' "$KSTATE" -- "" 0 65536 99999999999 12a -1 \
		"-x 12333" "12333 12334" "12333 -p 1" "-p" "-p abc" "-p 0" "-w 0 12333" "-w" "--watch 0.5"
	for args in "" " 80" "80 "; do # one argument each
		run --separate-stderr "$KSTATE" "$args"
		[ "$status" -eq 2 ]
		one_stderr_line "^kstate: "
	done
	run "$KSTATE" -h
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: kstate [-h] [-t|-u] [-w [SECONDS]] [PORT | -p PID]" ]]
}

@test "-w refreshes with a timestamp each time until stopped; -w PORT alone watches PORT" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	local out=$KIT_WORK/kw.out n
	start_bg kw "$KSTATE" -w 0.5 "$port"
	wait_until 10 eval "[ \"\$(grep -cE '^== [0-9]{2}:[0-9]{2}:[0-9]{2} kstate: port $port, every 0.5 s' '$out')\" -ge 3 ]"
	alive "$LAST_PID" # still refreshing
	kill "$LAST_PID"
	wait_until 5 gone "$LAST_PID"
	n=$(grep -cE "^== [0-9]{2}:[0-9]{2}:[0-9]{2} kstate: port $port, every 0.5 s" "$out")
	[ "$(grep -c '^    -> LISTEN:' "$out")" -ge $((3 * n - 3)) ]
	# Not a terminal: no screen-clearing escape in the output.
	not grep -q $'\033' "$out"

	start_bg kw2 "$KSTATE" --watch "$port" # 1 s refreshes, however slow lsof is
	wait_until 10 eval "[ \"\$(grep -cE '^== .* kstate: port $port, every 1 s' '$KIT_WORK/kw2.out')\" -ge 2 ]"
	alive "$LAST_PID"
}

@test "-w on a terminal clears the screen before each refresh" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	# script(1) gives kstate a pseudo-terminal as stdout.
	run timeout 10 script -qec "timeout 2 '$KSTATE' -w 0.5 $port" /dev/null
	[ "$(printf '%s' "$output" | grep -c $'\033\\[H\033\\[2J')" -ge 2 ]
}

@test "netstat missing: a note saying how to install it, the other tools still run" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	# A PATH with every tool kstate uses except netstat.
	mkdir "$BATS_TEST_TMPDIR/bin"
	for t in bash uname id lsof ss grep sed awk sort paste ps date sleep; do
		ln -s "$(command -v "$t")" "$BATS_TEST_TMPDIR/bin/$t"
	done
	PATH="$BATS_TEST_TMPDIR/bin" run "$BATS_TEST_TMPDIR/bin/bash" "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	[[ $output == *"(netstat is not installed: it is in net-tools (Debian/Ubuntu: sudo apt-get install net-tools))"* ]]
	section_has "lsof" "-> LISTEN:"
	section_has "ss" "-> LISTEN:"
	[[ $output != *'$ netstat'* ]]
}

@test "not root: says that other users' processes are not shown" {
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho 1000\n' >"$BATS_TEST_TMPDIR/bin/id"
	chmod +x "$BATS_TEST_TMPDIR/bin/id"
	# outside a private network (tests/run puts a normal user's suite in one)
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run env -u KIT_PRIVATE "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "(not root: "*"sudo kstate shows all)" ]]
	# In scripts/private's network every socket is the user's: no such note.
	KIT_PRIVATE=1 PATH="$BATS_TEST_TMPDIR/bin:$PATH" run "$KSTATE" "$port"
	[ "$status" -eq 0 ]
	[[ $output != *"not root"* ]]
	[[ $output != *sudo* ]]
}

@test "lsof runs with -w wherever the kit runs it: no warnings about file systems it cannot see (a private network's /run/netns, cgroups)" {
	# every lsof the tour, kstate and check run, as typed in the scripts
	local files=("$KIT_ROOT/scripts/kstate" "$KIT_ROOT/scripts/experiments.sh") bad
	[ "$(grep -cE '(^|[^-a-z])lsof -w' "${files[@]}" | awk -F: '{ n += $2 } END { print n }')" -ge 10 ]
	bad=$(grep -nE '(^|[^-a-z])lsof -([^w]|$)' "${files[@]}" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true)
	[ -z "$bad" ] || {
		echo "lsof without -w: $bad"
		return 1
	}
	port=$(free_port tcp)
	start_server tcpserver1 "$port"
	run "$KSTATE" -p "$SERVER_PID"
	[ "$status" -eq 0 ]
	[[ $output != *WARNING* ]]
	[[ $output != *"can't stat"* ]]
}

# --- macOS, through the stubs ------------------------------------------------

# macos ARGS...: run kstate with the macOS stubs first on PATH, their
# command lines in $STUB_LOG, and an ss that only records that it ran.
macos() {
	export STUB_LOG="$BATS_TEST_TMPDIR/stub.log"
	: >"$STUB_LOG"
	mkdir -p "$BATS_TEST_TMPDIR/spy"
	printf '#!/bin/sh\necho "ss $*" >>"%s"\n' "$STUB_LOG" >"$BATS_TEST_TMPDIR/spy/ss"
	chmod +x "$BATS_TEST_TMPDIR/spy/ss"
	PATH="$MACOS_STUBS:$BATS_TEST_TMPDIR/spy:$PATH" run "$KSTATE" "$@"
}

@test "macOS: lsof -i and netstat -an -p tcp/udp, no ss; BSD states read right" {
	macos 12333
	[ "$status" -eq 0 ]
	[ "$(cat "$STUB_LOG")" = $'lsof -w -n -P -i :12333\nnetstat -an -p tcp\nnetstat -an -p udp' ]
	[[ $output != *'$ ss'* ]]
	section_has "netstat -an -p tcp | grep -E '^Proto|\\.12333 '" "FIN_WAIT_2"
	reading_after "netstat -an -p tcp" "127\.0\.0\.1\.12333 +127\.0\.0\.1\.43706 +FIN_WAIT_2" "^    -> FIN-WAIT-2: we closed"
	# lsof does not list it: that is how macOS tells it has no owner.
	reading_after "netstat -an -p tcp" "^    -> FIN-WAIT-2:" "^    -> owned by no process \(orphaned"
	reading_after "netstat -an -p tcp" "43706 +127\.0\.0\.1\.12333 +CLOSE_WAIT" "^    -> CLOSE-WAIT: the peer closed"
	reading_after "netstat -an -p tcp" "\*\.12333 .*LISTEN" "^    -> LISTEN: "
	reading_after "netstat -an -p tcp" "43698 +TIME_WAIT" "^    -> TIME-WAIT: .*\(30 s on macOS\)"
	reading_after "lsof -w -n -P -i :12333" "\(CLOSE_WAIT\)" "^    -> CLOSE-WAIT: "
	reading_after "lsof -w -n -P -i :12333" "TCP \*:12333 \(LISTEN\)" "^    -> LISTEN: "
	# Exactly the four 12333 lines, none of the other ports.
	[ "$(count_in "netstat -an -p tcp" '^tcp')" -eq 4 ]
	section_has "netstat -an -p udp" "no socket here"
}

@test "macOS: -u, -t, -p PID, and a port that only appears inside a longer one" {
	macos -u 12122
	[ "$status" -eq 0 ]
	[ "$(cat "$STUB_LOG")" = $'lsof -w -n -P -i UDP:12122\nnetstat -an -p udp' ]
	reading_after "netstat -an -p udp" "^udp4 .*\*\.12122 " "^    -> UDP, bound: "
	reading_after "lsof" "UDP \*:12122" "^    -> UDP, bound: "

	macos -t 12333
	[ "$status" -eq 0 ]
	[ "$(cat "$STUB_LOG")" = $'lsof -w -n -P -i TCP:12333\nnetstat -an -p tcp' ]

	# -p: lsof for the pid, then netstat for the ports lsof found.
	macos -p 60837
	[ "$status" -eq 0 ]
	[[ $output == *"macOS netstat shows no pids"* ]]
	reading_after "lsof -w -n -P -a -p 60837 -i" "tcpserver 60837 .*\(LISTEN\)" "-> LISTEN: "
	section_has "netstat -an -p tcp | grep -E '^Proto|\\.12333 '" "FIN_WAIT_2"
	[ "$(grep -c '^ss' "$STUB_LOG" || true)" -eq 0 ]

	# macOS lsof shows a UDP socket with no port yet as UDP *:*.
	macos -p 60795
	[ "$status" -eq 0 ]
	reading_after lsof "UDP \*:\*" "^    -> UDP, no port: "

	# .2333 is not .12333: nothing there.
	macos 2333
	[ "$status" -eq 1 ]
	[ "$output" = "kstate: nothing uses port 2333" ]
}
