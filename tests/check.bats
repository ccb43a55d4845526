#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# scripts/check against the kit's own servers: tcpserver3 and multi pass
# every check, tcpserver1 and tcpserver2 serve one client at a time, the
# UDP checks with udpserver, -c against a running server, the formats, the
# usage errors, a server that never answers, and nothing left running.
# (The broken fixture servers, one per check: tests/check-fixtures.bats.)

load helper
bats_require_minimum_version 1.5.0

check() { "$KIT_ROOT/scripts/check" -T 60 "$@" 3>&- 4>&-; }
# show: the output, for the failure report (every line a TAP comment)
show() { printf '# %s\n' "${lines[@]}" >&3; }

# verdict CHECK VERDICT: the table line of CHECK says VERDICT
verdict() {
	grep -qE "^$1 +$2" <<<"$output" || {
		echo "expected $1: $2 in:" >&2
		echo "$output" >&2
		return 1
	}
}

@test "check: usage errors are one line and exit status 2" {
	usage_errors '^check: ' "$KIT_ROOT/scripts/check" -- \
		"" "-x ./srv {port}" "true" "-f xml true {port}" "-k nope true {port}" \
		"-p 0 true" "-p 5 true {port}" "-T x true {port}" "-c 127.0.0.1" \
		"-c 10.0.0.1 80" "-c example.com 80" "-c 127.0.0.1 99999" "-u -k many true {port}" "./no-such-server {port}"
	run --separate-stderr check -h
	[ "$status" -eq 0 ]
	[[ $output == usage:* ]]
}

@test "check: tcpserver3 -r passes every check (ipv6: reported, not failed, IPv4 only); -f json" {
	run --separate-stderr check -f json "$BIN/tcpserver3" -r -q -p '{port}'
	show
	[ "$status" -eq 0 ]
	python3 -m json.tool <<<"$output" >/dev/null
	for c in echo concurrent many reset vanish half-close slow-reader junk sigpipe fds children restart; do
		grep -qF "{\"name\": \"$c\", \"verdict\": \"pass\"" <<<"$output"
	done
	grep -qF '{"name": "ipv6", "verdict": "skip", "evidence": "IPv4 only' <<<"$output"
	grep -qF '"failed": 0' <<<"$output"
	grep -qF '1000 clients connected at once, each echoed' <<<"$output"
}

@test "check: multi -r -m 1024 passes every check; -f tap" {
	run --separate-stderr check -f tap "$BIN/multi" -r -q -m 1024 -p '{port}'
	show
	[ "$status" -eq 0 ]
	[ "$(head -2 <<<"$output")" = "$(printf 'TAP version 13\n1..13')" ]
	[ "$(grep -c '^ok [0-9]* - ' <<<"$output")" -eq 13 ]
	grep -q '^ok 12 - ipv6 # SKIP IPv4 only' <<<"$output"
	grep -q '^ok 11 - children # .*children: 0 before (0 zombies), 0 after (0 zombies)' <<<"$output"
}

@test "check: tcpserver1 and tcpserver2 serve one client at a time (concurrent fails; many is skipped)" {
	for p in tcpserver1 tcpserver2; do
		run --separate-stderr check -k concurrent,many "$BIN/$p" -q -p '{port}'
		show
		[ "$status" -eq 1 ]
		verdict concurrent 'FAIL +serves one client at a time: client B got no echo within 1 s while client A stayed connected and silent'
		verdict many 'skip +serves one client at a time \(see concurrent\)'
		grep -q 'read: README "T11: tcpserver1 serves one client at a time", T12, T13' <<<"$output"
	done
}

@test "check: restart without -r fails: restarting needs SO_REUSEADDR (the log's EADDRINUSE)" {
	run --separate-stderr check -k restart "$BIN/tcpserver3" -q -p '{port}'
	show
	[ "$status" -eq 1 ]
	verdict restart 'FAIL +restarting needs SO_REUSEADDR: with a client connected, kill -9'
	grep -qE "$E_ADDRINUSE" <<<"$output"
}

@test "check -u: udpserver passes the UDP checks" {
	run --separate-stderr check -u "$BIN/udpserver" -q -p '{port}'
	show
	[ "$status" -eq 0 ]
	for c in echo concurrent junk fds restart; do verdict "$c" pass; done
	verdict ipv6 'skip +IPv4 only'
	grep -q '65507 bytes' <<<"$output"
}

@test "check -c: a server already running on loopback: the checks that need no process" {
	port=$(free_port)
	start_server tcpserver3 "$port" -q
	run --separate-stderr check -k echo,concurrent,fds,restart -c 127.0.0.1 "$port"
	show
	[ "$status" -eq 0 ]
	verdict echo pass
	verdict concurrent pass
	verdict fds "skip +needs the server's process"
	verdict restart "skip +needs the server's process"
	alive "$SERVER_PID" # -c never stops it
	stop_all
	run --separate-stderr check -k echo -c localhost "$port"
	[ "$status" -eq 1 ]
	verdict echo 'FAIL +127\.0\.0\.1 port [0-9]+: a fresh client was not echoed: connect: Connection refused'
}

@test "check: a server that exits at once, or never answers, fails within its deadline, saying so" {
	SECONDS=0
	run --separate-stderr check -k echo,concurrent sh -c 'echo "cannot start: no such file" >&2; exit 3' '{port}'
	show
	[ "$status" -eq 1 ]
	verdict echo 'FAIL +the server exited at once: exit status 3; its last line: "cannot start: no such file"'
	verdict concurrent 'FAIL +not run: the server is not running \(see echo\)'
	run --separate-stderr check -k echo sleep 600 '{port}'
	show
	[ "$status" -eq 1 ]
	verdict echo 'FAIL +the server did not answer on port [0-9]+ within 5 s'
	[ "$SECONDS" -lt 20 ]
}

@test "check: nothing is left running, also when the check is killed (TERM) mid-run" {
	# a server with a child of its own; their PIDs in a file
	# shellcheck disable=SC2016 # for the inner shell
	srv=(bash -c 'sleep 600 & echo "$$ $!" >"$0"; exec "$1" -q -r -p "$2"' "$BATS_TEST_TMPDIR/pids" "$BIN/tcpserver3" '{port}')
	run --separate-stderr check -k echo "${srv[@]}"
	[ "$status" -eq 0 ]
	read -r server child <"$BATS_TEST_TMPDIR/pids"
	wait_until 3 gone "$server"
	wait_until 3 gone "$child"
	rm "$BATS_TEST_TMPDIR/pids"
	# mid-run for sure: a server that listens and never reads keeps the
	# echo check waiting (2 s per payload) when the TERM comes
	# shellcheck disable=SC2016 # for the inner shell and python
	srv=(bash -c 'sleep 600 & echo "$$ $!" >"$0"; exec python3 -c "$1" "$2"' "$BATS_TEST_TMPDIR/pids"
		'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
time.sleep(600)' '{port}')
	start_bg check "$KIT_ROOT/scripts/check" -k echo "${srv[@]}"
	checker=$LAST_PID
	wait_until 10 test -s "$BATS_TEST_TMPDIR/pids"
	read -r server child <"$BATS_TEST_TMPDIR/pids"
	sleep 0.5
	kill -TERM "$checker"
	wait_until 5 gone "$checker"
	wait_until 3 gone "$server"
	wait_until 3 gone "$child"
	file_has "$BATS_TEST_TMPDIR/check.out" 'check: interrupted'
}
