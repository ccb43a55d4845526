#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# udpserver and udpclient: echo of any datagram, explicit bind, timeouts,
# and interop with a UDP peer that is not ours (python3).

load helper
bats_require_minimum_version 1.5.0

setup() {
	port=$(free_port udp)
	start_server udpserver "$port"
}

@test "udpclient: a line goes out as one datagram and comes back" {
	run --separate-stderr prog udpclient -t 5 -m hello 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"sendto(fd 3, 5 bytes, 127.0.0.1:$port) ok: \"hello\""* ]]
	[[ "$output" == *"recvfrom(fd 3) = 5 bytes from 127.0.0.1:$port: \"hello\" (same as sent)"* ]]
	file_has "$SERVER_OUT" "recvfrom\(fd 3\) = 5 bytes from 127\.0\.0\.1:[0-9]+: \"hello\""
	file_has "$SERVER_OUT" "sendto\(fd 3, 5 bytes, 127\.0\.0\.1:[0-9]+\) ok: echoed"
}

@test "udpclient: each line of standard input is one datagram, without its newline" {
	run --separate-stderr prog udpclient -t 5 127.0.0.1 "$port" < <(printf 'one\ntwo\nthree\n')
	[ "$status" -eq 0 ]
	[ "$(grep -c '(same as sent)' <<<"$output")" -eq 3 ]
	[[ "$output" == *'= 3 bytes from 127.0.0.1:'*'"two" (same as sent)'* ]]
}

@test "udpclient: binary with NUL bytes comes back byte for byte, printed escaped" {
	run --separate-stderr prog udpclient -t 5 127.0.0.1 "$port" < <(printf 'a\000b\001\377\033[2J\n')
	[ "$status" -eq 0 ]
	[[ "$output" == *'= 9 bytes from 127.0.0.1:'*'"a\x00b\x01\xff\x1b[2J" (same as sent)'* ]]
	# nothing raw reached either terminal
	not grep -q $'\033' <<<"$output"
	not grep -q $'\033' "$SERVER_OUT"
}

@test "udpclient: an empty datagram is a datagram too" {
	run --separate-stderr prog udpclient -t 5 -m '' 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"recvfrom(fd 3) = 0 bytes from 127.0.0.1:$port: \"\" (same as sent)"* ]]
	file_has "$SERVER_OUT" 'recvfrom\(fd 3\) = 0 bytes'
}

@test "udpclient: a 65507-byte datagram (the IPv4 maximum) comes back whole; 65508 is refused" {
	run --separate-stderr prog udpclient -t 5 127.0.0.1 "$port" < <(head -c 65507 /dev/zero | tr '\0' x)
	[ "$status" -eq 0 ]
	[[ "$output" == *"= 65507 bytes from 127.0.0.1:$port"*"(65447 more bytes) (same as sent)"* ]]
	run --separate-stderr prog udpclient -t 5 127.0.0.1 "$port" < <(head -c 65508 /dev/zero | tr '\0' x)
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"65508 bytes: more than fits in one datagram (65507)"* ]]
}

@test "udpclient -b ADDRESS:PORT and -b PORT: the server sees the port the client bound" {
	for form in "127.0.0.1:%s" "%s"; do
		cport=$(free_port udp)
		# shellcheck disable=SC2059 # the form is the format
		bind=$(printf "$form" "$cport")
		run --separate-stderr prog udpclient -t 5 -b "$bind" -m hi 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
		[[ "$output" == *"bind(fd 3, ${bind/#$cport/*:$cport}) ok"* ]]
		file_has "$SERVER_OUT" "from 127\.0\.0\.1:$cport: \"hi\""
	done
}

@test "udpclient: no port before the first sendto, a kernel-picked one after" {
	run --separate-stderr prog udpclient -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fd 3 local address: none yet"* ]]
	picked=$(sed -n 's/.*fd 3 is now bound to \*:\([0-9]*\): the kernel picked.*/\1/p' <<<"$output")
	# Linux takes automatic ports from net.ipv4.ip_local_port_range
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	[ "$picked" -ge "$lo" ] && [ "$picked" -le "$hi" ]
	file_has "$SERVER_OUT" "from 127\.0\.0\.1:$picked:"
}

@test "udpclient -t: with no server it gives up in time, says why, exits 1" {
	nobody=$(free_port udp)
	start=$SECONDS
	run --separate-stderr prog udpclient -t 0.5 -m hi 127.0.0.1 "$nobody"
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -le 3 ]
	[[ "$stderr" == *"no reply from 127.0.0.1:$nobody within 0.5 s"*"no server on that address and port?"* ]]
	# the datagram did leave: sendto succeeded
	[[ "$output" == *"sendto(fd 3, 2 bytes, 127.0.0.1:$nobody) ok"* ]]
}

@test "udpclient: without -t it waits (as udpclient.py does) until killed" {
	nobody=$(free_port udp)
	start_bg client "$BIN/udpclient" -m hi 127.0.0.1 "$nobody"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "no time limit"
	sleep 1 # a claim about time passing: it must still be waiting
	alive "$LAST_PID"
}

@test "udpserver: serves clients one datagram at a time, on one socket, for ever" {
	for i in 1 2 3; do
		run prog udpclient -t 5 -m "client $i" 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
	done
	[ "$(grep -c 'ok: echoed' "$SERVER_OUT")" -eq 3 ]
	[ "$(grep -c 'socket(' "$SERVER_OUT")" -eq 1 ]
	alive "$SERVER_PID"
}

@test "udpserver answers a client that is not ours (python3), byte for byte" {
	run python3 - "$port" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for size in (0, 1, 1472, 1473, 65507):
    data = os.urandom(size)
    s.sendto(data, ("127.0.0.1", int(sys.argv[1])))
    reply, _ = s.recvfrom(70000)
    assert reply == data, size
print("identical")
EOF
	[ "$status" -eq 0 ]
	[ "$output" = identical ]
}

@test "udpclient talks to a server that is not ours (python3)" {
	other=$(free_port udp)
	start_bg pyserver python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data.upper(), peer)
' "$other"
	wait_until 5 udp_bound "$other"
	run --separate-stderr prog udpclient -t 5 -m hello 127.0.0.1 "$other"
	[ "$status" -eq 0 ]
	[[ "$output" == *'= 5 bytes from 127.0.0.1:'"$other"': "HELLO" (not what we sent)'* ]]
}

@test "udpclient -w: waits for Enter with its port still open, then closes" {
	with_input client
	start_bg client "$BIN/udpclient" -t 5 -w -m hi 127.0.0.1 "$port"
	pid=$LAST_PID
	feed_open client 7
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "Press Enter"
	ss -Huanp | grep -q "pid=$pid,"
	echo >&7
	wait_until 5 gone "$pid"
	file_has "$BATS_TEST_TMPDIR/client.out" "close\(fd 3\)"
}

# --- issue 11: stdout closed or full, misplaced words, IPv6, -b families ---

@test "udpserver | head -1: the server keeps serving, says once on stderr that its log is lost" {
	p2=$(free_port udp)
	err=$BATS_TEST_TMPDIR/server.err
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
	start_bg piped bash -c '"$0" -p "$1" 2>"$2" | head -1' "$BIN/udpserver" "$p2" "$err"
	wait_until 5 udp_bound "$p2"
	wait_until 5 file_count "$BATS_TEST_TMPDIR/piped.out" . 1
	head=$(pgrep -P "$LAST_PID" -x head || true)
	[ -z "$head" ] || wait_until 5 gone "$head"
	for i in 1 2 3; do
		run --separate-stderr prog udpclient -t 5 -m "after head $i" 127.0.0.1 "$p2"
		[ "$status" -eq 0 ]
		[[ "$output" == *"(same as sent)"* ]]
	done
	server=$(pgrep -P "$LAST_PID" -x udpserver)
	alive "$server"
	[ "$(wc -l <"$err")" -eq 1 ]
	grep -qE '^udpserver: stdout: Broken pipe \(EPIPE\): the log is lost from here on; still serving$' "$err"
}

@test "udpclient: stdout full or closed: one line on stderr, exit 1" {
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	run --separate-stderr bash -c '"$0" -t 5 -m hi 127.0.0.1 "$1" >/dev/full 3>&- 4>&-' "$BIN/udpclient" "$port"
	[ "$status" -eq 1 ]
	one_stderr_line '^udpclient: stdout: .*: cannot show the output$'
	[[ "$stderr" == *"No space left on device"* ]]
	# a pipe nobody reads any more (SIGPIPE as the shell leaves it: deadly)
	run --separate-stderr python3 -c '
import os, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
r, w = os.pipe()
os.close(r)
os.dup2(w, 1)
os.execv(sys.argv[1], sys.argv[1:])' "$BIN/udpclient" -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^udpclient: stdout: Broken pipe \\(EPIPE\\): cannot show the output$"
}

@test "udpclient: the word after an option that takes one belongs to the option, --words too" {
	run --separate-stderr prog udpclient -t 5 -m --verbose 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"--verbose" (same as sent)'* ]]
}

@test "udpserver: a port without -p is shown where it goes" {
	usage_errors "^udpserver: unexpected argument '12333': the port goes with -p: udpserver -p 12333 \(try 'udpserver -h'\)$" prog udpserver -- 12333 "-q 12333"
	usage_errors "^udpserver: unexpected argument 'extra' \(try 'udpserver -h'\)$" prog udpserver -- extra
}

@test "udpclient: the port first, or HOST:PORT in one word, is shown the right way round" {
	usage_errors "^udpclient: 'localhost' is not a port: the host comes first: udpclient localhost 12333 \(try 'udpclient -h'\)$" prog udpclient -- "12333 localhost"
	tail="give them as two words: udpclient"
	usage_errors "^udpclient: 'localhost:12333' looks like HOST:PORT: $tail localhost 12333 \(try 'udpclient -h'\)$" prog udpclient -- localhost:12333
	usage_errors "^udpclient: '127\.0\.0\.1:12333' looks like HOST:PORT: $tail 127\.0\.0\.1 12333 \(try 'udpclient -h'\)$" prog udpclient -- 127.0.0.1:12333
	usage_errors "^udpclient: '\[::1\]:12333' looks like HOST:PORT: $tail ::1 12333 \(try 'udpclient -h'\)$" prog udpclient -- '[::1]:12333'
	# a bare IPv6 address is a host, not HOST:PORT
	nobody=$(free_port udp)
	run --separate-stderr prog udpclient -t 0.5 -m hi ::1 "$nobody"
	[ "$status" -eq 1 ]
	[[ "$output" == *"sendto(fd 3, 2 bytes, [::1]:$nobody) ok"* ]]
}

@test "udpserver: a UDP port in use says how to see who has it" {
	run --separate-stderr prog udpserver -p "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^udpserver: bind\(fd 3, \*:$port\): $E_ADDRINUSE \(another socket is bound to port $port now: lsof -n -P -i UDP:$port shows which\)$"
	# and lsof does show it: the running server
	lsof -n -P -i "UDP:$port" | grep -q "^udpserver *$SERVER_PID "
}

@test "udpclient -b below 1024 without root: EACCES says why" {
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "needs setpriv to drop root"
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	else
		as=()
	fi
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 80 ] ||
		skip "ports below 1024 are open to everyone here (ip_unprivileged_port_start)"
	"${as[@]}" test -x "$BIN/udpclient" || skip "the binary is not reachable as nobody"
	run --separate-stderr "${as[@]}" "$BIN/udpclient" -b 80 -t 1 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^udpclient: bind\(fd [0-9]+, \*:80\): .* \(ports below 1024 need root\)$"
}

@test "udpclient to ::1, no reply: udpserver is IPv4 only, send to 127.0.0.1" {
	run --separate-stderr prog udpclient -t 0.5 -m hi ::1 "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^udpclient: no reply from \[::1\]:$port within 0\.5 s: .*\(no server on that address and port\? udpserver and udpserver\.py listen on IPv4 only \(AF_INET\): send to 127\.0\.0\.1\)$"
	# the same words to 127.0.0.1 reach the server
	run --separate-stderr prog udpclient -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	# an IPv4 destination keeps the IPv4 hint only
	nobody=$(free_port udp)
	run --separate-stderr prog udpclient -t 0.5 -m hi 127.0.0.1 "$nobody"
	[ "$status" -eq 1 ]
	one_stderr_line "\(no server on that address and port\?\)$"
}

@test "udpclient -b of the other family than the server: one line naming both" {
	cport=$(free_port udp)
	usage_errors "^udpclient: -b 127\.0\.0\.1:$cport is IPv4 but the server ::1 is IPv6: a socket has one family, so give both as IPv4 or both as IPv6 \(try 'udpclient -h'\)$" \
		prog udpclient -t 1 -m hi -b "127.0.0.1:$cport" -- "::1 $port"
	usage_errors "^udpclient: -b \[::1\]:$cport is IPv6 but the server 127\.0\.0\.1 is IPv4: a socket has one family, so give both as IPv4 or both as IPv6 \(try 'udpclient -h'\)$" \
		prog udpclient -t 1 -m hi -b "[::1]:$cport" -- "127.0.0.1 $port"
	# a name is looked up in the family of the address beside it
	run --separate-stderr prog udpclient -t 1 -m hi -b "[::1]:$cport" nosuch.invalid "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^udpclient: cannot resolve 'nosuch\.invalid' \(as IPv6, the family of -b \[::1\]:$cport\): "
}

@test "udpserver -S: what bind and recvfrom say about ss is what ss shows" {
	p2=$(free_port udp)
	with_input stepper
	start_bg stepper "$BIN/udpserver" -S -p "$p2"
	pid=$LAST_PID
	feed_open stepper 7
	out=$BATS_TEST_TMPDIR/stepper.out
	wait_until 5 file_has "$out" 'step: next: socket'
	echo >&7
	wait_until 5 file_has "$out" 'step: next: bind'
	echo >&7
	wait_until 5 file_has "$out" 'step: next: recvfrom'
	claim=$(sed -n "s/.*ss shows 'UNCONN \.\.\. \([^']*\)'.*/\1/p" "$out")
	[ "$claim" = "0.0.0.0:$p2" ]
	ss -Huanp | grep "pid=$pid," | grep -qE "^UNCONN +[0-9]+ +[0-9]+ +$claim "
	# a datagram waits: Recv-Q is more than its 2 bytes (kernel memory)
	prog udpclient -t 1 -m hi 127.0.0.1 "$p2" >/dev/null 2>&1 || true
	recvq=$(ss -Huanp | grep "pid=$pid," | awk '{print $2}')
	[ "$recvq" -gt 2 ]
	grep -q 'Recv-Q in ss -uan is not 0 while datagrams wait (it counts the kernel memory they take, not their bytes)' "$out"
}

@test "udpclient -S -b: the peer that ss shows is the one the sendto step names" {
	cport=$(free_port udp)
	with_input client
	start_bg client "$BIN/udpclient" -S -w -t 5 -b "$cport" -m hi 127.0.0.1 "$port"
	pid=$LAST_PID
	feed_open client 7
	out=$BATS_TEST_TMPDIR/client.out
	for _ in 1 2 3 4; do echo >&7; done # socket, bind, sendto, recvfrom
	wait_until 5 file_has "$out" 'Press Enter to close it'
	claim=$(sed -n 's/.*the socket stays unconnected (ss shows the peer as \([^)]*\)).*/\1/p' "$out")
	[ -n "$claim" ]
	ss -Huanp | grep "pid=$pid," | grep -qE "^UNCONN .* [^ ]+:$cport +${claim//\*/\\*} "
}

@test "udpclient with nothing to send: what it says about the port is true" {
	run --separate-stderr prog udpclient -t 1 127.0.0.1 "$port" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"no message to send: fd 3 never got a port"* ]]
	[[ "$output" == *"close(fd 3): the socket is gone; it never had a port to free"* ]]
	cport=$(free_port udp)
	run --separate-stderr prog udpclient -t 1 -b "$cport" 127.0.0.1 "$port" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"no message to send: fd 3 has the port bind() gave it all the same"* ]]
	[[ "$output" == *"close(fd 3): *:$cport is free again"* ]]
}
