#!/usr/bin/env bats
# scripts/capture: tcpdump on the loopback interface with the walkthrough's
# flags. Most tests put a fake tcpdump first on PATH (it prints its
# arguments) to check the command without capturing; the live ones capture
# for real in a private network namespace (they need root and tcpdump).

# shellcheck disable=SC2154 # bats' run sets stderr and stderr_lines
load helper
bats_require_minimum_version 1.5.0

CAPTURE="$KIT_ROOT/scripts/capture"
STUBS="$KIT_ROOT/tests/stubs/macos"


# fake_bin [id=UID]: $BATS_TEST_TMPDIR/bin with the fake tcpdump and a
# fake id that says UID (default 0: root), so that what a test sees does
# not depend on who runs it.
fake_bin() {
	local dir="$BATS_TEST_TMPDIR/bin" uid=${1#id=}
	mkdir -p "$dir"
	ln -sf "$STUBS/tcpdump" "$dir/tcpdump"
	printf '#!/bin/sh\necho %s\n' "${uid:-0}" >"$dir/id"
	chmod +x "$dir/id"
	echo "$dir"
}


@test "capture -h explains the flags, the listening line and what is not an error" {
	run --separate-stderr "$CAPTURE" -h
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: capture [-h] [-i IFACE] [-c COUNT] [-w FILE.pcap] [-o FILE.txt] udp|tcp [PORT]" ]]
	[[ "$output" == *"listening on lo, link-type"* ]]
	[[ "$output" == *"14-byte Ethernet header"* ]]
	[[ "$output" == *'4-byte "NULL" header'* ]]
	[[ "$output" == *"[bad udp cksum ...]"* ]]
	[[ "$output" == *"sudo scripts/capture udp"* ]]
	[ -z "$stderr" ]
}

@test "capture: a missing or unknown protocol, a bad port or count are usage errors (exit 2)" {
	usage_errors '^capture: ' "$CAPTURE" -- "" "icmp" "udp 0" "tcp 65536" "tcp http" \
		"udp 1 2" "-c 0 tcp" "-c x udp" "-x udp" "udp -i"
}

@test "capture prints the tcpdump command it runs, on lo on Linux" {
	local bin
	bin=$(fake_bin)
	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" udp
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "\$ tcpdump -l -n -vvv -XX -i lo 'udp port 12122 or icmp or icmp6'" ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [lo] [udp port 12122 or icmp or icmp6]" ]
	# the fake's "listening on" line comes through on stderr
	[[ "${stderr_lines[1]}" == "tcpdump: listening on lo, "* ]]

	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" tcp
	[ "${stderr_lines[0]}" = "\$ tcpdump -l -n -vvv -XX -i lo 'tcp port 12333'" ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [lo] [tcp port 12333]" ]

	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" -c 7 -i eth0 tcp 08080
	[ "${stderr_lines[0]}" = "\$ tcpdump -l -n -vvv -XX -i eth0 -c 7 'tcp port 8080'" ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [eth0] [-c] [7] [tcp port 8080]" ]
}

@test "capture uses lo0 on macOS (stub PATH: uname says Darwin)" {
	local bin
	bin=$(fake_bin)
	[ "$(PATH="$STUBS:$PATH" uname -s)" = Darwin ]
	PATH="$bin:$STUBS:$PATH" run --separate-stderr "$CAPTURE" tcp 12333
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "\$ tcpdump -l -n -vvv -XX -i lo0 'tcp port 12333'" ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [lo0] [tcp port 12333]" ]
	[[ "${stderr_lines[1]}" == "tcpdump: listening on lo0, link-type NULL (BSD loopback)"* ]]
}

@test "capture -o and -w: the command tees the text and writes the pcap with --print" {
	local bin
	bin=$(fake_bin)
	cd "$BATS_TEST_TMPDIR"
	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" -o out.txt -w out.pcap udp 2000
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "\$ tcpdump -l -n -vvv -XX -i lo -U -w out.pcap --print 'udp port 2000 or icmp or icmp6' | tee out.txt" ]
	[ "${stderr_lines[1]}" = "capture: saving the packets to out.pcap too: open it in Wireshark, or read it with tcpdump -n -vvv -XX -r out.pcap, or scripts/ladder -s out.pcap" ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [lo] [-U] [-w] [out.pcap] [--print] [udp port 2000 or icmp or icmp6]" ]
	# tee saved what tcpdump printed
	[ "$(cat out.txt)" = "$output" ]
}

@test "capture -w with a tcpdump that has no --print: saves only, and says how to read the file" {
	local bin
	bin=$(fake_bin)
	# An older tcpdump: its --help does not know --print. (rm first: the
	# fake tcpdump is a link to the stub, which must stay as it is.)
	rm "$bin/tcpdump"
	# shellcheck disable=SC2016 # $1, $* belong to the fake
	printf '#!/bin/sh\n[ "$1" = --help ] && { echo "tcpdump version 4.9.3"; exit 0; }\necho "tcpdump $*"\n' >"$bin/tcpdump"
	chmod +x "$bin/tcpdump"
	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" -w x.pcap tcp
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"has no --print"*"tcpdump -n -vvv -XX -r x.pcap"* ]]
	[[ "$stderr" == *"\$ tcpdump -l -n -vvv -XX -i lo -U -w x.pcap 'tcp port 12333'"* ]]
	[ "$output" = "tcpdump -l -n -vvv -XX -i lo -U -w x.pcap tcp port 12333" ]
	[[ "$stderr" != *"saving the packets"* ]]

	PATH="$bin:$PATH" run --separate-stderr "$CAPTURE" -w x.pcap -o x.txt tcp
	[ "$status" -eq 1 ]
	one_stderr_line 'no --print'
}

@test "capture without tcpdump says how to install it (exit 1)" {
	local bin="$BATS_TEST_TMPDIR/notcpdump" tool
	mkdir -p "$bin"
	for tool in bash uname id; do ln -s "$(command -v "$tool")" "$bin/$tool"; done
	run --separate-stderr env PATH="$bin" "$CAPTURE" udp
	[ "$status" -eq 1 ]
	one_stderr_line 'tcpdump is not installed'
	[[ "$stderr" == *"sudo apt-get install tcpdump"* ]]
	[[ "$stderr" == *"sudo dnf install tcpdump"* ]]
	[[ "$stderr" == *"macOS has it built in"* ]]
	[ -z "$output" ]
}

@test "capture as a normal user explains that it needs root and prints the sudo command (exit 1)" {
	local bin
	bin=$(fake_bin id=1000)
	# a normal user's capabilities: none (KIT_PROC: where capture reads them)
	mkdir -p "$BATS_TEST_TMPDIR/proc/self"
	printf 'CapEff:\t0000000000000000\n' >"$BATS_TEST_TMPDIR/proc/self/status"
	PATH="$bin:$PATH" KIT_PROC="$BATS_TEST_TMPDIR/proc" run --separate-stderr "$CAPTURE" -c 5 tcp 12333
	[ "$status" -eq 1 ]
	[[ "${stderr_lines[0]}" == *"capturing packets needs root, or a private network of your own (you are uid 1000)"* ]]
	[ "${stderr_lines[1]}" = "  sudo $CAPTURE -c 5 tcp 12333" ]
	[ "${stderr_lines[2]}" = "  or, without sudo, in a private network (only its own packets are there): scripts/private $CAPTURE -c 5 tcp 12333" ]
	[ "${#stderr_lines[@]}" -eq 3 ]
	# nothing ran: the fake tcpdump would have printed its arguments
	[ -z "$output" ]
}

@test "capture as a normal user with CAP_NET_RAW (inside scripts/private) captures" {
	local bin
	bin=$(fake_bin id=1000)
	mkdir -p "$BATS_TEST_TMPDIR/proc/self"
	printf 'CapEff:\t0000000000002000\n' >"$BATS_TEST_TMPDIR/proc/self/status"
	PATH="$bin:$PATH" KIT_PROC="$BATS_TEST_TMPDIR/proc" run --separate-stderr "$CAPTURE" tcp
	[ "$status" -eq 0 ]
	[ "$output" = "tcpdump [-l] [-n] [-vvv] [-XX] [-i] [lo] [tcp port 12333]" ]
}

@test "capture as a normal user on macOS also offers the ChmodBPF way (stub PATH)" {
	local bin
	bin=$(fake_bin id=1000)
	PATH="$bin:$STUBS:$PATH" run --separate-stderr "$CAPTURE" udp
	[ "$status" -eq 1 ]
	[ "${stderr_lines[1]}" = "  sudo $CAPTURE udp" ]
	[[ "${stderr_lines[2]}" == *"ChmodBPF"*"sudo chgrp admin /dev/bpf* && sudo chmod g+rw /dev/bpf*" ]]
	[ -z "$output" ]
}

@test "live: a UDP datagram, its echo, and with no server the ICMP port unreachable" {
	need_capture
	private_ns
	local out="$BATS_TEST_TMPDIR/cap.out" client server
	start_bg cap "$CAPTURE" udp
	wait_until 5 file_has "$out" 'listening on lo'
	grep -qF "\$ tcpdump -l -n -vvv -XX -i lo 'udp port 12122 or icmp or icmp6'" "$out"

	start_bg server "$BIN/udpserver"
	server=$LAST_PID
	wait_until 5 udp_bound 12122
	run in_ns "$BIN/udpclient" -t 5 -m hello 127.0.0.1
	[ "$status" -eq 0 ]
	client=$(sed -n 's/.*bound to \*:\([0-9]*\).*/\1/p' <<<"$output")
	[ -n "$client" ]
	wait_until 5 file_has "$out" "127\.0\.0\.1\.12122 > 127\.0\.0\.1\.$client: .*UDP, length 5"
	grep -qE "^    127\.0\.0\.1\.$client > 127\.0\.0\.1\.12122: .*UDP, length 5" "$out"
	# -XX: the payload is in the hex dump, after Linux lo's 14-byte header
	grep -qE '^	0x0000:  0000 0000 0000 0000 0000 0000 0800 45' "$out"
	grep -qE '68 ?65 ?6c ?6c ?6f' "$out" # "hello"

	kill "$server"
	wait_until 5 gone "$server"
	run in_ns "$BIN/udpclient" -t 1 -m again! 127.0.0.1
	[ "$status" -eq 1 ]
	wait_until 5 file_has "$out" 'ICMP 127\.0\.0\.1 udp port 12122 unreachable'
	# the datagram that drew it went out first (-vvv then shows it again,
	# quoted inside the ICMP message)
	local sent icmp
	sent=$(grep -nE '> 127\.0\.0\.1\.12122: .*UDP, length 6$' "$out" | head -1 | cut -d: -f1)
	icmp=$(grep -n 'ICMP 127.0.0.1 udp port 12122 unreachable' "$out" | cut -d: -f1)
	[ -n "$sent" ] && [ -n "$icmp" ] && [ "$sent" -lt "$icmp" ]
}

@test "live: -c stops after COUNT packets, -o saves the text and -w a pcap tcpdump -r reads" {
	need_capture
	private_ns
	cd "$BATS_TEST_TMPDIR"
	start_bg cap "$CAPTURE" -c 2 -o saved.txt -w saved.pcap udp 12122
	local pid=$LAST_PID
	wait_until 5 file_has cap.out 'listening on lo'
	run in_ns "$BIN/udpclient" -t 1 -m hello 127.0.0.1
	[ "$status" -eq 1 ] # no server: no reply
	# two packets (the datagram and the ICMP answer): capture ends by itself
	wait_until 5 gone "$pid"
	grep -qE '> 127\.0\.0\.1\.12122: .*UDP, length 5' saved.txt
	grep -q 'ICMP 127.0.0.1 udp port 12122 unreachable' saved.txt
	# what was saved was also printed
	grep -q 'ICMP 127.0.0.1 udp port 12122 unreachable' cap.out
	run --separate-stderr tcpdump -n -r saved.pcap
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *"> 127.0.0.1.12122: UDP, length 5" ]]
	[[ "${lines[1]}" == *"ICMP 127.0.0.1 udp port 12122 unreachable"* ]]
	# it said so, and scripts/ladder draws the file
	grep -qx 'capture: saving the packets to saved.pcap too: open it in Wireshark, .*scripts/ladder -s saved.pcap' cap.out
	run --separate-stderr "$KIT_ROOT/scripts/ladder" saved.pcap
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" == *"|-"*" UDP 5 bytes "*"->|" ]]
	[[ "${lines[3]}" == *"|<"*" ICMP port unreachable "*"-|" ]]
}

# closed_printed OUT: capture printed two FINs and a packet after the second
closed_printed() { awk '/Flags \[/ { n++ } /Flags \[F/ { f++; at = n } END { exit !(f >= 2 && n > at) }' "$1"; }
# saved_as_printed OUT PCAP: as many TCP packets in PCAP as capture printed in OUT
saved_as_printed() {
	[ "$(grep -c ' > .*: Flags \[' "$1")" = "$(tcpdump -n -r "$2" 2>/dev/null | wc -l)" ]
}

@test "live: capture -w of a TCP exchange, with the same filter: tcpdump -r reads the very packets capture printed" {
	need_capture
	private_ns
	cd "$BATS_TEST_TMPDIR"
	start_bg cap "$CAPTURE" -w tcp.pcap tcp 12333
	local pid=$LAST_PID
	wait_until 5 file_has cap.out 'listening on lo'
	grep -qF "\$ tcpdump -l -n -vvv -XX -i lo -U -w tcp.pcap --print 'tcp port 12333'" cap.out
	grep -qF "capture: saving the packets to tcp.pcap too" cap.out
	start_server tcpserver1 12333
	# a datagram to a port the filter leaves out: not in the file
	run in_ns "$BIN/udpclient" -t 1 -m nothere 127.0.0.1 12333
	run in_ns "$BIN/tcpclient" -t 5 -m hello 127.0.0.1
	[ "$status" -eq 0 ]
	# the whole exchange printed: both FINs, and the ACK of the second
	wait_until 5 closed_printed cap.out
	wait_until 5 saved_as_printed cap.out tcp.pcap
	kill "$pid"
	wait_until 5 gone "$pid"
	run --separate-stderr tcpdump -n -r tcp.pcap
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 9 ]
	[[ "${lines[0]}" == *" > 127.0.0.1.12333: Flags [S], seq "* ]]
	[ "$(grep -c 'Flags \[' <<<"$output")" -eq "${#lines[@]}" ] # TCP only, no UDP
	[ "$(grep -c ' > .*: Flags \[' cap.out)" -eq "${#lines[@]}" ]
}
