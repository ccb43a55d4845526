#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $status come from bats' run
# Each program's main path under valgrind: no memory error, nothing
# definitely lost. Servers end by SIGTERM, as a student ends them with
# Ctrl-C; valgrind still writes its summary then. multi's children run
# under valgrind too (fork copies it), each with its own log.

load helper
bats_require_minimum_version 1.5.0

setup() {
	command -v valgrind >/dev/null || skip_needs valgrind "sudo apt-get install valgrind, then make test TESTS=$(test_file)"
	[ -z "${KIT_SANITIZE:-}" ] || skip_needs "a build without AddressSanitizer (valgrind cannot run one)" "make test TESTS=$(test_file)"
	port=$(free_port)
}

VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

# clean_logs PROG: every valgrind log of PROG says 0 errors and 0 bytes
# definitely lost (or that no leak was possible at all).
clean_logs() {
	local log n=0
	for log in "$BATS_TEST_TMPDIR"/vg."$1".*.log; do
		[ -e "$log" ] || continue
		n=$((n + 1))
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$log" ||
			! grep -qE 'definitely lost: 0 bytes|no leaks are possible' "$log"; then
			cat "$log" >&2
			return 1
		fi
	done
	[ "$n" -ge 1 ] || {
		echo "no valgrind log for $1" >&2
		return 1
	}
}

# vg_server PROG PORT ARGS...: PROG under valgrind, listening/bound
vg_server() {
	local prog=$1 p=$2
	shift 2
	start_bg "$prog" "${VG[@]}" --log-file="$BATS_TEST_TMPDIR/vg.$prog.%p.log" "$BIN/$prog" -p "$p" "$@"
	SERVER_PID=$LAST_PID
	if [ "$prog" = udpserver ]; then
		wait_until 20 udp_bound "$p"
	else
		wait_until 20 tcp_listening "$p"
	fi
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait_until 20 gone "$SERVER_PID"
	for child in $(pgrep -f "vg.$1"); do wait_until 20 gone "$child"; done
}

vg_client() { # vg_client PROG ARGS...: exit 0 under valgrind
	run "${VG[@]}" --log-file="$BATS_TEST_TMPDIR/vg.$1.%p.log" "$BIN/$1" "${@:2}"
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
}

@test "valgrind: udpserver and udpclient (text, empty, 65507 bytes, -b, -w)" {
	uport=$(free_port)
	vg_server udpserver "$uport"
	vg_client udpclient -t 20 -m hello -m '' 127.0.0.1 "$uport"
	vg_client udpclient -t 20 -b "$(free_port)" 127.0.0.1 "$uport" < <(head -c 65507 /dev/zero | tr '\0' x)
	vg_client udpclient -t 20 -w -m bye 127.0.0.1 "$uport" < <(echo)
	stop_server udpserver
	clean_logs udpserver
	clean_logs udpclient
}

@test "valgrind: tcpserver1 and tcpclient (echo, stdin lines, -w, a refused connect)" {
	vg_server tcpserver1 "$port"
	vg_client tcpclient -t 20 -m hello 127.0.0.1 "$port"
	vg_client tcpclient -t 20 127.0.0.1 "$port" < <(echo from stdin)
	vg_client tcpclient -t 20 -w -m bye 127.0.0.1 "$port" < <(echo)
	run "${VG[@]}" --log-file="$BATS_TEST_TMPDIR/vg.tcpclient.%p.log" "$BIN/tcpclient" -t 20 -m x 127.0.0.1 "$(free_port)"
	[ "$status" -eq 1 ] # refused: a runtime failure, and no valgrind error (99)
	stop_server tcpserver1
	clean_logs tcpserver1
	clean_logs tcpclient
}

@test "valgrind: tcpserver2 with an IPv4 and an IPv6 client" {
	vg_server tcpserver2 "$port"
	prog tcpclient -t 20 -m four 127.0.0.1 "$port" >/dev/null
	prog tcpclient -t 20 -m six ::1 "$port" >/dev/null
	stop_server tcpserver2
	clean_logs tcpserver2
}

@test "valgrind: tcpserver3 with concurrent clients, a reset, and pending output" {
	vg_server tcpserver3 "$port"
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" echo 5
	[ "$status" -eq 0 ]
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" reset
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" vanish
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" bytes 4
	[ "$status" -eq 0 ]
	stop_server tcpserver3
	clean_logs tcpserver3
}

@test "valgrind: multi, parent and children" {
	vg_server multi "$port"
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" echo 3
	[ "$status" -eq 0 ]
	wait_until 20 eval "[ -z \"\$(pgrep -P $SERVER_PID)\" ]"
	stop_server multi
	clean_logs multi
	[ "$(find "$BATS_TEST_TMPDIR" -name 'vg.multi.*.log' | wc -l)" -ge 4 ] # parent + 3 children
}
