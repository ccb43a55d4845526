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
