#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $status come from bats' run
# Servers that survive anything a client does: resets, vanishing and
# flooding clients, more connections than select() can watch, connect
# floods, signals, 100 MB of binary, escape sequences. The clients that
# misbehave are in tests/tools/peer.py.

load helper
bats_require_minimum_version 1.5.0

setup() {
	port=$(free_port)
	PEER="$BATS_TEST_DIRNAME/tools/peer.py"
}

peer() { python3 "$PEER" "$port" "$@"; }

# served: a normal client still gets its echo, and the server is alive
served() {
	run --separate-stderr prog tcpclient -t 5 -m "still here" 127.0.0.1 "$port"
	[ "$status" -eq 0 ] || {
		echo "not served: $stderr" >&2
		return 1
	}
	alive "$SERVER_PID"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# survives SERVER MODE: a client misbehaves (peer.py MODE), the server logs
# it and serves the next client
survives() {
	start_server "$1" "$port"
	run peer "$2"
	[ "$status" -eq 0 ]
	wait_until 5 file_has "$SERVER_OUT" "reset|closed the connection|Broken pipe|is gone|close\(fd"
	served
}

@test "tcpserver1 outlives a client that resets mid-exchange" { survives tcpserver1 reset; }
@test "tcpserver2 outlives a client that resets mid-exchange" { survives tcpserver2 reset; }
@test "tcpserver3 outlives a client that resets mid-exchange" { survives tcpserver3 reset; }
@test "multi outlives a client that resets mid-exchange" { survives multi reset; }
@test "tcpserver1 outlives a client that sends 1 MB and vanishes without reading" { survives tcpserver1 vanish; }
@test "tcpserver2 outlives a client that sends 1 MB and vanishes without reading" { survives tcpserver2 vanish; }
@test "tcpserver3 outlives a client that sends 1 MB and vanishes without reading" { survives tcpserver3 vanish; }
@test "multi outlives a client that sends 1 MB and vanishes without reading" { survives multi vanish; }

@test "tcpserver3: 20 clients that never read: the others are served, memory stays bounded" {
	start_server tcpserver3 "$port" -q
	before=$(rss_kb "$SERVER_PID")
	for i in $(seq 1 20); do
		start_bg "noread$i" python3 "$PEER" "$port" noread 1
	done
	wait_until 10 file_count_all 20 "sent [0-9]+ bytes without reading"
	run peer echo 10
	[ "$status" -eq 0 ]
	served
	after=$(rss_kb "$SERVER_PID")
	note "tcpserver3 RSS ${before} kB before, ${after} kB with 20 stuck clients"
	# at most one 64 KiB chunk pending per client: 20 x 64 KiB = 1.3 MB
	if [ -z "${KIT_SANITIZE:-}" ]; then # ASan keeps freed memory in quarantine
		[ $((after - before)) -lt 4096 ]
	fi
}

# file_count_all N REGEX: N of the noread*.out files have a line matching REGEX
file_count_all() {
	[ "$(grep -lE -- "$2" "$BATS_TEST_TMPDIR"/noread*.out 2>/dev/null | wc -l)" -ge "$1" ]
}

@test "multi: a client that never reads stalls only its own child" {
	start_server multi "$port"
	start_bg noread1 python3 "$PEER" "$port" noread 1
	wait_until 10 file_count_all 1 "sent [0-9]+ bytes without reading"
	run peer echo 10
	[ "$status" -eq 0 ]
	served
	[ "$(pgrep -P "$SERVER_PID" | wc -l)" -eq 1 ] # the stuck one's child, only
}

@test "tcpserver3: 1100 connections with ulimit -n 4096: fds past FD_SETSIZE are refused, the rest served" {
	# -l 1024: a backlog of 5 would drop SYNs of this fast a connector (one
	# second of retry each), which is not what this test is about
	NOFILE=4096 start_server tcpserver3 "$port" -l 1024
	run peer fdflood 1100
	[ "$status" -eq 0 ]
	served_n=$(sed -n 's/served \([0-9]*\) closed.*/\1/p' <<<"$output")
	closed_n=$(sed -n 's/.*closed \([0-9]*\)/\1/p' <<<"$output")
	note "$output"
	[ "$served_n" -ge 1000 ]
	[ "$closed_n" -ge 50 ]
	[ $((served_n + closed_n)) -eq 1100 ]
	file_has "$SERVER_OUT" "= fd 1024 from .*select\(\) can only watch fds below FD_SETSIZE \(1024\): closing"
	not file_has "$SERVER_OUT" "AddressSanitizer|buffer overflow|stack smashing"
	wait_until 10 file_has "$SERVER_OUT" "\(0 clients now\)"
	served
}

@test "multi: a flood of 400 connects: the child cap (-m 16) holds, no zombie is left, it still answers" {
	start_server multi "$port" -m 16 -l 64 -q
	start_bg flood python3 "$PEER" "$port" connflood 400
	flood=$LAST_PID
	max=0
	local deadline=$((SECONDS + 60))
	while alive "$flood" && [ "$SECONDS" -lt "$deadline" ]; do
		n=$(pgrep -P "$SERVER_PID" | wc -l)
		[ "$n" -le "$max" ] || max=$n
		sleep 0.02 # a sampling interval, not a wait for something
	done
	gone "$flood"
	note "most children seen during the flood: $max"
	[ "$max" -le 16 ]
	[ "$max" -ge 1 ]
	wait_until 10 eval "[ -z \"\$(pgrep -P $SERVER_PID)\" ]"
	served
	wait_until 5 eval "[ -z \"\$(pgrep -r Z -P $SERVER_PID)\" ]"
}

@test "multi: 300 clients come and go (a SIGCHLD storm), plus 500 stray SIGCHLDs: all reaped, accept goes on" {
	start_server multi "$port"
	start_bg churn python3 "$PEER" "$port" churn 300
	churn=$LAST_PID
	for _ in $(seq 1 500); do kill -CHLD "$SERVER_PID"; done
	wait_until 30 file_has "$BATS_TEST_TMPDIR/churn.out" "300 clients came and went"
	wait_until 10 file_count "$SERVER_OUT" "exited with status 0" 300
	[ -z "$(pgrep -r Z -P "$SERVER_PID")" ]
	not file_has "$SERVER_OUT" "accept\(fd 3\): Interrupted"
	wait "$churn"
	served
}

# stop_cont SERVER: stopped, a client connects and sends; continued, it is answered
stop_cont() {
	start_server "$1" "$port"
	kill -STOP "$SERVER_PID"
	start_bg client "$BIN/tcpclient" -t 10 -m "while stopped" 127.0.0.1 "$port"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "send\(fd 3\)"
	not file_has "$BATS_TEST_TMPDIR/client.out" "reply:"
	kill -CONT "$SERVER_PID"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "reply: 14 bytes, the same as we sent"
	served
}

@test "tcpserver1: stopped and continued (SIGSTOP/SIGCONT), it goes on serving" { stop_cont tcpserver1; }
@test "tcpserver3: stopped and continued (SIGSTOP/SIGCONT), it goes on serving" { stop_cont tcpserver3; }
@test "multi: stopped and continued (SIGSTOP/SIGCONT), it goes on serving" { stop_cont multi; }

@test "udpserver: stopped and continued, the datagram that waited is answered" {
	uport=$(free_port udp)
	start_server udpserver "$uport"
	kill -STOP "$SERVER_PID"
	start_bg client "$BIN/udpclient" -t 10 -m "while stopped" 127.0.0.1 "$uport"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "waiting in recvfrom"
	kill -CONT "$SERVER_PID"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "same as sent"
}

@test "tcpserver3: 100 MB of random binary comes back identical" {
	start_server tcpserver3 "$port" -q
	run peer bytes 100
	[ "$status" -eq 0 ]
	[[ "$output" == "100 MB identical"* ]]
}

@test "multi: 100 MB of random binary comes back identical" {
	start_server multi "$port" -q
	run peer bytes 100
	[ "$status" -eq 0 ]
	[[ "$output" == "100 MB identical"* ]]
}

@test "every server: escape sequences and control bytes reach the operator's terminal escaped" {
	evil=$'\033]0;owned\007\033[2J\033[31mred\r\001\n'
	for s in tcpserver1 tcpserver2 tcpserver3 multi; do
		port=$(free_port)
		start_server "$s" "$port"
		printf '%s' "$evil" | prog tcpclient -t 5 127.0.0.1 "$port" >/dev/null
		wait_until 5 file_has "$SERVER_OUT" 'x1b\]0;owned\\x07\\x1b\[2J\\x1b\[31mred\\r\\x01\\n'
		not grep -q $'[\033\007\r\001]' "$SERVER_OUT"
	done
	uport=$(free_port udp)
	start_server udpserver "$uport"
	printf '%s' "$evil" | prog udpclient -t 5 127.0.0.1 "$uport" >/dev/null
	wait_until 5 file_has "$SERVER_OUT" 'x1b\]0;owned\\x07\\x1b\[2J'
	not grep -q $'[\033\007\r\001]' "$SERVER_OUT"
}
