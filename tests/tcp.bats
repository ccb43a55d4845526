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
	[[ "$stderr" == "tcpclient: cannot connect to 127.0.0.1 port $port: Connection refused" ]]
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
	cport=$(sed -n 's/.*connected: fd 3 is 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out")
	tcp_state CLOSE-WAIT "( sport = :$cport and dport = :$port )"
	tcp_state FIN-WAIT-2 "( sport = :$port and dport = :$cport )"
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

@test "tcpserver1 --help is -h; another --word is no option; a port alone goes with -p" {
	run --separate-stderr prog tcpserver1 --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: tcpserver1 "* ]]
	[ -z "$stderr" ]
	usage_errors "^tcpserver1: unknown option '--(port|verbose)': the options are single letters \(try 'tcpserver1 -h'\)$" \
		prog tcpserver1 -- --port "--port 12333" "-r --verbose"
	usage_errors "^tcpserver1: unexpected argument '12333': the port goes with -p: tcpserver1 -p 12333 \(try 'tcpserver1 -h'\)$" \
		prog tcpserver1 -- 12333 "-r 12333"
	usage_errors "^tcpserver1: unexpected argument '(70000|0|x1)' \(try 'tcpserver1 -h'\)$" \
		prog tcpserver1 -- 70000 0 x1
}

@test "tcpserver1: port in use by a live server: 'a server is listening', and how to see which" {
	start_server tcpserver1 "$port"
	run --separate-stderr prog tcpserver1 -p "$port"
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \(a server is listening on port $port now: lsof -n -P -i TCP:$port -s TCP:LISTEN shows which\)$"
	alive "$SERVER_PID"
}

@test "tcpserver1: port held by a killed server's connection: 'no server listens', connections linger" {
	start_server tcpserver1 "$port"
	exec 6<>"/dev/tcp/127.0.0.1/$port"
	wait_until 5 file_has "$SERVER_OUT" "accept\(fd 3\) = fd 4"
	kill -9 "$SERVER_PID"
	wait_until 5 gone "$SERVER_PID"
	run --separate-stderr prog tcpserver1 -p "$port"
	exec 6>&-
	[ "$status" -eq 1 ]
	one_stderr_line "^tcpserver1: bind\(fd 3, \*:$port\): $E_ADDRINUSE \(no server listens on port $port, but connections of an earlier server linger, e\.g\. in TIME_WAIT for 60 s: -r restarts at once only if the earlier server used -r too; else wait\. ss -tan 'sport = :$port' shows them\)$"
}

@test "tcpserver1: at close() our end is FIN_WAIT_1 until the client's kernel ACKs our FIN; the log says so" {
	start_server tcpserver1 "$port"
	run prog tcpclient -t 5 -m hi 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	wait_until 5 file_has "$SERVER_OUT" "close\(fd 4\)"
	file_has "$SERVER_OUT" "^tcpserver1: close\(fd 4\): done with 127\.0\.0\.1:[0-9]+ \(if it is still connected: our end FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN; its end CLOSE_WAIT until it closes too\)$"
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
	file_has "$out" "step:   after: our FIN goes out: if the client is still there, our end \(no fd any more\) is FIN_WAIT_1, then FIN_WAIT_2 once the client's kernel ACKs our FIN \(delayed ACK, up to ~40 ms\), and the client's end is CLOSE_WAIT$"
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
