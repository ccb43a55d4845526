#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# tcpserver2 (getaddrinfo, dual stack), tcpserver3 (select) and multi (fork):
# the walkthrough's answer to "TCP accepts many connections, but your
# program serves one".

load helper
bats_require_minimum_version 1.5.0

setup() {
	port=$(free_port)
}

# The EADDRINUSE advice of a server that cannot have port PORT (lab.h's
# bind_advice()).
in_use() {
	echo "a server listens on port $1, or connections of an earlier server that ran without -r remain: ss -tan 'sport = :$1' tells them apart"
}

# exchange HOST [PORT]: one message with tcpclient; sets status/output.
exchange() { run --separate-stderr prog tcpclient -t 3 -m "hi $1" "$1" "${2:-$port}"; }

@test "tcpserver2: by default one IPv6 socket serves 127.0.0.1 and ::1 (dual stack)" {
	start_server tcpserver2 "$port"
	file_has "$SERVER_OUT" "getaddrinfo candidate 1: AF_INET address 0\.0\.0\.0 port $port"
	file_has "$SERVER_OUT" "getaddrinfo candidate 2: AF_INET6 address :: port $port"
	file_has "$SERVER_OUT" "trying \[::\]:$port first: with IPV6_V6ONLY off"
	file_has "$SERVER_OUT" "setsockopt\(fd 3, IPV6_V6ONLY, 0\) ok"
	file_has "$SERVER_OUT" "LISTEN on \[::\]:$port, dual stack"
	exchange 127.0.0.1
	[ "$status" -eq 0 ]
	exchange ::1
	[ "$status" -eq 0 ]
	file_has "$SERVER_OUT" "AF_INET6 client \[::ffff:127\.0\.0\.1\]:[0-9]+ \(an IPv4 client on our IPv6 socket"
	file_has "$SERVER_OUT" "AF_INET6 client \[::1\]:[0-9]+$"
	# one listening socket, of type IPv6
	[ "$(ss -Htln "( sport = :$port )" | wc -l)" -eq 1 ]
	ss -Htln "( sport = :$port )" | grep -q '\*:'"$port"
}

@test "tcpserver2 -4: IPv4 only, ::1 is refused" {
	start_server tcpserver2 "$port" -4
	file_has "$SERVER_OUT" "LISTEN on \*:$port, IPv4 only"
	exchange 127.0.0.1
	[ "$status" -eq 0 ]
	exchange ::1
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"Connection refused"* ]]
}

@test "tcpserver2 -6: IPv6 only (IPV6_V6ONLY on), 127.0.0.1 is refused" {
	start_server tcpserver2 "$port" -6
	file_has "$SERVER_OUT" "setsockopt\(fd 3, IPV6_V6ONLY, 1\) ok"
	exchange ::1
	[ "$status" -eq 0 ]
	exchange 127.0.0.1
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"Connection refused"* ]]
}

@test "tcpserver2 -a: a literal of either family, or a host name" {
	start_server tcpserver2 "$port" -a ::1
	file_has "$SERVER_OUT" "LISTEN on \[::1\]:$port, IPv6 only"
	exchange ::1
	[ "$status" -eq 0 ]
	p2=$(free_port)
	start_server tcpserver2 "$p2" -a 127.0.0.1
	exchange 127.0.0.1 "$p2"
	[ "$status" -eq 0 ]
	p3=$(free_port)
	start_server tcpserver2 "$p3" -a localhost
	file_has "$SERVER_OUT" "getaddrinfo candidate 1: AF_INET address 127\.0\.0\.1 port $p3"
	exchange 127.0.0.1 "$p3"
	[ "$status" -eq 0 ]
}

@test "tcpserver2 -p: a service name from /etc/services resolves to its port" {
	[ -r /etc/services ] || skip_needs "/etc/services" "sudo apt-get install netbase, then make test TESTS=$(test_file)"
	# a service whose port nothing uses here (not dicom: also an alias of 104)
	for svc in hkp db-lsp dcap gsidcap wnn6 binkp asp csync2 dircproxy; do
		sport=$(awk -v s="$svc" '$1 == s && $2 ~ /\/tcp$/ { split($2, a, "/"); print a[1]; exit }' /etc/services)
		[ -n "$sport" ] && ! port_in_use tcp "$sport" && break
		sport=
	done
	[ -n "$sport" ] || skip_needs "one of the candidate services' ports free" "make test TESTS=$(test_file) once those ports are free"
	start_bg svc "$BIN/tcpserver2" -p "$svc"
	wait_until 5 tcp_listening "$sport"
	file_has "$BATS_TEST_TMPDIR/svc.out" "candidate 1: AF_INET address 0\.0\.0\.0 port $sport"
	exchange 127.0.0.1 "$sport"
	[ "$status" -eq 0 ]
}

@test "tcpserver2 -r: the bind lines name the address (they said 'bind(fd 3, bind(fd 3, ...')" {
	start_server tcpserver2 "$port" -r
	file_has "$SERVER_OUT" "^tcpserver2: bind\(fd 3, \[::\]:$port\) ok$"
	not grep -q 'bind(fd 3, bind' "$SERVER_OUT"
	# and in step mode, at each pause
	p2=$(free_port)
	with_input step
	start_bg step "$BIN/tcpserver2" -S -r -p "$p2"
	feed_open step 7
	printf '\n%.0s' 1 2 3 4 5 6 >&7 # getaddrinfo, socket, V6ONLY, REUSEADDR, bind, listen
	wait_until 5 tcp_listening "$p2"
	out=$BATS_TEST_TMPDIR/step.out
	file_has "$out" "step: next: bind\(fd 3, \[::\]:$p2\)$"
	file_has "$out" "step:   after: fd 3 owns \[::\]:$p2 but is not LISTEN yet$"
	file_has "$out" "^tcpserver2: bind\(fd 3, \[::\]:$p2\) ok$"
	file_has "$out" "step:   after: fd 3 is LISTEN on \[::\]:$p2$"
	not grep -q 'bind(fd 3, bind' "$out"
}

@test "tcpserver2: a port below 1024 as a normal user: EACCES, and 'ports below 1024 need root'" {
	# as root, the check runs as nobody; where normal users may bind low
	# ports (sysctl ip_unprivileged_port_start), or as root without
	# runuser, the server must bind and serve instead
	user=() normal=1
	if [ "$(id -u)" = 0 ]; then
		normal=0
		if command -v runuser >/dev/null; then user=(runuser -u nobody --) normal=1; fi
	fi
	for low in $(seq 1023 -1 1000); do port_in_use tcp "$low" || break; done
	low_port() { "${user[@]}" timeout 2 "$BIN/tcpserver2" -p "$low" 3>&- 4>&-; }
	run --separate-stderr low_port
	start=$(sysctl -n net.ipv4.ip_unprivileged_port_start 2>/dev/null || echo 1024)
	if [ "$normal" = 1 ] && [ "$low" -lt "$start" ]; then
		[ "$status" -eq 1 ]
		[[ "$output" == *"bind(fd 3, *:$low): Permission denied (EACCES) (ports below 1024 need root)"* ]]
		one_stderr_line "^tcpserver2: no candidate address could be used: Permission denied \(EACCES\) \(ports below 1024 need root\)$"
	else
		[ "$status" -eq 124 ] # it listened until timeout stopped it
		[[ "$output" == *"listen(fd 3, 5) ok"* ]]
	fi
}

@test "tcpserver2: its stdout gone (| head -1): one line on stderr, and it goes on serving" {
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	start_bg srv bash -c 'exec "$0" -p "$1" > >(head -1)' "$BIN/tcpserver2" "$port"
	server=$LAST_PID
	out=$BATS_TEST_TMPDIR/srv.out
	wait_until 5 tcp_listening "$port"
	for host in 127.0.0.1 ::1 127.0.0.1; do
		exchange "$host"
		[ "$status" -eq 0 ]
	done
	wait_until 5 file_has "$out" "^tcpserver2: stdout: .*: the log is lost from here on; still serving$"
	exchange ::1
	[ "$status" -eq 0 ]
	alive "$server"
	[ "$(grep -c 'stdout:' "$out")" -eq 1 ]
	[ "$(grep -c '^tcpserver2: ' "$out")" -eq 2 ] # head's line, and that one
}

@test "tcpserver2: port in use: a server listens, or connections remain (also an IPv4 server, for the dual-stack socket)" {
	start_server tcpserver1 "$port" # 0.0.0.0 only: the dual-stack [::] probe clashes with it too
	run --separate-stderr prog tcpserver2 -p "$port"
	[ "$status" -eq 1 ]
	why="\($(in_use "$port")\)"
	# the dual-stack [::] candidate first, then 0.0.0.0 (*)
	[ "$(grep -cE "^tcpserver2: bind\(fd 3, (\[::\]|\*):$port\): $E_ADDRINUSE $why$" <<<"$output")" -eq 2 ]
	one_stderr_line "^tcpserver2: no candidate address could be used: $E_ADDRINUSE $why$"
	alive "$SERVER_PID"
}

@test "tcpserver2: port held by a killed -r server's connection: only connections remain, -r starts now" {
	start_server tcpserver2 "$port" -r
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$SERVER_PID"
	wait_until 5 gone "$SERVER_PID"
	run --separate-stderr prog tcpserver2 -p "$port"
	exec 6>&-
	[ "$status" -eq 1 ]
	why="\(only connections of an earlier server remain: -r starts now\)"
	# the dual-stack [::] candidate first, then 0.0.0.0 (*)
	[ "$(grep -cE "^tcpserver2: bind\(fd 3, (\[::\]|\*):$port\): $E_ADDRINUSE $why$" <<<"$output")" -eq 2 ]
	one_stderr_line "^tcpserver2: no candidate address could be used: $E_ADDRINUSE $why$"
}

@test "tcpserver2 -S: close() leaves our end FIN_WAIT_1 until the client's kernel ACKs our FIN; the claim says so" {
	with_input srv
	start_bg srv "$BIN/tcpserver2" -S -p "$port"
	feed_open srv 7
	out=$BATS_TEST_TMPDIR/srv.out
	printf '\n%.0s' 1 2 3 4 5 6 7 8 >&7 # getaddrinfo ... accept, recv, send
	wait_until 5 tcp_listening "$port"
	exchange 127.0.0.1
	[ "$status" -eq 0 ]
	wait_until 5 file_has "$out" "step: next: close\(fd 4\)"
	file_has "$out" "step:   after: our FIN goes out: if the client is still there, our end \(no fd any more\) is FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN \(delayed ACK, up to ~40 ms\), and the client's end is CLOSE_WAIT; bytes still arriving from it will be answered with RST$"
	not grep -q 'goes to FIN_WAIT_2' "$out"
}

# waiting_unread N: a connection on $port, not read yet, holds N bytes or
# more in the server's Recv-Q (ss)
waiting_unread() { kss -Htan "( sport = :$port )" | awk -v n="$1" '$1 == "ESTAB" && $2 >= n { f = 1 } END { exit !f }'; }

@test "tcpserver2: close() with bytes unread (a message over 64 KiB) sends RST, and the log says so (N9)" {
	start_server tcpserver2 "$port"
	# Stopped in accept(): the client's 100001 bytes all arrive before the
	# server's one recv() of 65536, so some are unread at close(), for certain.
	kill -STOP "$SERVER_PID"
	# shellcheck disable=SC2016 # for the inner bash
	start_bg client bash -c 'python3 -c "print(\"x\" * 100000)" | "$0" -t 5 127.0.0.1 "$1"' "$BIN/tcpclient" "$port"
	wait_until 5 waiting_unread 65537
	kill -CONT "$SERVER_PID"
	wait_until 5 file_has "$SERVER_OUT" 'close\(fd 4\)'
	file_has "$SERVER_OUT" '^tcpserver2: recv\(fd 4\) = 65536 bytes '
	file_has "$SERVER_OUT" "^tcpserver2: close\(fd 4\): done with \[::ffff:127\.0\.0\.1\]:[0-9]+: at least [1-9][0-9]* bytes unread: close\(\) sends RST, not FIN \(Linux and macOS\); the client's next recv\(\) or send\(\) fails with ECONNRESET$"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" 'recv\(fd 3\): .*\(ECONNRESET\)'
}

@test "tcpserver2: port taken by an IPv6-only server: IPv4 only, and it does not claim 'no IPv6 here'" {
	start_server tcpserver2 "$port" -6
	# the port shows LISTEN already (the first server's): wait for the
	# second server's own word that it listens
	start_server tcpserver2 "$port"
	wait_until 5 file_has "$SERVER_OUT" "LISTEN on \*:$port, IPv4 only \(bind\(\) on the IPv6 address failed: fell back to IPv4\)$"
	not grep -q 'no IPv6 here' "$SERVER_OUT"
	exchange 127.0.0.1
	[ "$status" -eq 0 ]
}

# concurrent PORT N M: N clients connect first, then each sends M messages,
# interleaved, on its own connection; every echo must come back intact.
concurrent() {
	python3 - "$@" <<'EOF'
import socket, sys
port, n, m = (int(a) for a in sys.argv[1:4])
clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
for r in range(m):
    for i, c in enumerate(clients):
        c.sendall(b"client %d message %d\n" % (i, r))
    for i, c in enumerate(clients):
        want = b"client %d message %d\n" % (i, r)
        got = b""
        while len(got) < len(want):
            got += c.recv(len(want) - len(got))
        assert got == want, (got, want)
print("all %d clients served, %d messages each" % (n, m))
EOF
}

# several_at_once PROG: 8 clients connected at once, 5 messages each
several_at_once() {
	local out
	start_server "$1" "$port"
	out=$(concurrent "$port" 8 5)
	[ "$out" = "all 8 clients served, 5 messages each" ]
}

@test "tcpserver3: several clients at once, several messages each, one process" {
	several_at_once tcpserver3
	[ "$(grep -c 'connected (' "$SERVER_OUT")" -eq 8 ]
	grep -q "(8 clients now)" "$SERVER_OUT"
	[ -z "$(pgrep -P "$SERVER_PID")" ] # no helper processes: one pid, many fds
}

@test "multi: several clients at once, several messages each, a child per client" {
	several_at_once multi
	[ "$(grep -cE 'child pid [0-9]+ serves it' "$SERVER_OUT")" -eq 8 ]
	[ "$(grep -oE 'child pid [0-9]+' "$SERVER_OUT" | sort -u | wc -l)" -eq 8 ]
}

# idle_then_other PROG: an idle client holds a connection; another client
# must still get its answer.
idle_then_other() {
	start_server "$1" "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd"
	run --separate-stderr prog tcpclient -t 2 -m "not blocked" 127.0.0.1 "$port"
	exec 6>&-
}

@test "tcpserver3: an idle client does not delay another" {
	idle_then_other tcpserver3
	[ "$status" -eq 0 ]
	[[ "$output" == *"the same as we sent"* ]]
}

@test "multi: an idle client does not delay another" {
	idle_then_other multi
	[ "$status" -eq 0 ]
	[[ "$output" == *"the same as we sent"* ]]
}

@test "tcpserver1 (the contrast): the second client waits until the first is done" {
	idle_then_other tcpserver1
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no reply within 2 s"* ]]
	# the first (idle) client is gone now: the next one is served at once
	run prog tcpclient -t 2 -m "now" 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
}

# children PID N: PID has exactly N child processes; zombies PID N: N of
# them are <defunct> (exited, not reaped)
children() { [ "$(pgrep -P "$1" | wc -l)" -eq "$2" ]; }
zombies() { [ "$(pgrep -P "$1" -r Z | wc -l)" -eq "$2" ]; }

@test "multi: after many clients have come and gone, no <defunct> child is left" {
	start_server multi "$port"
	for i in $(seq 1 40); do
		exec 6<>"/dev/tcp/127.0.0.1/$port"
		echo "client $i" >&6
		read -r -t 5 reply <&6
		[ "$reply" = "client $i" ]
		exec 6>&-
	done
	wait_until 5 file_count "$SERVER_OUT" "exited with status 0" 40
	children "$SERVER_PID" 0
	zombies "$SERVER_PID" 0
}

@test "multi -m 2: the child cap holds; the third client waits in the kernel's queue" {
	start_server multi "$port" -m 2
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 children "$SERVER_PID" 2
	wait_until 5 file_has "$SERVER_OUT" "2 children, the limit \(-m\): not accepting"
	# the third is connected (the kernel did the handshake) but not served
	run --separate-stderr prog tcpclient -t 1 -m third 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no reply within 1 s"* ]]
	children "$SERVER_PID" 2
	exec 5>&- # one child exits: the next client is served
	run prog tcpclient -t 5 -m fourth 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	exec 6>&-
}

@test "tcpserver3: a client that floods without reading does not stop another's echo" {
	start_server tcpserver3 "$port"
	run python3 - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
flood = socket.create_connection(("127.0.0.1", port))
flood.setblocking(False)
sent, start = 0, time.time()
while time.time() - start < 3:          # until its buffers and ours are full
    try:
        sent += flood.send(b"x" * 65536)
    except BlockingIOError:
        if time.time() - start > 1:
            break
        time.sleep(0.01)
other = socket.create_connection(("127.0.0.1", port), timeout=2)
for i in range(20):
    msg = b"still served %d\n" % i
    t = time.time()
    other.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += other.recv(100)
    assert got == msg
    assert time.time() - t < 0.5, "slow echo"
print("flooder stuck after %d bytes; the other client got 20 echoes" % sent)
EOF
	[ "$status" -eq 0 ]
	[[ "$output" == *"the other client got 20 echoes"* ]]
	file_has "$SERVER_OUT" "not reading fast enough"
}

@test "tcpserver3 -m 2: a third client is closed at once, with a log line" {
	start_server tcpserver3 "$port" -m 2
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "\(2 clients now\)"
	run --separate-stderr prog tcpclient -t 2 -m third 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the server closed the connection"* || "$output" == *"reset the connection"* ]]
	file_has "$SERVER_OUT" "already 2 clients \(-m\): closing this connection"
	exec 5>&-
	exec 6>&-
	wait_until 5 file_has "$SERVER_OUT" "\(0 clients now\)"
	run prog tcpclient -t 2 -m fourth 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
}

# ---- tcpserver3 and multi: the command line, bind()'s advice, a lost log ----

# in_use_message PROG PORT WORDS: PROG -p PORT fails in bind() with EADDRINUSE
# and the advice WORDS (a regex), one line, exit 1
in_use_message() {
	local err rc=0 re="^$1: bind\(fd 3, \*:$2\): $E_ADDRINUSE \($3\)$"
	err=$(prog "$1" -p "$2" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -ne 1 ] || [ "$(grep -c . <<<"$err")" -ne 1 ] || ! [[ "$err" =~ $re ]]; then
		echo "$1 -p $2: exit $rc, stderr: $err" >&2
		return 1
	fi
}

@test "tcpserver3 -m 1: a client turned away with its bytes unread gets RST, and the log says so (N9)" {
	start_server tcpserver3 "$port" -m 1
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "\(1 client now\)"
	# Stopped before the second accept(): its 6 bytes arrive first, for certain.
	kill -STOP "$SERVER_PID"
	start_bg client "$BIN/tcpclient" -t 5 -m hello 127.0.0.1 "$port"
	wait_until 5 waiting_unread 6
	kill -CONT "$SERVER_PID"
	wait_until 5 file_has "$SERVER_OUT" 'close\(fd 5\): turned'
	file_has "$SERVER_OUT" 'already 1 clients \(-m\): closing this connection'
	file_has "$SERVER_OUT" "^tcpserver3: close\(fd 5\): turned 127\.0\.0\.1:[0-9]+ away: at least 6 bytes unread: close\(\) sends RST, not FIN \(Linux and macOS\); the client's next recv\(\) or send\(\) fails with ECONNRESET$"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" 'recv\(fd 3\): .*\(ECONNRESET\)'
	# one that sent nothing yet: FIN, and the log says what its bytes will get
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" 'turned 127\.0\.0\.1:[0-9]+ away: our FIN goes out \(its end CLOSE_WAIT\); bytes still arriving from it will be answered with RST$'
	exec 5>&- 6>&-
}

@test "tcpserver3 and multi: EADDRINUSE from a live listener: a server listens or connections remain, also when its queue is full" {
	start_server tcpserver1 "$port" -l 0
	for p in tcpserver3 multi; do in_use_message "$p" "$port" "$(in_use "$port")"; done
	# tcpserver1 serves one client, one more fills its queue (listen(0)):
	# the probe sends nothing, so a full queue changes nothing
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	for p in tcpserver3 multi; do in_use_message "$p" "$port" "$(in_use "$port")"; done
	exec 5>&- 6>&-
}

@test "tcpserver3 and multi: EADDRINUSE from a killed -r server's connection: only connections remain, -r starts now" {
	start_server tcpserver3 "$port" -r
	first=$SERVER_PID
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$first"
	wait_until 5 gone "$first"
	# our end of the connection is still there (FIN-WAIT-2), no listener
	wait_until 5 tcp_state FIN-WAIT-2 "( sport = :$port )"
	not tcp_listening "$port"
	for p in tcpserver3 multi; do in_use_message "$p" "$port" "only connections of an earlier server remain: -r starts now"; done
	exec 6>&-
}

@test "tcpserver3 and multi -r: the bind line names the address" {
	for p in tcpserver3 multi; do
		pport=$(free_port)
		start_server "$p" "$pport" -r
		file_has "$SERVER_OUT" "^$p: bind\(fd 3, \*:$pport\) ok$"
	done
}

# log_closed PROG PORT: start PROG -p PORT with its stdout into a FIFO, read
# its log up to the listen() line, then close the FIFO (as `| head -4`
# would): the next line PROG writes meets EPIPE. Its stderr alone is in
# $SERVER_OUT.
log_closed() {
	local fifo=$BATS_TEST_TMPDIR/log.fifo line
	mkfifo "$fifo"
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
	start_bg "$1" bash -c 'exec "$@" >"$0"' "$fifo" "$BIN/$1" -p "$2"
	SERVER_PID=$LAST_PID SERVER_OUT=$BATS_TEST_TMPDIR/$1.out
	exec 5<"$fifo"
	while read -r -t 5 line <&5; do
		[[ "$line" != *"listen(fd 3"* ]] || break
	done
	exec 5<&-
}
LOG_LOST=': the log is lost from here on; still serving$'

@test "tcpserver3: its log's reader gone (EPIPE): one line on stderr, and it goes on serving" {
	log_closed tcpserver3 "$port"
	for i in 1 2 3; do
		run --separate-stderr prog tcpclient -t 5 -m "hi $i" 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
	done
	alive "$SERVER_PID"
	[ "$(wc -l <"$SERVER_OUT")" -eq 1 ]
	file_has "$SERVER_OUT" "^tcpserver3: stdout: Broken pipe \(EPIPE\)$LOG_LOST"
}

@test "multi: its log's reader gone (EPIPE): one line from the parent, one from the child that met it, all served" {
	log_closed multi "$port"
	for i in 1 2 3; do
		run --separate-stderr prog tcpclient -t 5 -m "hi $i" -m "again $i" 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
	done
	alive "$SERVER_PID"
	# the first child was forked before the parent's next line failed; later
	# children are copies of a parent that knows its log is lost
	[ "$(wc -l <"$SERVER_OUT")" -eq 2 ]
	file_has "$SERVER_OUT" "^multi: stdout: Broken pipe \(EPIPE\)$LOG_LOST"
	file_has "$SERVER_OUT" "^multi\[[0-9]+\]: stdout: Broken pipe \(EPIPE\)$LOG_LOST"
}

@test "tcpserver3 and multi: stdout on a full device (/dev/full): one line on stderr, clients served" {
	for p in tcpserver3 multi; do
		pport=$(free_port)
		start_bg "$p" bash -c 'exec "$@" >/dev/full' full "$BIN/$p" -p "$pport"
		pid=$LAST_PID
		wait_until 5 tcp_listening "$pport"
		for i in 1 2; do
			run --separate-stderr prog tcpclient -t 5 -m "hi $i" 127.0.0.1 "$pport"
			[ "$status" -eq 0 ]
		done
		alive "$pid"
		[ "$(wc -l <"$BATS_TEST_TMPDIR/$p.out")" -eq 1 ]
		file_has "$BATS_TEST_TMPDIR/$p.out" "^$p: stdout: No space left on device \(ENOSPC\)$LOG_LOST"
	done
}

@test "multi: a slow reader of its log gets every line (SIGCHLD does not break a write to a full pipe)" {
	# reads 512 bytes every 2 ms: the pipe stays full, the parent's writes
	# wait, and children exit meanwhile
	cat >"$BATS_TEST_TMPDIR/slow.py" <<'PY'
import os, sys, time
with open(sys.argv[1], "wb") as out:
    while True:
        b = os.read(0, 512)
        if not b:
            break
        out.write(b)
        out.flush()
        time.sleep(0.002)
PY
	log=$BATS_TEST_TMPDIR/log
	# shellcheck disable=SC2016 # $0 to $3 belong to the inner bash
	start_bg multi bash -c '"$2" -p "$3" | python3 "$0" "$1"' "$BATS_TEST_TMPDIR/slow.py" "$log" "$BIN/multi" "$port"
	wait_until 5 tcp_listening "$port"
	n=600
	run python3 "$BATS_TEST_DIRNAME/tools/peer.py" "$port" churn "$n"
	[ "$status" -eq 0 ]
	wait_until 30 file_count "$log" "exited with status 0 \(reaped" "$n"
	[ "$(grep -c "child pid [0-9]* serves it" "$log")" -eq "$n" ]
	[ "$(grep -c "child exits$" "$log")" -eq "$n" ]
	[ ! -s "$BATS_TEST_TMPDIR/multi.out" ] # nothing on stderr
}
