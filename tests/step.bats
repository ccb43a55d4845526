#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $status come from bats' run
# Step mode (-S) of all seven programs, driven through every pause. At each
# pause the program says what lsof/netstat/ss show *now*; the test looks
# (ss and lsof, on the program's pid and fd) and checks the claim is true.

load helper
bats_require_minimum_version 1.5.0

pauses() { grep -c 'step: press Enter to run it' "$1" || true; }
has_pauses() { [ "$(pauses "$1")" -ge "$2" ]; }

# step_text OUT K next|now: the call, or the "now" claim, of pause K
step_text() {
	awk -v k="$2" -v what="$3" '
		/step: next: / { n++; if (n == k && what == "next") { sub(/.*step: next: /, ""); print; exit } }
		/step:   now:   / { if (n == k && what == "now") { sub(/.*step:   now:   /, ""); print; exit } }
	' "$1"
}

# What the kernel shows for PID (and its fd FD), each a test of one claim.
socket_fds() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
is_socket() { [[ "$(readlink "/proc/$1/fd/$2")" == socket:* ]]; }
ss_owned() { ss -Htuanp | grep "pid=$1,fd=$2)"; } # the ss lines of that fd
in_state() { ss_owned "$1" "$2" | grep -qE "^(tcp|udp) +$3 "; } # in_state PID FD STATE
in_ss() { ss -Htuanp | grep -q "pid=$1,"; }
lsof_fd() { lsof -n -P -a -p "$1" -d "$2" 2>/dev/null | tail -n +2; }

# check_claim PID NOW: the "now" text of a pause agrees with ss and lsof
check_claim() {
	local pid=$1 now=$2 fd
	fd=$(sed -n 's/^fd \([0-9]*\).*/\1/p' <<<"$now")
	case "$now" in
	"no socket yet" | "no socket")
		[ "$(socket_fds "$pid")" -eq 0 ] ;;
	*"has no address"* | *"has no port"*)
		is_socket "$pid" "$fd" && not in_ss "$pid"
		[[ "$now" != *"has no port yet"* ]] || lsof_fd "$pid" "$fd" | grep -q 'sock .*protocol: UDP' ;;
	*"not listening"*)
		is_socket "$pid" "$fd" && not in_ss "$pid" ;;
	*"is not connected"*)
		is_socket "$pid" "$fd" && not in_state "$pid" "$fd" ESTAB ;;
	*LISTEN*)
		in_state "$pid" "$fd" LISTEN
		lsof_fd "$pid" "$fd" | grep -q '(LISTEN)'
		if [[ "$now" =~ and\ ([0-9]+)\ client ]]; then # select: N clients
			[ "$(ss -Htanp state established state close-wait | grep -c "pid=$pid,")" -eq "${BASH_REMATCH[1]}" ]
		fi ;;
	*"ESTABLISHED"*"(CLOSE_WAIT once"*) # the peer may close at any moment
		in_state "$pid" "$fd" "(ESTAB|CLOSE-WAIT)"
		lsof_fd "$pid" "$fd" | grep -qE '\((ESTABLISHED|CLOSE_WAIT)\)' ;;
	*CLOSE_WAIT*)
		in_state "$pid" "$fd" CLOSE-WAIT
		lsof_fd "$pid" "$fd" | grep -q '(CLOSE_WAIT)' ;;
	*ESTABLISHED*)
		in_state "$pid" "$fd" ESTAB
		lsof_fd "$pid" "$fd" | grep -q '(ESTABLISHED)' ;;
	*" is *:"* | *"bound to *:"*) # a bound UDP socket, no peer
		local port
		port=$(sed -n 's/.*\*:\([0-9]*\).*/\1/p' <<<"$now")
		ss_owned "$pid" "$fd" | grep -qE "^udp +UNCONN .*:$port +[^ ]*:\*"
		lsof_fd "$pid" "$fd" | grep -q "UDP \*:$port" ;;
	*)
		echo "no check for the claim: $now" >&2
		return 1 ;;
	esac
}

# drive NAME PID LAST [AT CMD...]: press Enter at every pause of the program
# whose output is $BATS_TEST_TMPDIR/NAME.out (stdin fed on fd 7), checking
# each claim first, until a pause whose call matches LAST has been checked
# (Enter there is left to the test). CMD runs once, before the Enter of the
# first pause whose call matches AT (e.g. start a client when the server is
# about to accept). STEP_K counts the pauses seen.
drive() {
	local out="$BATS_TEST_TMPDIR/$1.out" pid=$2 last=$3 at=${4:-} call now k
	shift 4 || shift $#
	while :; do
		k=$((++STEP_K))
		wait_until 10 has_pauses "$out" "$k" || {
			cat "$out" >&2
			return 1
		}
		call=$(step_text "$out" "$k" next)
		now=$(step_text "$out" "$k" now)
		# The program is paused, but the kernel may still be finishing what
		# the last call began (a peer's ACK, a FIN): wait for the claim.
		wait_until 3 check_claim "$pid" "$now" 2>/dev/null || {
			echo "pause $k, before $call: the claim '$now' is not what the kernel shows:" >&2
			ss -tuanp | grep "pid=$pid," >&2
			lsof -n -P -p "$pid" >&2
			return 1
		}
		CALLS+=("$call")
		if [ -n "$at" ] && [[ "$call" =~ $at ]]; then
			"$@"
			at=
		fi
		[[ "$call" =~ $last ]] && return 0
		echo >&7
	done
}

start_stepping() { # start_stepping NAME PROG ARGS...: -S, stdin from a FIFO on fd 7
	local name=$1
	shift
	with_input "$name"
	start_bg "$name" "$BIN/$1" -S "${@:2}"
	STEP_PID=$LAST_PID
	feed_open "$name" 7
	CALLS=()
	STEP_K=0
}

@test "udpserver -S: socket, bind, recvfrom, sendto: each claim holds" {
	port=$(free_port udp)
	start_stepping server udpserver -p "$port"
	drive server "$STEP_PID" '^sendto' '^recvfrom' start_bg client "$BIN/udpclient" -t 5 -m hi 127.0.0.1 "$port"
	echo >&7
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "same as sent"
	[ "${CALLS[*]}" = "socket(AF_INET, SOCK_DGRAM, 0) bind(fd 3, *:$port) recvfrom(fd 3) sendto(fd 3, 2 bytes, 127.0.0.1:$(sed -n 's/.*bound to \*:\([0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/client.out"))" ]
}

@test "udpclient -S: no port until sendto, then the kernel's port until close" {
	port=$(free_port udp)
	start_server udpserver "$port"
	start_stepping client udpclient -t 5 -m hi 127.0.0.1 "$port"
	drive client "$STEP_PID" '^close'
	echo >&7
	wait_until 5 gone "$STEP_PID"
	[ "${CALLS[0]}" = "socket(AF_INET, SOCK_DGRAM, 0)" ]
	[[ "${CALLS[1]}" == "sendto(fd 3, 2 bytes, 127.0.0.1:$port)" ]]
	[ "${CALLS[2]}" = "recvfrom(fd 3)" ]
	[ "${CALLS[3]}" = "close(fd 3)" ]
}

@test "udpclient -S -b: the port exists from bind on" {
	port=$(free_port udp)
	cport=$(free_port udp)
	start_server udpserver "$port"
	start_stepping client udpclient -t 5 -b "$cport" -m hi 127.0.0.1 "$port"
	drive client "$STEP_PID" '^close'
	[ "${CALLS[1]}" = "bind(fd 3, *:$cport)" ]
	[ "$(step_text "$BATS_TEST_TMPDIR/client.out" 3 now)" = "fd 3 is *:$cport" ]
}

@test "tcpserver1 -S: LISTEN only after listen(); accept, recv, send, close; then accept again" {
	port=$(free_port)
	start_stepping server tcpserver1 -p "$port"
	drive server "$STEP_PID" '^accept' # the first accept: LISTEN by now
	tcp_listening "$port"
	start_bg client "$BIN/tcpclient" -t 10 -m hi 127.0.0.1 "$port"
	echo >&7
	drive server "$STEP_PID" '^accept' # recv, send, close, and the next accept
	[ "${CALLS[*]}" = "socket(AF_INET, SOCK_STREAM, 0) bind(fd 3, *:$port) listen(fd 3, 5) accept(fd 3) recv(fd 4) send(fd 4, 3 bytes) close(fd 4) accept(fd 3)" ]
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "same as we sent"
}

@test "tcpserver1 -S -r: the setsockopt pause" {
	port=$(free_port)
	start_stepping server tcpserver1 -r -p "$port"
	drive server "$STEP_PID" '^listen'
	[ "${CALLS[1]}" = "setsockopt(fd 3, SO_REUSEADDR, 1)" ]
}

@test "tcpclient -S: connect does the handshake; send, recv; close from CLOSE_WAIT" {
	port=$(free_port)
	start_server tcpserver1 "$port"
	start_stepping client tcpclient -t 5 -m hi 127.0.0.1 "$port"
	drive client "$STEP_PID" '^close'
	[ "${CALLS[*]}" = "socket(AF_INET, SOCK_STREAM, 0) connect(fd 3, 127.0.0.1:$port) send(fd 3, 3 bytes) recv(fd 3) close(fd 3)" ]
	[[ "$(step_text "$BATS_TEST_TMPDIR/client.out" 5 now)" == "fd 3 CLOSE_WAIT"* ]]
	echo >&7
	wait_until 5 gone "$STEP_PID"
}

@test "tcpserver2 -S: getaddrinfo, socket, IPV6_V6ONLY, bind, listen, accept" {
	port=$(free_port)
	start_stepping server tcpserver2 -p "$port"
	drive server "$STEP_PID" '^accept'
	[ "${CALLS[*]}" = "getaddrinfo(NULL, \"$port\", AI_PASSIVE, AF_UNSPEC) socket(AF_INET6, SOCK_STREAM, 0) setsockopt(fd 3, IPV6_V6ONLY, 0) bind(fd 3, [::]:$port) listen(fd 3, 5) accept(fd 3)" ]
}

@test "tcpserver3 -S: select, accept, recv, send, and close when the client goes" {
	port=$(free_port)
	start_stepping server tcpserver3 -p "$port"
	drive server "$STEP_PID" '^select'
	with_input client
	start_bg client "$BIN/tcpclient" -t 10 -w -m hi 127.0.0.1 "$port"
	feed_open client 8
	echo >&7
	drive server "$STEP_PID" '^send'
	echo >&7
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "Press Enter"
	echo >&8 # the client closes
	drive server "$STEP_PID" '^close'
	echo >&7
	drive server "$STEP_PID" '^select' # back to the loop, 0 clients
	[[ "${CALLS[*]}" == *"select(4 fds) accept(fd 3) accept(fd 3) select(5 fds) recv(fd 4) send(fd 4, 3 bytes) select(5 fds) recv(fd 4) close(fd 4) select(4 fds)" ]]
}

@test "multi -S: accept, fork, and the child serves while the parent accepts again" {
	port=$(free_port)
	start_stepping server multi -p "$port"
	drive server "$STEP_PID" '^fork' '^accept' start_bg client "$BIN/tcpclient" -t 10 -m hi -m again 127.0.0.1 "$port"
	echo >&7
	drive server "$STEP_PID" '^accept'
	# the child served the client without pausing
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" 'recv\(fd 3\) = 6 bytes: "again'
	[ "${CALLS[*]}" = "socket(AF_INET, SOCK_STREAM, 0) bind(fd 3, *:$port) listen(fd 3, 5) accept(fd 3) fork() accept(fd 3)" ]
}

# said_after_pause OUT: the log never says a call is running before it is
# (issue 22, item 6): each "waiting in CALL(fd N)" line, and connect()'s
# "sending SYN" line, comes right after the pause for that call; and there
# is at least one such line.
said_after_pause() {
	awk '
		/step: next: / { call = $0; sub(/.*step: next: /, "", call) }
		/: waiting in [a-z]+\(fd [0-9]+\)|: connect\(fd [0-9]+, .*: sending SYN/ {
			n++
			w = $0; sub(/^[^:]*: (waiting in )?/, "", w); sub(/\).*/, ")", w); sub(/,.*/, "", w)
			if (prev !~ /step: press Enter to run it$/ || index(call, w) != 1) {
				print "said before its pause: " $0 " (the line before: " prev ")"
				bad = 1
			}
		}
		{ prev = $0 }
		END { if (n == 0) { print "no waiting line"; bad = 1 }; exit bad }' "$1"
}

@test "step mode: 'waiting in accept()' comes after accept's pause, not before (tcpserver1, tcpserver2)" {
	for s in tcpserver1 tcpserver2; do
		port=$(free_port)
		start_stepping "$s" "$s" -p "$port"
		drive "$s" "$STEP_PID" '^accept'
		tcp_listening "$port"
		run ! file_has "$BATS_TEST_TMPDIR/$s.out" "waiting in accept"
		start_bg "$s-client" "$BIN/tcpclient" -t 10 -m hi 127.0.0.1 "$port"
		echo >&7
		drive "$s" "$STEP_PID" '^accept' # recv, send, close, and the next accept
		wait_until 5 file_has "$BATS_TEST_TMPDIR/$s-client.out" "same as we sent"
		run ! file_count "$BATS_TEST_TMPDIR/$s.out" "waiting in accept" 2
		echo >&7
		wait_until 5 file_count "$BATS_TEST_TMPDIR/$s.out" "waiting in accept" 2
		said_after_pause "$BATS_TEST_TMPDIR/$s.out"
		exec 7>&-
	done
}

@test "step mode: the clients say they wait for the reply after recv's pause, and connect's SYN after its pause" {
	port=$(free_port)
	start_server tcpserver1 "$port"
	start_stepping client tcpclient -t 5 -m hi 127.0.0.1 "$port"
	drive client "$STEP_PID" '^close'
	echo >&7
	wait_until 5 gone "$STEP_PID"
	said_after_pause "$BATS_TEST_TMPDIR/client.out"
	[ "$(grep -c 'waiting in recv(fd 3) for the reply (at most 5 s)' "$BATS_TEST_TMPDIR/client.out")" -eq 1 ]
	exec 7>&-
	uport=$(free_port udp)
	start_server udpserver "$uport"
	start_stepping uclient udpclient -t 5 -m hi 127.0.0.1 "$uport"
	drive uclient "$STEP_PID" '^close'
	echo >&7
	wait_until 5 gone "$STEP_PID"
	said_after_pause "$BATS_TEST_TMPDIR/uclient.out"
}

@test "step mode: at the end of standard input the program runs on without pausing" {
	port=$(free_port udp)
	start_server udpserver "$port"
	run --separate-stderr prog udpclient -S -t 5 -m hi 127.0.0.1 "$port" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"standard input is closed: running on without pauses"* ]]
	[[ "$output" == *"(same as sent)"* ]]
}
