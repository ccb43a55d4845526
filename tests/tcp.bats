#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# tcpserver1 and tcpclient: one exchange per connection, the server closing
# first, refused connections, clients that vanish, servers that vanish, and
# peers that are not ours (bash /dev/tcp, python3).

load helper
bats_require_minimum_version 1.5.0

setup() {
	port=$(free_port)
}

@test "tcpclient + tcpserver1: one message comes back, then the server closes" {
	start_server tcpserver1 "$port"
	run --separate-stderr prog tcpclient -t 5 -m hello 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" =~ connected:\ fd\ 3\ is\ 127\.0\.0\.1:[0-9]+\ -\>\ 127\.0\.0\.1:$port ]]
	[[ "$output" == *'send(fd 3) = 6 bytes: "hello\n"'* ]]
	[[ "$output" == *'recv(fd 3) = 6 bytes: "hello\n"'* ]]
	[[ "$output" == *"reply: 6 bytes, the same as we sent"* ]]
	file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4: 127\.0\.0\.1:$port <- 127\.0\.0\.1:[0-9]+"
	file_has "$SERVER_OUT" 'recv\(fd 4\) = 6 bytes from 127\.0\.0\.1:[0-9]+: "hello\\n"'
	file_has "$SERVER_OUT" "send\(fd 4\) = 6 bytes: echoed"
	wait_until 5 file_has "$SERVER_OUT" "close\(fd 4\)"
}

@test "tcpserver1: after closing one client it serves the next, on a new fd each time" {
	start_server tcpserver1 "$port"
	for i in 1 2 3; do
		run prog tcpclient -t 5 -m "client $i" 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
		[[ "$output" == *"recv(fd 3) = 9 bytes: \"client $i\\n\""* ]]
	done
	wait_until 5 file_count "$SERVER_OUT" "close\(fd 4\)" 3
	[ "$(grep -c 'accept(fd 3) = fd 4' "$SERVER_OUT")" -eq 3 ]
}

@test "tcpclient: a second message finds the connection closed by tcpserver1 (exit 1, says so)" {
	start_server tcpserver1 "$port"
	run --separate-stderr prog tcpclient -t 5 -m one -m two 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *'recv(fd 3) = 4 bytes: "one\n"'* ]]
	[[ "$stderr" == *"the server closed the connection"* ]]
}

@test "tcpclient: no server is 'Connection refused', at once, exit 1" {
	start=$SECONDS
	run --separate-stderr prog tcpclient -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -le 2 ]
	[[ "$stderr" == "tcpclient: cannot connect to 127.0.0.1 port $port: Connection refused (ECONNREFUSED)" ]]
	[[ "$output" == *"answered our SYN with RST"* ]]
}

@test "tcpclient -w: waits for Enter; meanwhile the server's FIN arrives (CLOSE_WAIT / FIN_WAIT_2)" {
	start_server tcpserver1 "$port"
	with_input client
	start_bg client "$BIN/tcpclient" -t 5 -w -m hi 127.0.0.1 "$port"
	pid=$LAST_PID
	feed_open client 7
	out="$BATS_TEST_TMPDIR/client.out"
	wait_until 5 file_has "$out" "the server closed its end"
	# said when the FIN arrives: the server's end is FIN_WAIT_1 until our
	# kernel's delayed ACK of that FIN leaves, FIN_WAIT_2 only after it
	file_has "$out" "fd 3 is CLOSE_WAIT until we close; the server's end is FIN_WAIT_1 until our kernel ACKs its FIN \(delayed ACK, up to ~40 ms\), then FIN_WAIT_2$"
	cport=$(sed -n 's/.*connected: fd 3 is 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out")
	wait_until 5 tcp_state CLOSE-WAIT "( sport = :$cport and dport = :$port )"
	wait_until 5 tcp_state FIN-WAIT-2 "( sport = :$port and dport = :$cport )"
	echo >&7
	wait_until 5 gone "$pid"
	wait "$pid"
	# our FIN completes the close: the server's end (no owner) waits in
	# TIME-WAIT, ours goes (through a brief LAST-ACK)
	wait_until 5 tcp_state TIME-WAIT "( sport = :$port and dport = :$cport )"
	wait_until 5 no_tcp "( sport = :$cport and dport = :$port )"
}

@test "tcpclient -b: the server sees the client's chosen port" {
	start_server tcpserver1 "$port"
	cport=$(free_port)
	run --separate-stderr prog tcpclient -t 5 -b "127.0.0.1:$cport" -m hi 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"bind(fd 3, 127.0.0.1:$cport) ok"* ]]
	[[ "$output" == *"connected: fd 3 is 127.0.0.1:$cport -> 127.0.0.1:$port"* ]]
	file_has "$SERVER_OUT" "<- 127\.0\.0\.1:$cport"
}

@test "tcpclient -t: a server that accepts nothing makes it give up in time with a reason" {
	# tcpserver1 is busy with a silent first client: the kernel completes
	# the second handshake, but nobody answers.
	start_server tcpserver1 "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	start=$SECONDS
	run --separate-stderr prog tcpclient -t 1 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -le 3 ]
	[[ "$output" == *"connected: fd 3"* ]]
	[[ "$stderr" == *"no reply within 1 s"*"busy with another client"* ]]
	exec 6>&-
}

@test "tcpclient: stdout full, or a pipe nobody reads: one line on stderr, exit 1 (not SIGPIPE)" {
	start_server tcpserver3 "$port"
	run --separate-stderr bash -c 'exec "$@" >/dev/full 3>&- 4>&-' _ "$BIN/tcpclient" -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[ "$stderr" = "tcpclient: stdout: No space left on device (ENOSPC): cannot show the output" ]
	# a FIFO whose only reader has gone: writing to it is EPIPE (and SIGPIPE)
	mkfifo "$BATS_TEST_TMPDIR/pipe"
	exec 5<>"$BATS_TEST_TMPDIR/pipe"
	exec 6>"$BATS_TEST_TMPDIR/pipe"
	exec 5<&-
	run --separate-stderr bash -c 'exec "$@" >&6 6>&- 3>&- 4>&-' _ "$BIN/tcpclient" -t 5 -m hi 127.0.0.1 "$port"
	exec 6>&-
	[ "$status" -eq 1 ] # 141 would be death by SIGPIPE
	[ "$stderr" = "tcpclient: stdout: Broken pipe (EPIPE): cannot show the output" ]
}

@test "tcpclient: --help anywhere among the words is -h; the word after -m is a message, --words too" {
	for args in "-t 1 --help" "127.0.0.1 --help"; do
		# shellcheck disable=SC2086 # word lists on purpose
		run --separate-stderr prog tcpclient $args
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: tcpclient "* ]]
		[ -z "$stderr" ]
	done
	start_server tcpserver3 "$port"
	run --separate-stderr prog tcpclient -t 5 -m --help 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *'send(fd 3) = 7 bytes: "--help\n"'* ]]
}

@test "tcpclient: the port first, or HOST:PORT in one word: a usage error that shows the right order" {
	run --separate-stderr prog tcpclient 12333 localhost
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$stderr" = "tcpclient: 'localhost' is not a port: the host comes first: tcpclient localhost 12333 (try 'tcpclient -h')" ]
	for w in localhost:12333=localhost 127.0.0.1:12333=127.0.0.1 "[::1]:12333=::1" "[::1]:12333 80=::1"; do
		host=${w#*=}
		w=${w%=*}
		# shellcheck disable=SC2086 # a word list on purpose
		run --separate-stderr prog tcpclient -m hi $w
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[ "$stderr" = "tcpclient: '${w% 80}' looks like HOST:PORT: give them as two words: tcpclient $host 12333 (try 'tcpclient -h')" ]
	done
	# a bare IPv6 address is a host, not HOST:PORT
	for h in ::1 fe80::1; do
		run --separate-stderr prog tcpclient -t 1 -m hi "$h" "$port"
		[ "$status" -eq 1 ]
		[[ "$stderr" == "tcpclient: cannot connect to $h port $port: "* ]]
	done
}

@test "tcpclient -b: a HOST without an address of -b's family is said so, not 'cannot resolve'" {
	cport=$(free_port)
	run --separate-stderr prog tcpclient -t 1 -m hi -b "[::1]:$cport" 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "tcpclient: '127.0.0.1' has no IPv6 address here, but -b [::1]:$cport is IPv6 (use ::1 as HOST, or an IPv4 -b address)" ]
	run --separate-stderr prog tcpclient -t 1 -m hi -b "127.0.0.1:$cport" ::1 "$port"
	[ "$status" -eq 1 ]
	[ "$stderr" = "tcpclient: '::1' has no IPv4 address here, but -b 127.0.0.1:$cport is IPv4 (use 127.0.0.1 as HOST, or an IPv6 -b address)" ]
	# the default HOST, localhost, where /etc/hosts gives it no IPv6 address
	if not python3 -c 'import socket; socket.getaddrinfo("localhost", 1, socket.AF_INET6)' 2>/dev/null; then
		run --separate-stderr prog tcpclient -t 1 -m hi -b "[::1]:$cport"
		[ "$status" -eq 1 ]
		[ "$stderr" = "tcpclient: 'localhost' has no IPv6 address here, but -b [::1]:$cport is IPv6 (use ::1 as HOST, or an IPv4 -b address)" ]
	fi
	# a name that does not resolve at all is still 'cannot resolve'
	run --separate-stderr prog tcpclient -t 1 -m hi -b "[::1]:$cport" nosuch.invalid "$port"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "tcpclient: cannot resolve 'nosuch.invalid': "* ]]
}

@test "tcpclient ::1, refused: says which servers listen on IPv4 only" {
	hint="(tcpserver1, tcpserver3 and multi listen on IPv4 only: try 127.0.0.1; tcpserver2 serves both)"
	start_server tcpserver1 "$port"
	run --separate-stderr prog tcpclient -t 2 -m hi ::1 "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"connect(fd 3, [::1]:$port): Connection refused (ECONNREFUSED): the server's kernel answered our SYN with RST, since no socket LISTENs on that port $hint"* ]]
	[ "$stderr" = "tcpclient: cannot connect to ::1 port $port: Connection refused (ECONNREFUSED) $hint" ]
	# refused over IPv4: the hint would be wrong, and is not there
	run --separate-stderr prog tcpclient -t 2 -m hi 127.0.0.1 "$(free_port)"
	[ "$status" -eq 1 ]
	[[ "$output$stderr" != *"IPv4 only"* ]]
}

@test "tcpclient -S -b: bound but not connected, ss lists nothing and lsof no port; connect keeps the bound port" {
	start_server tcpserver3 "$port"
	cport=$(free_port)
	with_input client
	start_bg client "$BIN/tcpclient" -S -t 5 -b "127.0.0.1:$cport" -m hi 127.0.0.1 "$port"
	pid=$LAST_PID
	feed_open client 7
	out="$BATS_TEST_TMPDIR/client.out"
	wait_until 5 file_has "$out" "step: next: socket"
	echo >&7
	wait_until 5 file_has "$out" "step: next: bind"
	file_has "$out" "step:   after: fd 3 owns 127\.0\.0\.1:$cport, not yet connected: ss and netstat do not list it, lsof shows 'sock \.\.\. protocol: TCP'$"
	echo >&7
	wait_until 5 file_has "$out" "step: next: connect"
	file_has "$out" "bind\(fd 3, 127\.0\.0\.1:$cport\) ok$"
	file_has "$out" "step:   after: SYN, SYN-ACK, ACK: fd 3 ESTABLISHED to 127\.0\.0\.1:$port from the port bind\(\) gave it, or RST: Connection refused$"
	no_tcp "( sport = :$cport )"
	lsof -n -P -a -p "$pid" -d 3 | grep -q 'sock .*protocol: TCP'
	printf '\n\n\n\n' >&7
	wait_until 5 gone "$pid"
	file_has "$out" "connected: fd 3 is 127\.0\.0\.1:$cport -> 127\.0\.0\.1:$port "
}

@test "tcpclient -b PORT, HOST with an IPv6 and an IPv4 address: each socket binds its own family's wildcard" {
	# Debian's /etc/hosts gives localhost ::1 and 127.0.0.1; tcpserver1 is
	# IPv4 only, so ::1 is refused and the IPv4 socket must bind 0.0.0.0.
	# A private /etc/hosts: a mount namespace of the client's own (as a
	# normal user, in a user namespace of its own too: same network).
	local own=(unshare --mount)
	[ "$(id -u)" = 0 ] || own=(unshare --user --map-root-user --mount)
	command -v unshare >/dev/null || skip_needs "unshare (util-linux)" "sudo apt-get install util-linux, then make test TESTS=$(test_file)"
	printf '127.0.0.1 localhost\n::1 dual.test\n127.0.0.1 dual.test\n' >"$BATS_TEST_TMPDIR/hosts"
	"${own[@]}" sh -c "mount --bind '$BATS_TEST_TMPDIR/hosts' /etc/hosts" ||
		skip_needs "a mount namespace for a private /etc/hosts ($("$KIT_ROOT/scripts/userns-check" | tail -1))" "sudo make test TESTS=$(test_file)"
	start_server tcpserver1 "$port"
	cport=$(free_port)
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
	run --separate-stderr "${own[@]}" sh -c 'mount --bind "$0" /etc/hosts && exec "$@" 3>&- 4>&-' \
		"$BATS_TEST_TMPDIR/hosts" "$BIN/tcpclient" -t 5 -b "$cport" -m hi dual.test "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"bind(fd 3, [::]:$cport) ok"*"Connection refused"*"bind(fd 3, *:$cport) ok"*"connected: fd 3 is 127.0.0.1:$cport -> 127.0.0.1:$port"* ]]
}

@test "tcpclient -S: the close claims name the state each end is in when they are printed" {
	# we close first (tcpserver3 waits for us)
	start_server tcpserver3 "$port"
	run --separate-stderr prog tcpclient -S -t 5 -m hi 127.0.0.1 "$port" < <(printf '\n%.0s' {1..10})
	[ "$status" -eq 0 ]
	[[ "$output" == *"step:   after: we close first: our end goes to FIN_WAIT_1, then FIN_WAIT_2 once the server's kernel ACKs our FIN, then TIME_WAIT once the server closes too"* ]]
	# the server closed first (tcpserver1): -w waits until its FIN is here
	port2=$(free_port)
	start_server tcpserver1 "$port2"
	with_input client
	start_bg client "$BIN/tcpclient" -S -w -t 5 -m hi 127.0.0.1 "$port2"
	pid=$LAST_PID
	feed_open client 7
	out="$BATS_TEST_TMPDIR/client.out"
	printf '\n\n\n\n' >&7 # socket, connect, send, recv
	wait_until 5 file_has "$out" "the server closed its end"
	echo >&7 # -w's Enter
	wait_until 5 file_has "$out" "step: next: close"
	file_has "$out" "step:   now:   fd 3 CLOSE_WAIT \(the server closed first: its end is FIN_WAIT_1 until our kernel ACKs its FIN, then FIN_WAIT_2\)$"
	file_has "$out" "step:   after: our FIN finishes the close: the server's end goes to TIME_WAIT; ours is LAST_ACK until the server's kernel ACKs our FIN, then gone$"
	echo >&7
	wait_until 5 gone "$pid"
	# the server reset the connection: no CLOSE_WAIT, no FIN from us
	port3=$(free_port)
	start_bg rst python3 -c '
import socket, struct, sys
l = socket.socket()
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(1)
c, _ = l.accept()
c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()  # RST instead of FIN
' "$port3"
	wait_until 5 tcp_listening "$port3"
	run --separate-stderr prog tcpclient -S -t 5 -m hi 127.0.0.1 "$port3" < <(printf '\n%.0s' {1..10})
	[[ "$output" == *"the server reset the connection"* ]]
	[[ "$output" == *"step:   now:   fd 3 CLOSED: the server reset the connection, so ss and netstat no longer list it"* ]]
	[[ "$output" == *"step:   after: close() only frees fd 3: the connection is already gone, no FIN goes out"* ]]
}

@test "tcpserver1 outlives a client killed before it sent anything" {
	start_server tcpserver1 "$port"
	with_input victim
	start_bg victim "$BIN/tcpclient" 127.0.0.1 "$port"
	victim=$LAST_PID
	feed_open victim 7
	wait_until 5 file_has "$BATS_TEST_TMPDIR/victim.out" "connected: fd 3"
	kill -9 "$victim"
	wait_until 5 file_has "$SERVER_OUT" "closed the connection without sending"
	run prog tcpclient -t 5 -m after 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	alive "$SERVER_PID"
}

@test "tcpserver1 outlives a client that resets the connection (SO_LINGER 0)" {
	start_server tcpserver1 "$port"
	run python3 - "$port" <<'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()  # RST instead of FIN
EOF
	[ "$status" -eq 0 ]
	wait_until 5 file_has "$SERVER_OUT" "recv\(fd 4\): Connection reset by peer|closed the connection without sending"
	run prog tcpclient -t 5 -m after 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
}

@test "tcpclient survives a server that vanished: an error, not SIGPIPE" {
	start_server tcpserver3 "$port"
	with_input client
	start_bg client "$BIN/tcpclient" -t 5 127.0.0.1 "$port"
	pid=$LAST_PID
	feed_open client 7
	echo first >&7
	wait_until 5 file_has "$BATS_TEST_TMPDIR/client.out" "reply: 6 bytes"
	kill -9 "$SERVER_PID"
	echo second >&7
	echo third >&7
	wait_until 5 gone "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 1 ] # 141 would be death by SIGPIPE
	file_has "$BATS_TEST_TMPDIR/client.out" "the server (closed|reset) the connection"
}

@test "tcpclient behind a busy tcpserver1: says once that it waits for the reply" {
	start_server tcpserver1 "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port" # a first client that sends nothing: tcpserver1 waits in its recv()
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	start_bg client "$BIN/tcpclient" -m hi 127.0.0.1 "$port"
	pid=$LAST_PID
	out="$BATS_TEST_TMPDIR/client.out"
	wait_until 5 file_has "$out" 'waiting in recv\(fd 3\) for the reply \(no time limit: -t sets one\)$'
	sleep 0.3
	alive "$pid"
	not file_has "$out" "reply:"
	exec 6>&- # the first client goes: tcpserver1 gets to ours
	wait_until 5 gone "$pid"
	file_has "$out" "reply: 3 bytes, the same as we sent"
	[ "$(grep -c 'waiting in recv' "$out")" -eq 1 ]
}

# tcpclient_at_prompt SERVER ARGS: a client reading lines from a FIFO (fd 7)
# has sent "first" and has its reply; it waits for the next line.
tcpclient_at_prompt() {
	start_server "$@" "$port"
	with_input client
	start_bg client "$BIN/tcpclient" -t 5 127.0.0.1 "$port"
	pid=$LAST_PID
	out="$BATS_TEST_TMPDIR/client.out"
	feed_open client 7
	echo first >&7
	wait_until 5 file_has "$out" "reply: 6 bytes"
}

@test "tcpclient: the server's FIN while it waits for the next line is reported at once; Enter then closes without sending, exit 1" {
	tcpclient_at_prompt tcpserver1
	# no second line is typed: the FIN alone makes it say so
	wait_until 5 file_has "$out" '^tcpclient: the server closed the connection after 1 reply$'
	file_has "$out" '^tcpclient: recv\(fd 3\) = 0: the server closed the connection \(its FIN arrived\)$'
	file_has "$out" 'the server, which has closed its end \(CLOSE_WAIT\)\. Press Enter to close it$'
	not file_has "$out" 'one exchange per connection|\?$'
	cport=$(sed -n 's/.*connected: fd 3 is 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out")
	alive "$pid"
	tcp_state CLOSE-WAIT "( sport = :$cport and dport = :$port )"
	echo >&7 # Enter
	wait_until 5 gone "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 1 ]
	[ "$(grep -c '^tcpclient: send(' "$out")" -eq 1 ] # Enter sent nothing (no RST)
	# our FIN ended it: the server's end waits in TIME-WAIT
	wait_until 5 tcp_state TIME-WAIT "( sport = :$port and dport = :$cport )"
}

@test "tcpclient: tcpserver3 killed while the client waits for a line: reported at once, no guess about the server" {
	tcpclient_at_prompt tcpserver3
	echo second >&7
	wait_until 5 file_count "$out" "reply: 7 bytes" 1
	sleep 0.3
	not file_has "$out" "closed the connection" # tcpserver3 keeps the connection
	kill "$SERVER_PID"
	wait_until 5 file_has "$out" '^tcpclient: the server closed the connection after 2 replies$'
	not file_has "$out" 'one exchange per connection|\?$'
	alive "$pid"
	exec 7>&- # Ctrl-D: the end of standard input
	wait_until 5 gone "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 1 ]
	file_has "$out" "standard input is closed: not waiting"
}

@test "tcpclient on a terminal: the server's FIN ends the prompt's line and is reported before Enter" {
	command -v script >/dev/null || skip "needs script (util-linux) for a terminal"
	start_server tcpserver1 "$port"
	# typed: "first", then Enter 2 s later; script gives the client a terminal
	run bash -c '(echo first; sleep 2; echo) | script -qfc "$0 -t 5 127.0.0.1 $1" /dev/null' "$BIN/tcpclient" "$port"
	# (the client's socket is not fd 3 here: bats holds fds 3 and 4 open)
	[[ "$output" == *$'(Ctrl-D to finish): \r\ntcpclient: recv(fd '[0-9]$') = 0: the server closed the connection (its FIN arrived)\r\n'* ]]
	[[ "$output" == *$'the server closed the connection after 1 reply\r\n'*$'Press Enter to close it\r\n\r\ntcpclient: close(fd'* ]]
}

@test "tcpserver1 serves a client that is not ours: bash /dev/tcp" {
	start_server tcpserver1 "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	echo "from bash" >&6
	read -r -t 5 reply <&6
	exec 6>&-
	[ "$reply" = "from bash" ]
}

@test "tcpserver1 serves a client that is not ours: python3, binary" {
	start_server tcpserver1 "$port"
	run python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
data = bytes(range(256))
s.sendall(data)
got = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
print("identical" if got == data else "differs: %r" % got)
EOF
	[ "$output" = identical ]
}

@test "tcpclient talks to a server that is not ours (python3)" {
	start_bg pyserver python3 -c '
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(5)
while True:
    c, _ = l.accept()
    data = c.recv(65536)
    c.sendall(data.upper())
    c.close()
' "$port"
	wait_until 5 tcp_listening "$port"
	run --separate-stderr prog tcpclient -t 5 -m hello 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *'recv(fd 3) = 6 bytes: "HELLO\n"'* ]]
	[[ "$output" == *"reply: 6 bytes, we sent 6"* ]]
}

@test "tcpclient: each line of standard input is one message, each answered (tcpserver3)" {
	start_server tcpserver3 "$port"
	run --separate-stderr prog tcpclient -t 5 127.0.0.1 "$port" < <(printf 'one\ntwo\nthree\n')
	[ "$status" -eq 0 ]
	[ "$(grep -c 'the same as we sent' <<<"$output")" -eq 3 ]
}

@test "data from the network reaches the terminal escaped, never raw" {
	start_server tcpserver1 "$port"
	run prog tcpclient -t 5 127.0.0.1 "$port" < <(printf '\033]0;pwned\007\033[2J\r\n')
	[ "$status" -eq 0 ]
	[[ "$output" == *'"\x1b]0;pwned\x07\x1b[2J\r\n"'* ]]
	not grep -q $'[\033\007\r]' <<<"$output"
	not grep -q $'[\033\007\r]' "$SERVER_OUT"
}

@test "tcpserver1 -r: restarts on a port its killed predecessor (also -r) left with a connection" {
	start_server tcpserver1 "$port" -r
	first=$SERVER_PID
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$first"
	wait_until 5 gone "$first"
	run --separate-stderr timeout 5 "$BIN/tcpserver1" -p "$port" # without -r
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ $E_ADDRINUSE ]]
	start_server tcpserver1 "$port" -r
	exec 6>&-
	run prog tcpclient -t 5 -m back 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
}

@test "tcpserver1: its stdout gone (| head -1): one line on stderr, and it goes on serving" {
	# bash execs the server with its stdout into head, which exits after
	# the first line: every later write to stdout fails with EPIPE
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	start_bg srv bash -c 'exec "$0" -p "$1" > >(head -1)' "$BIN/tcpserver1" "$port"
	server=$LAST_PID
	out=$BATS_TEST_TMPDIR/srv.out
	wait_until 5 tcp_listening "$port"
	for i in 1 2 3; do
		run prog tcpclient -t 5 -m "client $i" 127.0.0.1 "$port"
		[ "$status" -eq 0 ]
		[[ "$output" == *"the same as we sent"* ]]
	done
	wait_until 5 file_has "$out" "^tcpserver1: stdout: .*: the log is lost from here on; still serving$"
	run prog tcpclient -t 5 -m after 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	alive "$server"
	[ "$(grep -c 'stdout:' "$out")" -eq 1 ]
	[ "$(grep -c '^tcpserver1: ' "$out")" -eq 2 ] # head's line, and that one
}

@test "tcpclient -b below 1024 without root: EACCES says why" {
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "needs setpriv to drop root"
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	else
		as=()
	fi
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 22 ] ||
		skip "ports below 1024 are open to everyone here (ip_unprivileged_port_start)"
	"${as[@]}" test -x "$BIN/tcpclient" || skip "the binary is not reachable as nobody"
	run --separate-stderr "${as[@]}" "$BIN/tcpclient" -b 22 -t 1 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpclient: bind\(fd [0-9]+, \*:22\): .* \(EACCES\) \(ports below 1024 need root\)$"
}

# The EADDRINUSE advice of a server that cannot have the port (lab.h's
# bind_advice()), on port PORT.
in_use() {
	echo "a server listens on port $1, or connections of an earlier server that ran without -r remain: ss -tan 'sport = :$1' tells them apart"
}

@test "tcpserver1: port in use by a live server: a silent probe (no client in the first one's log, no TIME_WAIT), then how to tell the two causes apart" {
	start_server tcpserver1 "$port"
	wait_until 5 file_has "$SERVER_OUT" 'waiting in accept'
	before=$(cat "$SERVER_OUT")
	run --separate-stderr prog tcpserver1 -p "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \($(in_use "$port")\)$"
	sleep 0.3 # a connect() probe's client would be in the log by now
	[ "$(cat "$SERVER_OUT")" = "$before" ]
	not tcp_state TIME-WAIT "( sport = :$port or dport = :$port )"
	alive "$SERVER_PID"
}

@test "tcpserver1: port in use, on macOS (uname says Darwin): the command that tells the causes apart is netstat's" {
	# a stand-in uname() that says Darwin, preloaded (glibc builds only)
	printf '%s\n' '#include <string.h>' '#include <sys/utsname.h>' \
		'int uname(struct utsname *u) { memset(u, 0, sizeof *u); strcpy(u->sysname, "Darwin"); return 0; }' >"$BATS_TEST_TMPDIR/darwin.c"
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/darwin.so" "$BATS_TEST_TMPDIR/darwin.c" || skip "needs cc -shared for a stand-in uname()"
	LD_PRELOAD=$BATS_TEST_TMPDIR/darwin.so "$BIN/tcpserver1" -h >/dev/null 2>&1 || skip "cannot preload into $BIN/tcpserver1"
	start_server tcpserver1 "$port"
	run --separate-stderr env LD_PRELOAD="$BATS_TEST_TMPDIR/darwin.so" "$BIN/tcpserver1" -p "$port" 3>&- 4>&-
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \(a server listens on port $port, or connections of an earlier server that ran without -r remain: netstat -an -p tcp \| grep '\\\\\.$port ' tells them apart\)$"
}

@test "tcpserver1: port held by a killed server's connection (no -r): a server listens, or connections remain" {
	start_server tcpserver1 "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$SERVER_PID"
	wait_until 5 gone "$SERVER_PID"
	run --separate-stderr prog tcpserver1 -p "$port"
	exec 6>&-
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \($(in_use "$port")\)$"
}

@test "tcpserver1: port held by a killed -r server's connection: only connections remain, and -r does start now" {
	start_server tcpserver1 "$port" -r
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$SERVER_PID"
	wait_until 5 gone "$SERVER_PID"
	wait_until 5 tcp_state FIN-WAIT-2 "( sport = :$port )"
	run --separate-stderr prog tcpserver1 -p "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \(only connections of an earlier server remain: -r starts now\)$"
	start_server tcpserver1 "$port" -r
	wait_until 5 tcp_listening "$port"
	exec 6>&-
}

@test "tcpserver1: at close() our end is FIN_WAIT_1 until the client's kernel ACKs our FIN; the log says so" {
	start_server tcpserver1 "$port"
	run prog tcpclient -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	wait_until 5 file_has "$SERVER_OUT" "close\(fd 4\)"
	file_has "$SERVER_OUT" "^tcpserver1: close\(fd 4\): done with 127\.0\.0\.1:[0-9]+ \(if it is still connected: our end FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN; its end CLOSE_WAIT until it closes too; bytes still arriving from it will be answered with RST\)$"
	not grep -q 'our end FIN_WAIT_2' "$SERVER_OUT"
}

@test "tcpserver1 -S: close()'s claims follow how the exchange ended (FIN_WAIT_1; CLOSE_WAIT, LAST_ACK)" {
	with_input srv
	start_bg srv "$BIN/tcpserver1" -S -p "$port"
	feed_open srv 7
	out=$BATS_TEST_TMPDIR/srv.out
	printf '\n\n\n\n' >&7 # socket, bind, listen, accept
	wait_until 5 tcp_listening "$port"
	run prog tcpclient -t 5 -m hi 127.0.0.1 "$port" # recv, send: Enter each
	printf '\n\n' >&7
	wait_until 5 file_has "$out" "step: next: close\(fd 4\)"
	file_has "$out" "step:   after: our FIN goes out: if the client is still there, our end \(no fd any more\) is FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN \(delayed ACK, up to ~40 ms\), and the client's end is CLOSE_WAIT; bytes still arriving from it will be answered with RST$"
	printf '\n\n' >&7 # close, accept
	# a client that closes without sending: recv() = 0, then we close from CLOSE_WAIT
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	exec 6>&-
	printf '\n' >&7 # recv
	wait_until 5 file_count "$out" "step: next: close\(fd 4\)" 2
	file_has "$out" "step:   now:   fd 4 CLOSE_WAIT: 127\.0\.0\.1:[0-9]+ has closed its end \(its FIN arrived\)$"
	tcp_state CLOSE-WAIT "( sport = :$port )"
	file_has "$out" "step:   after: our FIN goes out: our end \(no fd any more\) is LAST_ACK until the client's kernel ACKs it, then gone; the client's end waits in TIME_WAIT$"
	printf '\n' >&7
	wait_until 5 file_has "$out" "it closed first: our end LAST_ACK until its kernel ACKs our FIN, then gone; its end TIME_WAIT\)$"
	# and then our end is gone: no CLOSE-WAIT or LAST-ACK left on the port
	no_closing() { [ -z "$(kss -Htan state close-wait state last-ack "( sport = :$port )")" ]; }
	wait_until 5 no_closing
}
