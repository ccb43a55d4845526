#!/usr/bin/env bats
# scripts/ladder: tcpdump text output drawn as a ladder diagram. Most tests
# draw saved tcpdump outputs (tests/fixtures/ladder, recorded by its
# record.sh from real runs of the kit in a network namespace); the live one
# captures for real (it needs root and tcpdump).

# shellcheck disable=SC2154 # bats' run sets stderr and stderr_lines
load helper
load ladder_helper
bats_require_minimum_version 1.5.0

FIXTURES="$KIT_ROOT/tests/fixtures/ladder"


# ladder_is FIXTURE... <<EOF ...: ladder draws each FIXTURE exactly as given
# (the same capture recorded with -n and with -vvv -XX draws the same).
ladder_is() {
	local expected f
	expected=$(cat)
	for f in "$@"; do
		run --separate-stderr "$LADDER" "$FIXTURES/$f"
		[ "$status" -eq 0 ] || {
			echo "ladder $f: exit $status: $stderr" >&2
			return 1
		}
		[ "$output" = "$expected" ] || {
			echo "ladder $f differs (< expected, > drawn):" >&2
			diff <(echo "$expected") <(echo "$output") >&2
			return 1
		}
	done
}

# arrows FILE: each arrow line as "> LABEL" (left to right) or "< LABEL".
arrows() {
	awk '/->\||\|<-/ {
		d = index($0, "->|") ? ">" : "<"
		s = $0
		sub(/^ *[0-9.]+ */, "", s)
		gsub(/[|<>]/, "", s)
		sub(/^[ -]*-+ /, "", s)
		sub(/ -+[ -]*$/, "", s)
		print d " " s
	}' "$1"
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# tcpdump_numbers FILE: "seq S ack A" (and " len N") of every packet after
# the SYNs, as tcpdump -vvv printed them (relative); ladder_numbers FILE: the
# same from the ladder's numbers line of each TCP arrow.
tcpdump_numbers() {
	sed -nE 's/.*Flags \[([^]S]*)\].* seq ([0-9]+)(:[0-9]+)?, ack ([0-9]+),.* length ([0-9]+)$/seq \2 ack \4 len \5/p' "$1" | sed 's/ len 0$//'
}
ladder_numbers() {
	"$LADDER" "$1" >"$BATS_TEST_TMPDIR/numbers.txt"
	text_arrows "$BATS_TEST_TMPDIR/numbers.txt" | awk -F'|' '$2 !~ /SYN/ { print $3 }'
}

@test "ladder -h shows the usage and an example" {
	run --separate-stderr "$LADDER" -h
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: ladder [-h] [-s] [--svg] [FILE]" ]
	[[ "$output" == *"|------------- SYN ------------>|"* ]]
	[[ "$output" == *"|  seq 0 ack 1 mss 65495 ws 10  |"* ]]
	[[ "$output" == *"  -s "*"SYN_SENT"*"TIME_WAIT"* ]]
	[[ "$output" == *"  --svg "*"scripts/ladder -s --svg t3.pcap >t3.svg"* ]]
	[[ "$output" == *"scripts/capture tcp | scripts/ladder"* ]]
	[ -z "$stderr" ]
}

@test "ladder: an unknown option or two files are usage errors (exit 2)" {
	run --separate-stderr "$LADDER" -x
	[ "$status" -eq 2 ]
	one_stderr_line '^ladder: unknown option -x'
	run --separate-stderr "$LADDER" "$FIXTURES/udp_echo.n.txt" "$FIXTURES/udp_echo.vvv.txt"
	[ "$status" -eq 2 ]
	one_stderr_line '^ladder: one FILE at most'
	[ -z "$output" ]
}

@test "ladder: a file that does not exist is one line, exit 1" {
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/nothere.txt"
	[ "$status" -eq 1 ]
	one_stderr_line "^ladder: $BATS_TEST_TMPDIR/nothere.txt: no such file$"
	[ -z "$output" ]
}

@test "ladder: input with no packet in it says so, exit 1" {
	printf '%s\n' "tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes" \
		"0 packets captured" "hello" >"$BATS_TEST_TMPDIR/empty.txt"
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/empty.txt"
	[ "$status" -eq 1 ]
	one_stderr_line "^ladder: no packet found in $BATS_TEST_TMPDIR/empty.txt"
	[ -z "$output" ]
	run --separate-stderr "$LADDER" </dev/null
	[ "$status" -eq 1 ]
	one_stderr_line "^ladder: no packet found in standard input"
}

@test "fixture: TCP handshake, one message each way, server closes first (-n and -vvv -XX)" {
	ladder_is tcp_echo.n.txt tcp_echo.vvv.txt <<-'EOF'
	    time   127.0.0.1:51354                 127.0.0.1:12333
	                  |                               |
	                  |     seq 0 mss 65495 ws 10     |
	   0.000          |------------- SYN ------------>|
	                  |  seq 0 ack 1 mss 65495 ws 10  |
	   0.000          |<---------- SYN-ACK -----------|
	                  |          seq 1 ack 1          |
	   0.000          |------------- ACK ------------>|
	                  |       seq 1 ack 1 len 6       |
	   0.000          |------- PSH-ACK 6 bytes ------>|
	                  |          seq 1 ack 7          |
	   0.000          |<------------ ACK -------------|
	                  |       seq 1 ack 7 len 6       |
	   0.000          |<------ PSH-ACK 6 bytes -------|
	                  |          seq 7 ack 7          |
	   0.000          |------------- ACK ------------>|
	                  |          seq 7 ack 7          |
	   0.000          |<---------- FIN-ACK -----------|
	                  |          seq 7 ack 8          |
	   0.042          |------------- ACK ------------>|
	                  |          seq 7 ack 8          |
	   0.295          |----------- FIN-ACK ---------->|
	                  |          seq 8 ack 8          |
	   0.295          |<------------ ACK -------------|
	11 packets, 2 endpoints
	EOF
}

@test "fixture with an ISN within 2^24 of 2^32 (1 connection in 128): the same relative numbers as with any other ISN" {
	# tcp_echo with the client's ISN moved to 4281421045: tcpdump prints the
	# SYNs absolute and the rest relative, as before; only the SYNs change.
	# (ladder read such a client's "seq 1" as absolute: seq 13546252.)
	sed -e 's/seq 3113336978,/seq 4281421045,/' -e 's/ack 3113336979,/ack 4281421046,/' \
		"$FIXTURES/tcp_echo.n.txt" >"$BATS_TEST_TMPDIR/wrap.txt"
	grep -q 'seq 4281421045,' "$BATS_TEST_TMPDIR/wrap.txt"
	run "$LADDER" "$FIXTURES/tcp_echo.n.txt"
	[ "$status" -eq 0 ]
	local want=$output
	run "$LADDER" "$BATS_TEST_TMPDIR/wrap.txt"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[[ $output == *"seq 1 ack 1 len 6"* ]]
}

@test "fixture: TCP connection refused is SYN then RST-ACK" {
	ladder_is tcp_refused.n.txt tcp_refused.vvv.txt <<-'EOF'
	    time   127.0.0.1:51370              127.0.0.1:12333
	                  |                            |
	                  |   seq 0 mss 65495 ws 10    |
	   0.000          |----------- SYN ----------->|
	                  |        seq 0 ack 1         |
	   0.000          |<-------- RST-ACK ----------|
	2 packets, 2 endpoints
	EOF
}

@test "fixture: UDP datagram and its echo" {
	ladder_is udp_echo.n.txt udp_echo.vvv.txt <<-'EOF'
	    time   127.0.0.1:48626              127.0.0.1:12122
	                  |                            |
	   0.000          |------- UDP 5 bytes ------->|
	   0.000          |<------ UDP 5 bytes --------|
	2 packets, 2 endpoints
	EOF
}

@test "fixture: UDP with no server draws the ICMP port unreachable back to the sender (-n, -vvv -XX, -tt)" {
	ladder_is udp_noserver.n.txt udp_noserver.vvv.txt <<-'EOF'
	    time   127.0.0.1:56982                 127.0.0.1:12122
	                  |                               |
	   0.000          |--------- UDP 5 bytes -------->|
	   0.000          |<--- ICMP port unreachable ----|
	2 packets, 2 endpoints
	EOF
	ladder_is udp_noserver.tt.txt <<-'EOF'
	    time   127.0.0.1:56982                 127.0.0.1:12122
	                  |                               |
	   0.000          |--------- UDP 5 bytes -------->|
	   0.000          |<--- ICMP port unreachable ----|
	2 packets, 2 endpoints
	EOF
}

@test "fixture: IPv6 TCP exchange, columns written [::1]:port" {
	ladder_is tcp6_echo.n.txt tcp6_echo.vvv.txt <<-'EOF'
	    time   [::1]:45736                     [::1]:12333
	                |                               |
	                |     seq 0 mss 65476 ws 10     |
	   0.000        |------------- SYN ------------>|
	                |  seq 0 ack 1 mss 65476 ws 10  |
	   0.000        |<---------- SYN-ACK -----------|
	                |          seq 1 ack 1          |
	   0.000        |------------- ACK ------------>|
	                |       seq 1 ack 1 len 6       |
	   0.005        |------- PSH-ACK 6 bytes ------>|
	                |          seq 1 ack 7          |
	   0.005        |<------------ ACK -------------|
	                |       seq 1 ack 7 len 6       |
	   0.005        |<------ PSH-ACK 6 bytes -------|
	                |          seq 7 ack 7          |
	   0.005        |------------- ACK ------------>|
	                |          seq 7 ack 7          |
	   0.005        |<---------- FIN-ACK -----------|
	                |          seq 7 ack 8          |
	   0.049        |------------- ACK ------------>|
	                |          seq 7 ack 8          |
	   0.275        |----------- FIN-ACK ---------->|
	                |          seq 8 ack 8          |
	   0.275        |<------------ ACK -------------|
	11 packets, 2 endpoints
	EOF
}

@test "fixture: IPv6 UDP with no server draws ICMP6 port unreachable" {
	ladder_is udp6_noserver.n.txt udp6_noserver.vvv.txt <<-'EOF'
	    time   [::1]:53209                      [::1]:12122
	                |                                |
	   0.000        |--------- UDP 3 bytes --------->|
	   0.000        |<--- ICMP6 port unreachable ----|
	2 packets, 2 endpoints
	EOF
}

@test "fixture: two clients of tcpserver3 get a column each, the server in the middle" {
	ladder_is tcp_two_clients.n.txt tcp_two_clients.vvv.txt <<-'EOF'
	    time   127.0.0.1:48076                 127.0.0.1:12333                 127.0.0.1:48082
	                  |                               |                               |
	                  |     seq 0 mss 65495 ws 10     |                               |
	   0.000          |------------- SYN ------------>|                               |
	                  |  seq 0 ack 1 mss 65495 ws 10  |                               |
	   0.000          |<---------- SYN-ACK -----------|                               |
	                  |          seq 1 ack 1          |                               |
	   0.000          |------------- ACK ------------>|                               |
	                  |       seq 1 ack 1 len 4       |                               |
	   0.005          |------- PSH-ACK 4 bytes ------>|                               |
	                  |          seq 1 ack 5          |                               |
	   0.005          |<------------ ACK -------------|                               |
	                  |       seq 1 ack 5 len 4       |                               |
	   0.005          |<------ PSH-ACK 4 bytes -------|                               |
	                  |          seq 5 ack 5          |                               |
	   0.005          |------------- ACK ------------>|                               |
	                  |                               |     seq 0 mss 65495 ws 10     |
	   0.207          |                               |<------------ SYN -------------|
	                  |                               |  seq 0 ack 1 mss 65495 ws 10  |
	   0.207          |                               |----------- SYN-ACK ---------->|
	                  |                               |          seq 1 ack 1          |
	   0.207          |                               |<------------ ACK -------------|
	                  |                               |       seq 1 ack 1 len 4       |
	   0.207          |                               |<------ PSH-ACK 4 bytes -------|
	                  |                               |          seq 1 ack 5          |
	   0.207          |                               |------------- ACK ------------>|
	                  |                               |       seq 1 ack 5 len 4       |
	   0.207          |                               |------- PSH-ACK 4 bytes ------>|
	                  |                               |          seq 5 ack 5          |
	   0.207          |                               |<------------ ACK -------------|
	                  |                               |          seq 5 ack 5          |
	   0.381          |                               |<---------- FIN-ACK -----------|
	                  |                               |          seq 5 ack 6          |
	   0.381          |                               |----------- FIN-ACK ---------->|
	                  |                               |          seq 6 ack 6          |
	   0.381          |                               |<------------ ACK -------------|
	                  |          seq 5 ack 5          |                               |
	   0.549          |----------- FIN-ACK ---------->|                               |
	                  |          seq 5 ack 6          |                               |
	   0.549          |<---------- FIN-ACK -----------|                               |
	                  |          seq 6 ack 6          |                               |
	   0.549          |------------- ACK ------------>|                               |
	20 packets, 3 endpoints
	EOF
}

@test "fixture: six endpoints, five clients of multi at once, all drawn to the server's column" {
	run --separate-stderr "$LADDER" "$FIXTURES/tcp_five_clients.vvv.txt"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "50 packets, 6 endpoints" ]
	# columns in order of first appearance: client 1, the server, then the others
	[[ "${lines[0]}" =~ ^\ +time\ +127\.0\.0\.1:52284\ +127\.0\.0\.1:12333\ +127\.0\.0\.1:52290\ +127\.0\.0\.1:52292\ +127\.0\.0\.1:52296\ +127\.0\.0\.1:52306$ ]]
	[ "$(grep -o '|' <<<"${lines[1]}" | wc -l)" -eq 6 ]
	# every arrow starts or ends at the server's bar (the second one)
	local server_bar line
	server_bar=$(awk '{ n = 0; for (i = 1; i <= length($0); i++) if (substr($0, i, 1) == "|" && ++n == 2) { print i; exit } }' <<<"${lines[1]}")
	[ "${#lines[@]}" -eq 103 ] # a line of numbers above each TCP arrow
	for line in "${lines[@]:2:100}"; do
		[[ $line == *[\<\>]* ]] || continue
		[[ "${line:server_bar-2:3}" =~ ^(-\|-|-\|<|>\|-|-\|\ |\ \|-|>\|\ |\ \|<)$ ]] || {
			echo "not at the server's bar: $line" >&2
			return 1
		}
	done
	# the first client is left of the server, the four others right of it
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/five.txt"
	[ "$(arrows "$BATS_TEST_TMPDIR/five.txt" | grep -cx '> SYN')" -eq 1 ]
	[ "$(arrows "$BATS_TEST_TMPDIR/five.txt" | grep -cx '< SYN')" -eq 4 ]
	[ "$(arrows "$BATS_TEST_TMPDIR/five.txt" | grep -c 'PSH-ACK 9 bytes')" -eq 10 ]
}

@test "fixture: T5/T6 with -s: each side's state as the textbook infers it; -n, -S, -vvv and the pcap draw the same" {
	local expected
	expected=$(cat <<-'EOF'
	    time      127.0.0.1:57864                 127.0.0.1:12333
	                     |                               |
	                     |     seq 0 mss 65495 ws 10     |
	   0.000    SYN_SENT |------------- SYN ------------>|
	                     |  seq 0 ack 1 mss 65495 ws 10  |
	   0.000 ESTABLISHED |<---------- SYN-ACK -----------| SYN_RCVD
	                     |          seq 1 ack 1          |
	   0.000             |------------- ACK ------------>| ESTABLISHED
	                     |       seq 1 ack 1 len 6       |
	   0.000             |------- PSH-ACK 6 bytes ------>|
	                     |          seq 1 ack 7          |
	   0.000             |<------------ ACK -------------|
	                     |       seq 1 ack 7 len 6       |
	   0.000             |<------ PSH-ACK 6 bytes -------|
	                     |          seq 7 ack 7          |
	   0.000             |------------- ACK ------------>|
	                     |          seq 7 ack 7          |
	   0.000  CLOSE_WAIT |<---------- FIN-ACK -----------| FIN_WAIT_1
	                     |          seq 7 ack 8          |
	   0.044             |------------- ACK ------------>| FIN_WAIT_2
	                     |          seq 7 ack 8          |
	   0.298    LAST_ACK |----------- FIN-ACK ---------->| TIME_WAIT
	                     |          seq 8 ack 8          |
	   0.298      CLOSED |<------------ ACK -------------|
	11 packets, 2 endpoints
	EOF
	)
	local f
	for f in tcp_close.n.txt tcp_close.S.txt tcp_close.vvv.txt tcp_close.pcap; do
		[[ $f != *.pcap ]] || command -v tcpdump >/dev/null ||
			skip_needs "tcpdump (to read a pcap)" "sudo apt-get install tcpdump, then make test TESTS=$(test_file)"
		run --separate-stderr "$LADDER" -s "$FIXTURES/$f"
		[ "$status" -eq 0 ]
		diff <(echo "$expected") <(echo "$output") || {
			echo "ladder -s $f differs (< expected, > drawn)" >&2
			return 1
		}
	done
	# every line fits in 80 columns
	[ "$(awk 'length($0) > 80' <<<"$output")" = "" ]
	# -S printed absolute numbers: ladder made them relative from the ISNs
	grep -q 'Flags \[P.\], seq 1746302062:1746302068, ack 1636707231' "$FIXTURES/tcp_close.S.txt"
}

@test "ladder's seq and ack are tcpdump's own relative numbers (every fixture with a TCP exchange)" {
	local f
	for f in tcp_close tcp_echo tcp6_echo tcp_two_clients tcp_five_clients; do
		tcpdump_numbers "$FIXTURES/$f.vvv.txt" >"$BATS_TEST_TMPDIR/want"
		ladder_numbers "$FIXTURES/$f.vvv.txt" >"$BATS_TEST_TMPDIR/got"
		[ "$(wc -l <"$BATS_TEST_TMPDIR/want")" -ge 9 ]
		diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" || {
			echo "$f: < tcpdump, > ladder" >&2
			return 1
		}
		# and from the -n text, where tcpdump leaves seq out of a bare ACK
		ladder_numbers "$FIXTURES/$f.n.txt" | diff "$BATS_TEST_TMPDIR/want" -
	done
	# the SYN is seq 0, its SYN-ACK seq 0 ack 1 (tcpdump prints those absolute)
	"$LADDER" "$FIXTURES/tcp_close.S.txt" >"$BATS_TEST_TMPDIR/l.txt"
	[ "$(text_arrows "$BATS_TEST_TMPDIR/l.txt" | head -2)" = "$(printf '%s\n' '>|SYN|seq 0 mss 65495 ws 10||' '<|SYN-ACK|seq 0 ack 1 mss 65495 ws 10||')" ]
}

@test "ladder --svg: well-formed SVG with the text ladder's arrows, in order, labels, numbers and states" {
	need_xmllint
	svg_like_text -s "$FIXTURES/tcp_close.n.txt"
	svg_like_text "$FIXTURES/tcp6_echo.vvv.txt"
	svg_like_text "$FIXTURES/udp_noserver.vvv.txt"
	svg_like_text -s "$FIXTURES/tcp_refused.n.txt"
	# three endpoints: three lifelines, twenty arrows
	"$LADDER" --svg "$FIXTURES/tcp_two_clients.n.txt" >"$BATS_TEST_TMPDIR/two.svg"
	xmllint --noout "$BATS_TEST_TMPDIR/two.svg"
	[ "$(xmllint --xpath 'count(//*[local-name()="text"][@class="name"])' "$BATS_TEST_TMPDIR/two.svg")" -eq 3 ]
	[ "$(xmllint --xpath 'count(//*[local-name()="g"][@class="arrow"]/*[local-name()="line"])' "$BATS_TEST_TMPDIR/two.svg")" -eq 20 ]
	# the ladder of the six endpoints too
	"$LADDER" -s --svg "$FIXTURES/tcp_five_clients.n.txt" | xmllint --noout -
}

@test "ladder FILE.pcap without tcpdump says what to install (exit 1)" {
	local bin="$BATS_TEST_TMPDIR/bin" tool
	mkdir -p "$bin"
	for tool in sh awk od tr; do ln -s "$(command -v "$tool")" "$bin/$tool"; done
	run --separate-stderr env PATH="$bin" "$LADDER" "$FIXTURES/tcp_close.pcap"
	[ "$status" -eq 1 ]
	one_stderr_line 'tcp_close.pcap is a pcap file, and reading one needs tcpdump'
	[ -z "$output" ]
}

@test "ladder marks a SYN, FIN or data sent again as a retransmission, not a bare ACK sent again" {
	printf '%s\n' \
		"10:00:00.000000 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [S], seq 3000000000, win 65495, length 0" \
		"10:00:01.000000 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [S], seq 3000000000, win 65495, length 0" \
		"10:00:01.000100 IP 127.0.0.1.12333 > 127.0.0.1.40000: Flags [S.], seq 1500000000, ack 3000000001, win 65483, length 0" \
		"10:00:01.000200 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [.], ack 1, win 64, length 0" \
		"10:00:01.000300 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [.], ack 1, win 64, length 0" \
		"10:00:01.000400 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [P.], seq 1:6, ack 1, win 64, length 5" \
		"10:00:01.200400 IP 127.0.0.1.40000 > 127.0.0.1.12333: Flags [P.], seq 1:6, ack 1, win 64, length 5" \
		>"$BATS_TEST_TMPDIR/again.txt"
	"$LADDER" "$BATS_TEST_TMPDIR/again.txt" >"$BATS_TEST_TMPDIR/again.ladder"
	[ "$(text_arrows "$BATS_TEST_TMPDIR/again.ladder" | cut -d'|' -f1-3)" = "$(printf '%s\n' \
		'>|SYN|seq 0' '>|SYN|(retransmission) seq 0' '<|SYN-ACK|seq 0 ack 1' \
		'>|ACK|seq 1 ack 1' '>|ACK|seq 1 ack 1' \
		'>|PSH-ACK 5 bytes|seq 1 ack 1 len 5' '>|PSH-ACK 5 bytes|(retransmission) seq 1 ack 1 len 5')" ]
}

@test "ladder: an empty or truncated pcap says so in one line, exit 1" {
	command -v tcpdump >/dev/null || skip_needs "tcpdump (to read a pcap)" "sudo apt-get install tcpdump, then make test TESTS=$(test_file)"
	head -c 24 "$FIXTURES/tcp_close.pcap" >"$BATS_TEST_TMPDIR/empty.pcap" # the file header only
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/empty.pcap"
	[ "$status" -eq 1 ]
	one_stderr_line "^ladder: no packet found in $BATS_TEST_TMPDIR/empty.pcap: the capture is empty$"
	[ -z "$output" ]
	head -c 30 "$FIXTURES/tcp_close.pcap" >"$BATS_TEST_TMPDIR/cut.pcap"
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/cut.pcap"
	[ "$status" -eq 1 ]
	one_stderr_line "^ladder: no packet found in $BATS_TEST_TMPDIR/cut.pcap: tcpdump: .*truncated"
}

@test "ladder reads standard input too (no FILE, or -)" {
	local file="$FIXTURES/tcp_echo.vvv.txt"
	run --separate-stderr "$LADDER" "$file"
	local expected=$output
	run --separate-stderr "$LADDER" <"$file"
	[ "$status" -eq 0 ]
	[ "$output" = "$expected" ]
	# shellcheck disable=SC2016 # expanded by the inner bash
	run --separate-stderr bash -c 'cat "$1" | "$2" -' _ "$file" "$LADDER"
	[ "$status" -eq 0 ]
	[ "$output" = "$expected" ]
}

@test "ladder: -v header lines, hex dumps, ARP and midnight are handled; -tttt dates too" {
	printf '%s\n' \
		"listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes" \
		"23:59:59.900000 ARP, Request who-has 10.0.0.1 tell 10.0.0.2, length 28" \
		"23:59:59.950000 IP (tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 53)" \
		"    127.0.0.1.40000 > 127.0.0.1.12333: Flags [FP.], cksum 0xfe29 (incorrect -> 0x1234), seq 1:2, ack 1, win 512, length 1" \
		"$(printf '\t')0x0000:  0000 0000 0000 0000 0000 0000 0800 4500  ..............E." \
		"00:00:00.200000 IP 127.0.0.1.12333 > 127.0.0.1.40000: Flags [R], seq 1, win 0, length 0" \
		"2 packets captured" >"$BATS_TEST_TMPDIR/mixed.txt"
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/mixed.txt"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 7 ]
	[[ "${lines[2]}" =~ ^\ +\|\ +seq\ 1\ ack\ 1\ len\ 1\ +\|$ ]]
	[[ "${lines[3]}" =~ ^\ +0\.000\ +\|-+\ FIN-PSH-ACK\ 1\ byte\ -+\>\|$ ]]
	[[ "${lines[4]}" =~ ^\ +\|\ +seq\ 1\ +\|$ ]]
	[[ "${lines[5]}" =~ ^\ +0\.250\ +\|\<-+\ RST\ -+\|$ ]]
	[ "${lines[6]}" = "2 packets, 2 endpoints" ]
	local expected=$output

	sed -E 's/^([0-9][0-9]:)/2024-05-01 \1/' "$BATS_TEST_TMPDIR/mixed.txt" >"$BATS_TEST_TMPDIR/dated.txt"
	grep -q '^2024-05-01 00:00:00.200000 IP' "$BATS_TEST_TMPDIR/dated.txt"
	run --separate-stderr "$LADDER" "$BATS_TEST_TMPDIR/dated.txt"
	[ "$output" = "$expected" ]
}

@test "ladder draws the same with BWK awk (macOS's awk) as with mawk" {
	command -v original-awk >/dev/null || skip_needs "original-awk (BWK awk, macOS's awk)" "sudo apt-get install original-awk, then make test TESTS=$(test_file)"
	local f opts
	for f in "$FIXTURES"/*.txt; do
		for opts in '' -s '-s --svg'; do
			# shellcheck disable=SC2086 # a list of options
			diff <("$LADDER" $opts "$f") <(LADDER_AWK=original-awk "$LADDER" $opts "$f") || {
				echo "differs with original-awk: ladder $opts $f" >&2
				return 1
			}
		done
	done
}

@test "ladder in a pipe lets Ctrl-C go by (it is for tcpdump) and draws what came" {
	command -v perl >/dev/null || skip_needs perl "sudo apt-get install perl, then make test TESTS=$(test_file)"
	with_input ladder
	# A background job of a script starts with SIGINT ignored; perl puts
	# back the default, as a terminal's foreground job has it, and execs
	# ladder in its own process.
	# shellcheck disable=SC2016 # perl's $SIG
	start_bg ladder perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' "$LADDER"
	local pid=$LAST_PID awk_pid
	feed_open ladder 4
	wait_until 5 pgrep -P "$pid" >/dev/null
	awk_pid=$(pgrep -P "$pid")
	# Ctrl-C signals the whole pipeline: ladder's shell and its awk
	kill -INT "$pid" "$awk_pid"
	cat "$FIXTURES/tcp_refused.n.txt" >&4
	exec 4>&-
	wait_until 5 gone "$pid"
	grep -qx '2 packets, 2 endpoints' "$BATS_TEST_TMPDIR/ladder.out"
	grep -q -- '-- RST-ACK --' "$BATS_TEST_TMPDIR/ladder.out"
}

@test "live: capture -c N | ladder draws a real TCP exchange: handshake, data both ways, FINs" {
	need_capture
	private_ns
	local t=$BATS_TEST_TMPDIR
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg live bash -c '"$1/scripts/capture" -c 11 tcp 12333 2>"$2/capture.err" |
		"$1/scripts/ladder"' _ "$KIT_ROOT" "$t"
	local live=$LAST_PID client tcpdump
	wait_until 5 file_has "$t/capture.err" 'listening on lo'
	start_server tcpserver1 12333
	with_input client
	start_bg client "$BIN/tcpclient" -w -m hello 127.0.0.1
	client=$LAST_PID
	feed_open client 4
	# tcpserver1 echoes and closes first; the server end in FIN-WAIT-2 means
	# the client's ACK of that FIN went out. Then Enter: the client closes.
	wait_until 5 tcp_state FIN-WAIT-2 "( sport = :12333 )"
	echo >&4
	wait_until 5 gone "$client"
	# Eleven packets end the capture (and so the pipe). Should the kernel
	# have merged two ACKs, stop tcpdump: ladder still draws.
	if ! wait_until 5 gone "$live"; then
		tcpdump=$(pgrep -x -P "$live" tcpdump) && kill "$tcpdump"
		wait_until 5 gone "$live"
	fi
	cat "$t/live.out" >&2 # shown if the test fails

	local port
	port=$(sed -n 's/.*connected: fd [0-9]* is 127\.0\.0\.1:\([0-9]*\) -> .*/\1/p' "$t/client.out")
	[ -n "$port" ]
	grep -qE "^ +time +127\.0\.0\.1:$port +127\.0\.0\.1:12333$" "$t/live.out"
	arrows "$t/live.out" >"$t/arrows.txt"
	[ "$(head -3 "$t/arrows.txt")" = "$(printf '> SYN\n< SYN-ACK\n> ACK')" ]
	local at=0 want n
	# in this order, each after the one before
	for want in '> PSH-ACK 6 bytes' '< PSH-ACK 6 bytes' '< FIN-ACK' '> FIN-ACK'; do
		n=$(grep -nxF -- "$want" "$t/arrows.txt" | head -1 | cut -d: -f1)
		[ -n "$n" ] && [ "$n" -gt "$at" ] || {
			echo "'$want' missing or out of order" >&2
			return 1
		}
		at=$n
	done
	grep -qE '^(10|11) packets, 2 endpoints$' "$t/live.out"
}

# side_states FILE left|right: the states ladder -s wrote beside that
# column, in order, on one line.
side_states() {
	text_arrows "$1" | awk -F'|' -v k="$2" '{ s = (k == "left") ? $4 : $5; if (s != "") printf "%s ", s }'
}

@test "live: T5/T6 (tcpclient, tcpserver1): the states ladder -s infers are those ss saw, its numbers tcpdump's; the SVG has it all" {
	need_capture
	private_ns
	cd "$BATS_TEST_TMPDIR"
	start_bg cap "$KIT_ROOT/scripts/capture" -w t56.pcap tcp
	local cap=$LAST_PID client seen=''
	wait_until 5 file_has cap.out 'listening on lo'
	start_server tcpserver1 12333
	with_input client
	start_bg client "$BIN/tcpclient" -w -m hello 127.0.0.1
	client=$LAST_PID
	feed_open client 4
	# T5: the server closed after its reply and its FIN was ACKed; the
	# client has not closed yet (it waits for Enter)
	wait_until 5 tcp_state FIN-WAIT-2 "( sport = :12333 )" && seen+="server FIN-WAIT-2, "
	wait_until 5 tcp_state CLOSE-WAIT "( dport = :12333 )" && seen+="client CLOSE-WAIT, "
	# T6: Enter, the client closes: the server's end waits in TIME-WAIT,
	# the client's is gone once its FIN is ACKed
	echo >&4
	wait_until 5 gone "$client"
	wait_until 5 tcp_state TIME-WAIT "( sport = :12333 )" && seen+="server TIME-WAIT, "
	wait_until 5 no_tcp "( dport = :12333 )" && seen+="client closed"
	[ "$seen" = "server FIN-WAIT-2, client CLOSE-WAIT, server TIME-WAIT, client closed" ]
	# the last ACK, of the client's FIN, is in the file (capture -w writes
	# each packet at once, and prints it)
	wait_until 5 file_has cap.out '127\.0\.0\.1\.12333 > 127\.0\.0\.1\.[0-9]+: Flags \[\.\], .*seq 8, ack 8,'
	kill "$cap"
	wait_until 5 gone "$cap"

	run --separate-stderr "$LADDER" -s t56.pcap
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >t56.txt
	cat t56.txt >&2 # shown if the test fails
	# the client (left) and the server (right), state after state: the
	# ones ss saw (FIN-WAIT-2, CLOSE-WAIT, TIME-WAIT, gone) among them, in order
	[ "$(side_states t56.txt left)" = "SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED " ]
	[ "$(side_states t56.txt right)" = "SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT " ]
	[ -z "$(awk 'length($0) > 80' t56.txt)" ]
	# seq and ack: tcpdump's own relative numbers
	tcpdump -n -vvv -r t56.pcap >t56.vvv.txt 2>/dev/null
	diff <(tcpdump_numbers t56.vvv.txt) <(ladder_numbers t56.pcap)
	# the SVG of the same capture: valid and complete
	need_xmllint
	svg_like_text -s t56.pcap
}

@test "README's pictures: well-formed SVG ladders, each one the README shows; T5/T6's is what ladder draws from its capture" {
	need_xmllint
	local pic n=0
	for pic in "$KIT_ROOT"/pictures/*.svg; do
		n=$((n + 1))
		xmllint --noout "$pic"
		grep -qF "](pictures/${pic##*/})" "$KIT_ROOT/README.md"
		[ "$(xmllint --xpath 'count(//*[local-name()="g"][@class="arrow"])' "$pic")" -ge 2 ]
	done
	[ "$n" -eq 3 ]
	command -v tcpdump >/dev/null || skip_needs "tcpdump (to read a pcap)" "sudo apt-get install tcpdump, then make test TESTS=$(test_file)"
	diff "$KIT_ROOT/pictures/t5-t6-close.svg" <("$LADDER" -s --svg "$FIXTURES/tcp_close.pcap")
}

# at_call NAME FD CALL: NAME (in step mode, its stdin on FD) is paused
# before CALL; at any other new pause, press Enter for it and fail (for
# wait_until). PRESSED: the pauses answered so far.
PRESSED=0
at_call() {
	local n
	n=$(grep -c 'step: next: ' "$KIT_WORK/$1.out")
	[ "$n" -gt "$PRESSED" ] || return 1
	[[ "$(sed -n 's/.*step: next: //p' "$KIT_WORK/$1.out" | tail -1)" == "$3"* ]] && return 0
	echo >&"$2"
	PRESSED=$n
	return 1
}
server_end_gone() { ! kss -Htan '( sport = :12333 )' | grep -qv '^LISTEN'; }

@test "live: the client closes first (tcpserver3 -S held before close): SYN_SENT ... FIN_WAIT_2, TIME_WAIT on its side, CLOSE_WAIT, LAST_ACK on the server's, as ss saw" {
	need_capture
	private_ns
	cd "$BATS_TEST_TMPDIR"
	start_bg cap "$KIT_ROOT/scripts/capture" -w close.pcap tcp
	local cap=$LAST_PID seen=''
	wait_until 5 file_has cap.out 'listening on lo'
	with_input server
	start_bg server "$BIN/tcpserver3" -S
	feed_open server 4
	# Enter at each pause until it listens (its first select), then the
	# client: it sends, gets its echo and closes at once
	wait_until 5 at_call server 4 'select('
	start_bg client "$BIN/tcpclient" -m hi 127.0.0.1
	wait_until 5 at_call server 4 'close(fd 4)'
	wait_until 5 tcp_state FIN-WAIT-2 "( dport = :12333 )" && seen+="client FIN-WAIT-2, "
	wait_until 5 tcp_state CLOSE-WAIT "( sport = :12333 )" && seen+="server CLOSE-WAIT, "
	echo >&4 # the server's close()
	wait_until 5 tcp_state TIME-WAIT "( dport = :12333 )" && seen+="client TIME-WAIT, "
	wait_until 5 server_end_gone && seen+="server closed"
	[ "$seen" = "client FIN-WAIT-2, server CLOSE-WAIT, client TIME-WAIT, server closed" ]
	wait_until 5 file_has cap.out '> 127\.0\.0\.1\.12333: Flags \[\.\], .*seq 5, ack 5,'
	kill "$cap"
	wait_until 5 gone "$cap"

	"$LADDER" -s close.pcap >close.txt
	cat close.txt >&2 # shown if the test fails
	[ "$(side_states close.txt left)" = "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT " ]
	[ "$(side_states close.txt right)" = "SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED " ]
	tcpdump -n -vvv -r close.pcap >close.vvv.txt 2>/dev/null
	diff <(tcpdump_numbers close.vvv.txt) <(ladder_numbers close.pcap)
}
