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
