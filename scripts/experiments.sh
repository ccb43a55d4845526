# shellcheck shell=bash
# The walkthrough's 34 observations as code (U1-U11, T1-T14, then N1-N9:
# the notes at its end), shared by scripts/tour (which narrates them) and
# tests/observations.bats (which proves them). Not a script of its own:
# `source scripts/experiments.sh`, then `exp_run U1`.
#
# One block per step, in the walkthrough's order: `grep -n '^# === T9'`
# finds step T9: its id, title and lecture text (exp_def), then its function
# exp_T9, with the helpers only it uses. Helpers shared by several steps
# come in a block of their own (# === shared by ...) before the first of
# them. The framework (where a step runs, ev, want, expect, verdict, the
# programs, captures; what a step prints) is in scripts/experiment-lib.sh.

# shellcheck source=scripts/experiment-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/experiment-lib.sh"

# --- UDP ---------------------------------------------------------------------

# === U1: no port until the first sendto; the kernel-chosen port after it
exp_def U1 "no port until the first sendto; the kernel-chosen port after it" \
"A UDP socket is just an fd until it is used. Watch lsof and ss
before and after the first sendto(): the port appears only then, and
the kernel chose it."

exp_U1() {
	local pid cport
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	start_stepping client udpclient -t 5 -m hello 127.0.0.1 "$UP"
	pid=$LAST_PID
	press 5 socket
	at_pause client 2 || { give_up "udpclient -S to pause before sendto()"; return; }
	out_lines client 'socket\(.*= fd|step: next: sendto'
	say "paused before sendto(): fd 3 exists, with no port"
	want "lsof to show fd 3 without a port (protocol: UDP)" 'sock .* protocol: UDP'
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	want_no "ss not to list the client before sendto()" .
	ev_sh_soon "ss -uanp | grep 'pid=$pid,'"
	press 5 sendto
	at_pause client 3 || { give_up "udpclient to pause after sendto()"; return; }
	cport=$(out_value client '.*bound to \*:([0-9]+).*')
	out_lines client 'sendto\(|bound to'
	say "after sendto():"
	want "lsof to show fd 3 as UDP *:PORT after sendto()" "UDP \*:$cport"
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	want "ss to list the client's port after sendto()" "UNCONN .*:$cport "
	ev_sh_soon "ss -uanp | grep 'pid=$pid,'"
	expect "a port from the kernel's range $(port_range | tr '\t' -) (got ${cport:-none})" in_range "$cport"
	press 5 recvfrom
	press 5 close
	expect_soon "the echo to come back" 5 file_has "$KIT_WORK/client.out" 'same as sent'
	verdict "fd 3 had no port before sendto() (lsof: protocol: UDP; ss: nothing); sendto() bound it to *:$cport, a port the kernel chose from $(port_range | tr '\t' -)"
}

# === U2: a datagram leaves with no server: ICMP port unreachable; the client waits
exp_def U2 "a datagram leaves with no server: ICMP port unreachable; the client waits" \
"Nobody listens on the port, yet the datagram leaves: UDP does not
ask first. The kernel at the other end answers with ICMP 'port
unreachable', which our unconnected socket never hears about."

exp_U2() {
	local before after cport
	before=$(counter UdpNoPorts)
	ev nstat -saz UdpNoPorts
	cap_start u2 udp "$UP" 2
	say "no server on port $UP"
	run_prog client 6 udpclient -t 2 -m hello 127.0.0.1 "$UP"
	out_lines client 'sendto\(fd|bound to|no reply'
	cport=$(out_value client '.*bound to \*:([0-9]+).*')
	expect "the client to wait for the reply until -t ended it (ran $(secs "$FG_MS") s, exit $FG_RC)" \
		test "$FG_RC" = 1 -a "$FG_MS" -ge 1900
	expect "the client to report no reply" file_has "$KIT_WORK/client.out" 'no reply from'
	wait_until "$EXP_WAIT" counter_above UdpNoPorts "$before" 2>/dev/null
	after=$(counter UdpNoPorts)
	ev nstat -saz UdpNoPorts
	if exp_isolated; then
		expect "Udp NoPorts to go up by 1 (from $before to $after)" test "$after" -eq $((before + 1))
	else
		expect "Udp NoPorts to go up (from $before to $after)" test "$after" -gt "$before"
	fi
	local seen="the datagram left with no server"
	if cap_end; then
		expect "2 packets captured (got $(cap_count))" test "$(cap_count)" -eq 2
		expect "the datagram from port $cport to $UP first" cap_is 1 "\.$cport > [0-9.]+\.$UP: .*UDP, length 5"
		expect "an ICMP port unreachable next" cap_is 2 "ICMP [0-9.]+ udp port $UP unreachable"
		seen+=": captured, and the kernel's ICMP port unreachable after it"
	fi
	verdict "$seen; the client waited $(secs "$FG_MS") s for a reply, then -t 2 ended it; Udp NoPorts $before -> $after"
}

# === U3: an explicitly bound client (-b 22222) shows its port before sending
exp_def U3 "an explicitly bound client (-b 22222) shows its port before sending" \
"bind() before sending: now the port is ours, and it shows in lsof
and ss before a single byte has left."

exp_U3() {
	local pid
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	start_stepping client udpclient -b "$BP" -t 5 -m hello 127.0.0.1 "$UP"
	pid=$LAST_PID
	press 5 socket
	press 5 bind
	at_pause client 3 || { give_up "udpclient -S to pause before sendto()"; return; }
	out_lines client 'bind\(|step: next: sendto'
	say "paused before sendto(): nothing sent yet"
	want "lsof to show UDP *:$BP before sending" "UDP \*:$BP"
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	want "ss to show port $BP before sending" "UNCONN .*:$BP "
	ev_soon ss -uan "sport = :$BP"
	press 5 sendto
	press 5 recvfrom
	press 5 close
	expect_soon "the echo to come back" 5 file_has "$KIT_WORK/client.out" 'same as sent'
	verdict "bound with -b $BP, the client shows *:$BP in lsof and ss before sendto()"
}

# === U4: the server socket shows as bound only after bind
exp_def U4 "the server socket shows as bound only after bind" \
"The server is the same socket call plus bind(). Before bind() no
tool lists a port; after it, netstat and ss show it."

exp_U4() {
	local pid
	port_arg udpserver "$UP"
	start_stepping server udpserver "${PA[@]}"
	pid=$LAST_PID
	press 5 socket
	at_pause server 2 || { give_up "udpserver -S to pause before bind()"; return; }
	out_lines server 'socket\(|step: next: bind'
	say "paused before bind():"
	want_no "no socket on port $UP before bind()" "^UNCONN "
	ev_soon ss -uan "sport = :$UP"
	want "lsof: fd 3 with no port before bind()" 'protocol: UDP'
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	press 5 bind
	at_pause server 3 || { give_up "udpserver to pause after bind()"; return; }
	out_lines server 'bind\('
	say "after bind():"
	want "ss to show port $UP bound after bind()" "UNCONN .*:$UP "
	ev_soon ss -uan "sport = :$UP"
	want "lsof to show UDP *:$UP after bind()" "UDP \*:$UP"
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	verdict "port $UP appears in ss and lsof only after bind(); before it fd 3 had no port"
}

# === U5: with -w, the client's socket shows no association with the server
exp_def U5 "with -w, the client's socket shows no association with the server" \
"The client got its answer and waits for Enter. Does the kernel
remember whom it talked to? Look at the peer column."

exp_U5() {
	local cport
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	with_input client
	start_prog client udpclient -w -m hello 127.0.0.1 "$UP"
	feed client 5
	expect_soon "the client to get its echo and wait for Enter" 5 file_has "$KIT_WORK/client.out" 'Press Enter'
	out_lines client 'bound to|recvfrom|Press Enter'
	cport=$(out_value client '.*bound to \*:([0-9]+).*')
	say "the client waits for Enter, after its exchange with the server:"
	want "ss: the client's peer is *, not the server" "UNCONN .*:$cport +(0\.0\.0\.0|\*):\*"
	ev_soon ss -uan "sport = :$cport"
	want "netstat: the client's port, peer *" "^udp .*:$cport +(0\.0\.0\.0|\*):\*"
	ev_sh_soon "netstat -anu | grep -E 'Proto|:($cport|$UP) '"
	want "lsof: UDP *:$cport, no ->" "UDP \*:$cport *$"
	ev_soon lsof -w -n -P -i "UDP:$cport"
	press 5 close
	verdict "after the echo the client's socket is still *:$cport with peer *:* (ss UNCONN, lsof no ->): nothing records that it talked to port $UP"
}

# === U6: while one client hangs in -w, the server serves another at once
exp_def U6 "while one client hangs in -w, the server serves another at once" \
"The first client still hangs around. The server does not care:
UDP has no connection, so it is free for the next datagram."

exp_U6() {
	local c1
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	with_input client1
	start_prog client1 udpclient -w -m first 127.0.0.1 "$UP"
	c1=$LAST_PID
	feed client1 5
	expect_soon "client 1 to be answered and hang in -w" 5 file_has "$KIT_WORK/client1.out" 'Press Enter'
	say "client 1 hangs in -w; client 2 now:"
	run_prog client2 5 udpclient -t 2 -m second 127.0.0.1 "$UP"
	out_lines client2 'recvfrom'
	expect "client 2 to be answered (exit $FG_RC)" test "$FG_RC" = 0
	expect "client 1 to still hang in -w" alive "$c1"
	out_lines udpserver 'recvfrom'
	expect "the server to have served both" file_count "$SERVER_OUT" 'recvfrom\(fd 3\)' 2
	press 5 close
	verdict "with client 1 still hanging, client 2 was answered in $(secs "$FG_MS") s: the server was done with client 1"
}

# === shared by U7, U8, U9, U10, U11: en0_setup, the second interface
# The en0 steps. Where namespaces can be made (root, or scripts/private):
# in scripts/netlab's host node, en0 192.0.2.1.
# Otherwise: 127.0.0.2 plays en0's address (U8-U10) on this machine.
en0_setup() { # en0_setup NEEDS-EN0: sets EN0 (the other address)
	if can_netns; then
		exp_netlab_up || return 1
		EN0=192.0.2.1
		return 0
	fi
	[ "$1" = optional ] || return 3
	exp_free_ports || return 1
	EN0=127.0.0.2
	EXP_NOTE="no namespaces here, so no en0: 127.0.0.2 played its address"
	say "no namespaces here, so no en0: 127.0.0.2 plays its address (all of 127/8 is local on Linux)"
}

# === U7: server on all interfaces: a client sending to en0's address is answered
exp_def U7 "server on all interfaces: a client sending to en0's address is answered" \
"The laptop has two interfaces: lo and en0. A server bound to all
of them (*) answers whatever address of ours the client uses."

exp_U7() {
	en0_setup needed
	case $? in 0) ;; 3) skipped "needs network namespaces for an en0 (scripts/netlab: as root, or as a normal user where scripts/userns-check says yes); it would show udpserver on * answering a client that sends to en0's address 192.0.2.1"; return ;; *) give_up "scripts/netlab up"; return ;; esac
	ev ip -br addr
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	want "the server on all addresses (*:$UP)" "^UNCONN .* (0\.0\.0\.0|\*):$UP "
	ev_soon ss -uan "sport = :$UP"
	cap_start u7 udp "$UP" 2
	run_prog client 5 udpclient -t 2 -m hello "$EN0" "$UP"
	out_lines client 'sendto\(fd|recvfrom'
	expect "the client to be answered (exit $FG_RC)" test "$FG_RC" = 0
	expect "the echo from $EN0:$UP" file_has "$KIT_WORK/client.out" "from $EN0:$UP: \"hello\" \\(same as sent\\)"
	out_lines udpserver 'recvfrom'
	if cap_end; then
		expect "the datagram and its echo on lo, to and from $EN0" cap_is 2 "^$EN0\.$UP > $EN0\.[0-9]+: .*UDP, length 5"
	fi
	verdict "udpserver on *:$UP answered a client sending to en0's address $EN0 (captured on lo: traffic to our own address never leaves the machine)"
}

# === U8: server bound to a specific address: a client sending there is answered
exp_def U8 "server bound to a specific address: a client sending there is answered" \
"Now bind the server to en0's address only. A client sending to that
address is still answered."

exp_U8() {
	en0_setup optional || { give_up "scripts/netlab up"; return; }
	srv udpserver "$UP" -a "$EN0" || { give_up "udpserver -a $EN0 to start"; return; }
	want "the server bound to $EN0 only" "UNCONN .* $EN0:$UP "
	ev_soon ss -uan "sport = :$UP"
	run_prog client 5 udpclient -t 2 -m hello "$EN0" "$UP"
	out_lines client 'sendto\(fd|recvfrom'
	expect "the client to be answered (exit $FG_RC)" test "$FG_RC" = 0
	expect "the echo from $EN0:$UP" file_has "$KIT_WORK/client.out" "from $EN0:$UP: \"hello\" \\(same as sent\\)"
	verdict "udpserver bound to $EN0:$UP answered a client sending to $EN0"
}

# === U9: server bound to a specific address, client sending to localhost: lost
exp_def U9 "server bound to a specific address, client sending to localhost: lost" \
"Same server, but the client sends to localhost. Nothing listens on
127.0.0.1 at that port: the datagram is lost and the client waits."

exp_U9() {
	local before after
	en0_setup optional || { give_up "scripts/netlab up"; return; }
	srv udpserver "$UP" -a "$EN0" || { give_up "udpserver -a $EN0 to start"; return; }
	want "the server bound to $EN0 only" "UNCONN .* $EN0:$UP "
	ev_soon ss -uan "sport = :$UP"
	before=$(counter UdpNoPorts)
	cap_start u9 udp "$UP" 2
	run_prog client 6 udpclient -t 2 -m hello localhost "$UP"
	out_lines client 'server localhost|sendto\(fd|no reply'
	expect "the client to wait until -t ended it (ran $(secs "$FG_MS") s, exit $FG_RC)" \
		test "$FG_RC" = 1 -a "$FG_MS" -ge 1900
	expect "the server to receive nothing" not file_has "$SERVER_OUT" 'recvfrom\(fd 3\) ='
	wait_until "$EXP_WAIT" counter_above UdpNoPorts "$before" 2>/dev/null
	after=$(counter UdpNoPorts)
	ev nstat -saz UdpNoPorts
	expect "Udp NoPorts to go up (from $before to $after)" test "$after" -gt "$before"
	local seen="a datagram to localhost:$UP was lost though udpserver runs on $EN0:$UP"
	if cap_end; then
		expect "the datagram to 127.0.0.1.$UP" cap_is 1 "> 127\.0\.0\.1\.$UP: .*UDP, length 5"
		expect "an ICMP port unreachable for it" cap_is 2 "ICMP 127\.0\.0\.1 udp port $UP unreachable"
		seen+=" (captured: answered by ICMP port unreachable)"
	fi
	verdict "$seen; the client waited $(secs "$FG_MS") s until -t 2 ended it; Udp NoPorts $before -> $after"
}

# === U10: client bound to a specific address and port: works
exp_def U10 "client bound to a specific address and port: works" \
"The client may bind too, to an address and a port of its choice.
Allowed, and it still works."

exp_U10() {
	en0_setup optional || { give_up "scripts/netlab up"; return; }
	srv udpserver "$UP" -a "$EN0" || { give_up "udpserver -a $EN0 to start"; return; }
	run_prog client 5 udpclient -b "$EN0:$BP" -t 2 -m hello "$EN0" "$UP"
	out_lines client 'bind\(|recvfrom'
	expect "the client to be answered (exit $FG_RC)" test "$FG_RC" = 0
	out_lines udpserver 'recvfrom'
	expect "the server to see the client as $EN0:$BP" file_has "$SERVER_OUT" "from $EN0:$BP:"
	verdict "a client bound to $EN0:$BP was answered by udpserver on $EN0:$UP"
}

# === U11: client bound to localhost, server bound to en0's address: works
exp_def U11 "client bound to localhost, server bound to en0's address: works" \
"Client bound to localhost, server bound to en0's address: different
interfaces, and it still works. The kernel routes between them."

exp_U11() {
	en0_setup needed
	case $? in 0) ;; 3) skipped "needs network namespaces for an en0 (scripts/netlab: as root, or as a normal user where scripts/userns-check says yes); it would show a client bound to 127.0.0.1:22222 answered by udpserver bound to en0's 192.0.2.1"; return ;; *) give_up "scripts/netlab up"; return ;; esac
	srv udpserver "$UP" -a "$EN0" || { give_up "udpserver -a $EN0 to start"; return; }
	want "the server bound to $EN0 only" "UNCONN .* $EN0:$UP "
	ev_soon ss -uan "sport = :$UP"
	run_prog client 5 udpclient -b "127.0.0.1:$BP" -t 2 -m hello "$EN0" "$UP"
	out_lines client 'bind\(|recvfrom'
	expect "the client to be answered (exit $FG_RC)" test "$FG_RC" = 0
	out_lines udpserver 'recvfrom'
	expect "the server on $EN0 to see the client as 127.0.0.1:$BP" file_has "$SERVER_OUT" "from 127\.0\.0\.1:$BP:"
	verdict "a client bound to 127.0.0.1:$BP (lo) was answered by udpserver bound to $EN0 (en0): the kernel routes between its interfaces"
}

# --- TCP ---------------------------------------------------------------------

# === T1: no server: 'Connection refused'; the SYN is answered by RST
exp_def T1 "no server: 'Connection refused'; the SYN is answered by RST" \
"TCP asks first. With no server, connect() fails at once: the
kernel answers our SYN with a RST, and that is 'Connection refused'."

exp_T1() {
	local before after cport
	before=$(counter TcpOutRsts)
	cap_start t1 tcp "$TP" 2
	say "no server on port $TP"
	run_prog client 5 tcpclient -m hello 127.0.0.1 "$TP"
	out_lines client 'cannot connect|answered our SYN'
	expect "'Connection refused' (exit $FG_RC)" file_has "$KIT_WORK/client.out" 'Connection refused'
	expect "the refusal at once (took $(secs "$FG_MS") s)" test "$FG_MS" -lt 1000
	wait_until "$EXP_WAIT" counter_above TcpOutRsts "$before" 2>/dev/null
	after=$(counter TcpOutRsts)
	ev nstat -saz TcpOutRsts
	expect "Tcp OutRsts to go up (from $before to $after)" test "$after" -gt "$before"
	local seen
	seen="connect() failed at once ($(secs "$FG_MS") s) with 'Connection refused'"
	if cap_end; then
		cport=$(sed -nE 's/^[0-9.]+\.([0-9]+) > .*Flags \[S\].*/\1/p' <<<"$CAP" | head -1)
		expect "a SYN to $TP first" cap_is 1 "> [0-9.]+\.$TP: Flags \[S\]"
		expect "RST-ACK back to port $cport" cap_is 2 "^[0-9.]+\.$TP > [0-9.]+\.$cport: Flags \[R\.\]"
		seen+="; the capture shows our SYN answered by RST-ACK"
	fi
	verdict "$seen; Tcp OutRsts $before -> $after"
}

# === T2: a server shows as LISTEN only after listen()
exp_def T2 "a server shows as LISTEN only after listen()" \
"socket, bind, listen: only after listen() does the socket show as
LISTEN, ready for clients."

exp_T2() {
	local pid
	port_arg tcpserver1 "$TP"
	start_stepping server tcpserver1 "${PA[@]}"
	pid=$LAST_PID
	press 5 socket
	press 5 bind
	at_pause server 3 || { give_up "tcpserver1 -S to pause before listen()"; return; }
	out_lines server 'bind\(fd 3, [^)]*\) ok|step: next: listen'
	say "paused before listen(): bound, not listening"
	want_no "no LISTEN on $TP before listen()" "^LISTEN "
	ev_soon ss -tln "sport = :$TP"
	want "lsof: fd 3 with no address yet (protocol: TCP)" 'sock .* protocol: TCP'
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	press 5 listen
	at_pause server 4 || { give_up "tcpserver1 to pause after listen()"; return; }
	out_lines server 'listen\('
	say "after listen():"
	want "LISTEN on $TP after listen()" "^LISTEN .*:$TP "
	ev_soon ss -tln "sport = :$TP"
	want "lsof: TCP *:$TP (LISTEN)" "TCP \*:$TP \(LISTEN\)"
	ev_soon lsof -w -n -P -a -p "$pid" -d 3
	verdict "port $TP shows as LISTEN (ss, lsof) only after listen(); after bind() alone ss -tln shows nothing"
}

# === T3: the three-way handshake completes inside connect, before any data
exp_def T3 "the three-way handshake completes inside connect, before any data" \
"connect() is where the handshake happens: SYN, SYN-ACK, ACK, all
before our program sends any data."

exp_T3() {
	local pid cport
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	cap_start t3 tcp "$TP" 3
	start_stepping client tcpclient -t 5 -m hello 127.0.0.1 "$TP"
	pid=$LAST_PID
	press 5 socket
	at_pause client 2 || { give_up "tcpclient -S to pause before connect()"; return; }
	out_lines client 'step: next: connect'
	say "paused before connect():"
	want_no "no connection before connect()" "^ESTAB "
	ev_soon ss -tan "dport = :$TP"
	if [ -n "$CAP_PID" ]; then
		say "$(cap_packets "$CAP_FILE" | grep -c .) packets captured so far"
		expect "no packet before connect()" test "$(cap_packets "$CAP_FILE" | grep -c .)" -eq 0
	fi
	press 5 connect
	at_pause client 3 || { give_up "tcpclient to pause after connect()"; return; }
	out_lines client 'connected:|step: next: send'
	cport=$(out_value client '.*connected: fd 3 is [0-9.]+:([0-9]+) .*')
	say "connect() returned; paused before send(): no data sent yet"
	# the server's end is ESTABLISHED once its kernel has taken the last ACK
	want_n "both ends ESTABLISHED" "^ESTAB " 2
	ev_soon ss -tan "( sport = :$cport or dport = :$cport )"
	want "2 segments out (tcp_info)" "^segs_out:2$"
	want "1 segment in (tcp_info)" "^segs_in:1$"
	want_no "no data from the client yet (tcp_info)" "data_segs_out|bytes_sent"
	ev_sh_soon "ss -tin 'sport = :$cport' | grep -oE '(data_)?segs_(out|in):[0-9]+|bytes_sent:[0-9]+'"
	local seen="when connect() returned both ends were ESTABLISHED; the client had sent 2 segments (SYN, ACK), received 1 (SYN-ACK), and no data"
	if cap_end; then
		expect "3 packets inside connect() (got $(cap_count))" test "$(cap_count)" -eq 3
		expect "SYN first" cap_is 1 "\.$cport > [0-9.]+\.$TP: Flags \[S\],"
		expect "SYN-ACK second" cap_is 2 "\.$TP > [0-9.]+\.$cport: Flags \[S\.\],"
		expect "ACK third, with no data" cap_is 3 "\.$cport > [0-9.]+\.$TP: Flags \[\.\],.* length 0"
		seen+="; the capture holds SYN, SYN-ACK, ACK, all inside connect()"
	fi
	expect "the client to be still paused before send()" alive "$pid"
	press 5 send
	press 5 recv
	press 5 close
	expect_soon "the echo to come back" 5 file_has "$KIT_WORK/client.out" 'the same as we sent'
	verdict "$seen"
}

# === T4: after accept: the listening fd, the connected fd, and the client's
exp_def T4 "after accept: the listening fd, the connected fd, and the client's" \
"accept() returns a new fd for the client. The server now has two:
the listening one (3) and the connected one (4)."

exp_T4() {
	local cport spid
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	spid=$SERVER_PID
	with_input client
	start_prog client tcpclient -t 5 127.0.0.1 "$TP"
	feed client 5
	expect_soon "the server to accept the client" 5 file_has "$SERVER_OUT" 'accept\(fd 3\) = fd 4'
	out_lines client 'connected:'
	out_lines tcpserver1 'accept\(fd 3\) ='
	cport=$(out_value client '.*connected: fd 3 is [0-9.]+:([0-9]+) .*')
	say "the client is connected and types nothing yet:"
	want "the server's fd 3 LISTEN" "^tcpserver *$spid .* 3u .*TCP \*:$TP \(LISTEN\)"
	want "the server's fd 4 connected to the client" "^tcpserver *$spid .* 4u .*:$TP->127\.0\.0\.1:$cport \(ESTABLISHED\)"
	want "the client's fd 3" "^tcpclient .* 3u .*:$cport->127\.0\.0\.1:$TP \(ESTABLISHED\)"
	ev_soon lsof -w -n -P -i "TCP:$TP"
	ev ss -tan "( sport = :$TP or dport = :$TP )"
	echo "hello" >&5
	expect_soon "the echo to come back" 5 file_has "$KIT_WORK/client.out" 'the same as we sent'
	verdict "after accept() the server holds fd 3 (LISTEN on *:$TP) and fd 4 (to 127.0.0.1:$cport); the client holds its fd 3 (port $cport)"
}

# === shared by T5, T6: client_fin_wait, a client that saw the server close
# client_fin_wait [CMD...]: tcpserver1 and a client -w that got its echo
# and saw the server close; sets CPORT, and FIN_MS: when we saw the client
# say so (we look every 5 ms). CMD runs at once after that moment.
client_fin_wait() {
	srv tcpserver1 "$TP" || return 1
	with_input client
	start_prog client tcpclient -t 5 -w -m hello 127.0.0.1 "$TP"
	CLIENT_PID=$LAST_PID
	feed client 5
	wait_every 5 5 file_has "$KIT_WORK/client.out" 'connected: fd 3' || return 1
	CPORT=$(out_value client '.*connected: fd 3 is [0-9.]+:([0-9]+) .*')
	wait_every 5 5 file_has "$KIT_WORK/client.out" 'the server closed its end' || return 1
	FIN_MS=$(now_ms)
	[ $# -eq 0 ] || "$@"
	out_lines client 'reply:|closed its end'
}

# === T5: the server closes after its reply: FIN_WAIT_1 briefly, then FIN_WAIT_2 and CLOSE_WAIT
exp_def T5 "the server closes after its reply: FIN_WAIT_1 briefly, then FIN_WAIT_2 and CLOSE_WAIT" \
"tcpserver1 closes right after its reply. Its end is FIN_WAIT_1
briefly, until the client's kernel ACKs the FIN (Linux delays that ACK
a little), then waits in FIN_WAIT_2; the client's end is in CLOSE_WAIT,
until the client closes too."

# fin_watch: from FIN_MS, look at the server's end as fast as ss runs (every
# ~10 ms), for 2 s at most, until it is FIN-WAIT-2. Sets FW1_MS (the last
# look that saw FIN-WAIT-1, or ''), FW2_MS (the first that saw FIN-WAIT-2,
# or ''), FW_LAST (the last state seen); fin_show shows the looks. A look's
# time is when it began.
fin_watch() {
	local line
	FW_MS=() FW_LINES=() FW_STATES=() FW1_MS='' FW2_MS=''
	while :; do
		FW_MS+=($(($(now_ms) - FIN_MS)))
		line=$(kss -Htan "( sport = :$TP and dport = :$CPORT )" 2>&1)
		FW_LINES+=("$line")
		FW_STATES+=("${line%% *}")
		[ "${FW_STATES[-1]}" = FIN-WAIT-1 ] && FW1_MS=${FW_MS[-1]}
		if [ "${FW_STATES[-1]}" = FIN-WAIT-2 ]; then
			FW2_MS=${FW_MS[-1]}
			break
		fi
		[ "${FW_MS[-1]}" -lt 2000 ] || break
	done
	FW_LAST=${FW_STATES[-1]:-nothing}
}

# fin_show: the first and the last look of each state, in ms since the
# client saw the FIN.
fin_show() {
	local n=${#FW_MS[@]} i
	run_line ss -Htan "( sport = :$TP and dport = :$CPORT )"
	for ((i = 0; i < n; i++)); do
		if [ "$i" -eq 0 ] || [ "$i" -eq $((n - 1)) ] ||
			[ "${FW_STATES[i]}" != "${FW_STATES[i - 1]}" ] || [ "${FW_STATES[i]}" != "${FW_STATES[i + 1]}" ]; then
			printf '%8s  %s\n' "+${FW_MS[i]} ms" "${FW_LINES[i]:-(no such socket)}"
		fi
	done
	say "$n look$([ "$n" = 1 ] || echo s) in ${FW_MS[n - 1]} ms"
}

exp_T5() {
	client_fin_wait fin_watch || { give_up "the client to see the server close"; return; }
	say "the client saw the server's FIN; the server's end, every ~10 ms since (ms after the client reported it):"
	fin_show
	expect "the server's end to reach FIN-WAIT-2 within 2 s (last seen: $FW_LAST)" test -n "$FW2_MS"
	local fw
	if [ -n "$FW1_MS" ]; then
		fw="still FIN-WAIT-1 $FW1_MS ms after the client reported its FIN (our kernel delays its ACK of a FIN), and FIN-WAIT-2 by $FW2_MS ms"
		say "FIN-WAIT-1 until the client's kernel ACKs the FIN (Linux delays that ACK), then FIN-WAIT-2"
	else
		fw="already FIN-WAIT-2 at the first look, ${FW2_MS:-?} ms after the client reported its FIN (the ACK of the FIN had come)"
	fi
	say "the server closed after its reply; the client waits for Enter:"
	want "the server's end FIN-WAIT-2, owned by no process" "^FIN-WAIT-2 .*:$TP +[0-9.]+:$CPORT *$"
	want "the client's end CLOSE-WAIT" "^CLOSE-WAIT .*:$CPORT .*tcpclient"
	ev_soon ss -tanp "( sport = :$TP or dport = :$TP )"
	want "netstat: the server's end FIN_WAIT2" "^tcp .*:$TP +[0-9.]+:$CPORT +FIN_WAIT2"
	want "netstat: the client's end CLOSE_WAIT" "^tcp .*:$CPORT +[0-9.]+:$TP +CLOSE_WAIT"
	ev_sh_soon "netstat -tan | grep -E 'State|:$CPORT '"
	want "lsof: the client's end (CLOSE_WAIT)" "\(CLOSE_WAIT\)"
	want_no "lsof: no process owns the server's end" "FIN_WAIT"
	ev_soon lsof -w -n -P -i "TCP:$CPORT"
	say "a second later, still so:"
	sleep 1 # a duration to measure, not a wait for something
	want "FIN-WAIT-2 to last while the client waits" "^FIN-WAIT-2 .*:$TP +[0-9.]+:$CPORT *$"
	want "CLOSE-WAIT to last while the client waits" "^CLOSE-WAIT .*:$CPORT "
	ev_soon ss -tan "( sport = :$CPORT or dport = :$CPORT )"
	press 5 close
	expect_soon "the client to finish on Enter" 5 gone "$CLIENT_PID"
	want_no "FIN-WAIT-2 to end when the client closes" "^FIN-WAIT-2 "
	want_no "CLOSE-WAIT to end when the client closes" "^CLOSE-WAIT "
	want "the server's end in TIME-WAIT" "^TIME-WAIT .*:$TP +[0-9.]+:$CPORT *$"
	ev_soon ss -tan "( sport = :$CPORT or dport = :$CPORT )"
	verdict "after its reply the server's end was $fw, with no owner; the client's end was CLOSE-WAIT. Both lasted while the client waited, and ended when it closed"
}

# === T6: after the client closes only the listener is left (and TIME_WAIT)
exp_def T6 "after the client closes only the listener is left (and TIME_WAIT)" \
"The client closes: only the listener is left, plus the server end
in TIME_WAIT, which no process owns."

exp_T6() {
	local spid
	client_fin_wait || { give_up "the client to see the server close"; return; }
	spid=$SERVER_PID
	press 5 close
	expect_soon "the client to finish on Enter" 5 gone "$CLIENT_PID"
	say "the client closed:"
	want "the listener, owned by tcpserver1" "^LISTEN .*:$TP .*tcpserver1"
	want "the server's end in TIME-WAIT, no owner" "^TIME-WAIT .*:$TP +[0-9.]+:$CPORT *$"
	# the client's end is LAST-ACK until the server's ACK of its FIN arrives
	want_n "nothing else" . 3
	ev_soon ss -tanp "( sport = :$TP or dport = :$TP )"
	want_n "lsof: the listener only" "TCP " 1
	want "lsof: the listener" "TCP \*:$TP \(LISTEN\)"
	ev_soon lsof -w -n -P -i "TCP:$TP"
	say "Linux: that TIME-WAIT alone keeps a new server off the port:"
	run_line kill "$spid"
	kill "$spid"
	wait "$spid" 2>/dev/null
	port_arg tcpserver1 "$TP"
	run_prog again 5 tcpserver1 "${PA[@]}"
	out_lines again 'bind\('
	expect "a restart to fail while TIME-WAIT lasts (exit $FG_RC)" file_has "$KIT_WORK/again.out" "$E_ADDRINUSE"
	verdict "after the client closed, ss shows the LISTEN socket (tcpserver1's) and the server's end in TIME-WAIT with no owner; lsof shows the listener only. That TIME-WAIT keeps a restarted tcpserver1 off the port (Address already in use) for 60 s: see T7"
}

# === T7: kill the server with a client connected: 'Address already in use'; -r
exp_def T7 "kill the server with a client connected: 'Address already in use'; -r" \
"Kill the server while a client is connected, and start it again:
'Address already in use'. The kernel still holds that connection."

# t7_round N [OLD-FLAGS]: a server (with OLD-FLAGS) and a client N
# connected to it; kill -9 the server. The client stays (CLOSE-WAIT).
t7_round() {
	local n=$1 spid
	shift
	srv tcpserver1 "$TP" "$@" || return 1
	spid=$SERVER_PID
	with_input "client$n"
	start_prog "client$n" tcpclient -t 30 127.0.0.1 "$TP"
	feed "client$n" 5
	wait_until 5 file_has "$SERVER_OUT" 'accept\(fd 3\) = fd 4' 2>/dev/null || return 1
	run_line kill -9 "$spid"
	kill -9 "$spid"
	wait "$spid" 2>/dev/null # here, so that bash's "Killed" goes nowhere
	# FIN-WAIT-1 until the client's kernel ACKs the FIN
	want "the killed server's connection left behind (FIN-WAIT-2)" "^FIN-WAIT-2 .*:$TP "
	ev_soon ss -tanp "( sport = :$TP or dport = :$TP )"
}

exp_T7() {
	say "1. the old server without -r:"
	t7_round 1 || { give_up "a client connected to tcpserver1"; return; }
	port_arg tcpserver1 "$TP"
	run_prog new1 5 tcpserver1 "${PA[@]}"
	out_lines new1 'bind\('
	expect "a new server without -r: Address already in use" file_has "$KIT_WORK/new1.out" "$E_ADDRINUSE"
	run_prog new2 5 tcpserver1 -r "${PA[@]}"
	out_lines new2 'bind\('
	expect "a new server with -r: still Address already in use (the old one had no -r)" file_has "$KIT_WORK/new2.out" "$E_ADDRINUSE"

	exp_net_new || { give_up "a fresh place for part 2"; return; }
	say "2. again, with -r on the old server too:"
	t7_round 2 -r || { give_up "a client connected to tcpserver1 -r"; return; }
	port_arg tcpserver1 "$TP"
	run_prog new3 5 tcpserver1 "${PA[@]}"
	out_lines new3 'bind\('
	expect "a new server without -r: Address already in use" file_has "$KIT_WORK/new3.out" "$E_ADDRINUSE"
	srv tcpserver1 "$TP" -r || EXP_MISSED+=("a new server with -r to start")
	out_lines "$SERVER_OUT" 'listen\('
	run_prog back 5 tcpclient -t 2 -m back 127.0.0.1 "$TP"
	out_lines back 'reply:'
	expect "the restarted server to serve (exit $FG_RC)" test "$FG_RC" = 0
	verdict "kill -9 with a client connected left the connection in FIN-WAIT-2: a new tcpserver1 got 'Address already in use', with -r too, until the old one also had -r. The leftover connection keeps the old listener's SO_REUSEADDR, and Linux shares a port only when both sockets set it"
}

# === T8: telnet, nc and bash /dev/tcp work as clients of our servers
exp_def T8 "telnet, nc and bash /dev/tcp work as clients of our servers" \
"Our servers speak plain TCP: telnet, nc, even bash can talk to
them. telnet is your friend."

exp_T8() {
	local nc_said='nc: not installed' telnet_said='telnet: not installed'
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	ev_sh "exec 5<>/dev/tcp/127.0.0.1/$TP; echo hello bash >&5; timeout 5 cat <&5"
	expect "bash /dev/tcp to get its echo" ev_has '^hello bash$'
	if command -v nc >/dev/null; then
		ev_sh "echo hello nc | timeout 5 nc 127.0.0.1 $TP"
		if ev_has '^hello nc$'; then nc_said='nc: echoed'; else nc_said='nc: NO ECHO'; fi
	fi
	if command -v telnet >/dev/null; then
		with_input telnet
		run_line telnet 127.0.0.1 "$TP"
		start_bg telnet telnet 127.0.0.1 "$TP"
		feed telnet 5
		telnet_said='telnet: NO ECHO'
		if wait_until 5 file_has "$KIT_WORK/telnet.out" '^Escape character' 2>/dev/null; then
			echo 'hello telnet' >&5
			wait_until 5 file_has "$KIT_WORK/telnet.out" 'Connection closed by foreign host' 2>/dev/null &&
				telnet_said='telnet: echoed'
		fi
		# What the terminal would show: the typed line, then the echo.
		sed '/^Escape character/a hello telnet          <- typed' "$KIT_WORK/telnet.out"
	fi
	out_lines tcpserver1 'recv\('
	verdict "bash /dev/tcp got its echo from tcpserver1; $nc_said; $telnet_said"
}

# === shared by T9, T10, T11: hold_first, a server busy with client 1; cport_of, connected, replied
# hold_first: tcpserver1 (ARGS) and client 1, connected and accepted, that
# sends nothing until `echo first >&5`.
hold_first() {
	srv tcpserver1 "$TP" "$@" || return 1
	with_input c1
	start_prog c1 tcpclient -t 30 127.0.0.1 "$TP"
	feed c1 5
	wait_until 5 file_has "$SERVER_OUT" 'accept\(fd 3\) = fd 4' 2>/dev/null || return 1
	say "client 1 is accepted; the server waits in recv() for its first line"
}

# The port of client NAME, once connected.
cport_of() { out_value "$1" '.*connected: fd 3 is [0-9.]+:([0-9]+) .*'; }

connected() { # connected NAME...: each client NAME is connected
	local n
	for n; do file_has "$KIT_WORK/$n.out" 'connected: fd 3' || return 1; done
}

replied() { file_has "$KIT_WORK/$1.out" 'reply: '; }

# === T9: listen(1): a second client is ESTABLISHED though never accepted
exp_def T9 "listen(1): a second client is ESTABLISHED though never accepted" \
"listen(1): the second client connects though the server never
accepted it. The kernel did the handshake and keeps its data."

exp_T9() {
	local p2 t0 ms
	hold_first -l 1 || { give_up "tcpserver1 -l 1 to accept client 1"; return; }
	start_prog c2 tcpclient -t 30 -m two 127.0.0.1 "$TP"
	expect_soon "client 2 to connect" 5 connected c2 || { verdict ""; return; }
	p2=$(cport_of c2)
	out_lines c2 'connected:|send\('
	# the 4 bytes reach Recv-Q when they arrive; client 2's Send-Q empties
	# when the server's kernel ACKs them, which it may delay (~40 ms)
	want "the listener: 1 connection waiting, backlog 1" "^LISTEN +1 +1 "
	want "client 2's server end ESTABLISHED, its 4 bytes in Recv-Q, no owner" "^ESTAB +4 +0 .*:$TP +[0-9.]+:$p2 *$"
	want "client 2's end ESTABLISHED, nothing unacknowledged (Send-Q 0)" "^ESTAB +0 +0 .*:$p2 .*tcpclient"
	ev_soon ss -tanp "( sport = :$TP or dport = :$TP )"
	want_no "lsof: no server fd for client 2" "tcpserver.*->127\.0\.0\.1:$p2 "
	want "lsof: client 2's own fd" "tcpclient.*:$p2->"
	ev_soon lsof -w -n -P -i "TCP:$TP"
	expect "client 2 not served yet" not replied c2
	say "client 1 sends its line and is served; then client 2:"
	t0=$(now_ms)
	echo first >&5
	expect_soon "client 2 to be served after client 1" 5 replied c2
	ms=$(($(now_ms) - t0))
	out_lines c2 'reply:'
	out_lines tcpserver1 'accept\(fd 3\) =|recv\(fd'
	verdict "with listen(1), client 2 (port $p2) was ESTABLISHED and its 4 bytes ACKed and queued (Recv-Q 4) with no server fd (lsof); it was served $(secs "$ms") s after client 1 finished"
}

# === T10: beyond the queue: further clients hang in SYN-SENT (Linux)
exp_def T10 "beyond the queue: further clients hang in SYN-SENT (Linux)" \
"More clients than the queue holds: Linux ignores their SYNs (macOS
refuses them). They hang in SYN-SENT and retry, and get through when
the queue has room again."

exp_T10() {
	local p2 p3 c4 before after t0
	hold_first -l 1 || { give_up "tcpserver1 -l 1 to accept client 1"; return; }
	start_prog c2 tcpclient -t 30 -m two 127.0.0.1 "$TP"
	start_prog c3 tcpclient -t 30 -m three 127.0.0.1 "$TP"
	expect_soon "clients 2 and 3 to connect" 5 connected c2 c3 || { verdict ""; return; }
	p2=$(cport_of c2) p3=$(cport_of c3)
	before=$(counter TcpExtListenOverflows)
	cap_start t10 tcp "$BP" 2
	say "client 4, bound to port $BP so the capture shows only its packets:"
	start_prog c4 tcpclient -b "$BP" -t 3 -m four 127.0.0.1 "$TP"
	c4=$LAST_PID
	start_prog c5 tcpclient -t 30 -m five 127.0.0.1 "$TP"
	want_n "clients 4 and 5 in SYN-SENT" "^SYN-SENT " 2
	want "the listener full: 2 waiting, backlog 1" "^LISTEN +2 +1 "
	want "client 2 ESTABLISHED" "^ESTAB .*:$p2 +[0-9.]+:$TP"
	want "client 3 ESTABLISHED" "^ESTAB .*:$p3 +[0-9.]+:$TP"
	ev_soon ss -tan "( sport = :$TP or dport = :$TP )"
	expect_soon "client 4 to give up after -t 3" 6 gone "$c4"
	out_lines c4 'no SYN-ACK'
	expect "client 4's message: still SYN-SENT" file_has "$KIT_WORK/c4.out" 'no SYN-ACK within 3 s: still SYN-SENT'
	wait_until "$EXP_WAIT" counter_above TcpExtListenOverflows "$before" 2>/dev/null
	after=$(counter TcpExtListenOverflows)
	ev nstat -saz TcpExtListenOverflows TcpExtListenDrops
	expect "ListenOverflows to go up (from $before to $after)" test "$after" -gt "$before"
	local gap='' seen
	if cap_end; then
		gap=$(cap_gap_ms)
		expect "a SYN from port $BP" cap_is 1 "\.$BP > .*Flags \[S\],"
		expect "no answer, but the SYN again" cap_is 2 "\.$BP > .*Flags \[S\],"
		expect "the retry about 1 s later (${gap:-?} ms)" test "${gap:-0}" -ge 800 -a "${gap:-0}" -le 1500
	fi
	say "client 1 finishes; the queue drains:"
	t0=$(now_ms)
	echo first >&5
	expect_soon "client 5 to get through and be served" 10 replied c5
	out_lines c5 'connected:|reply:'
	seen="with tcpserver1 -l 1 busy with client 1, clients 2 and 3 were ESTABLISHED in the queue (LISTEN 2 1); clients 4 and 5 stayed SYN-SENT, their SYNs dropped (ListenOverflows $before -> $after)"
	[ -z "$gap" ] || seen+=" and retried after $(secs "$gap") s"
	verdict "$seen; client 4 gave up with -t 3; client 5 got through $(secs $(($(now_ms) - t0))) s after client 1 finished"
}

# === T11: tcpserver1 serves one client at a time
exp_def T11 "tcpserver1 serves one client at a time" \
"That TCP accepts many connections does not mean our program serves
many clients: tcpserver1 serves one at a time."

exp_T11() {
	local t0 t1 t2
	hold_first || { give_up "tcpserver1 to accept client 1"; return; }
	t0=$(now_ms)
	start_prog c2 tcpclient -t 30 -m two 127.0.0.1 "$TP"
	expect_soon "client 2 to connect" 5 connected c2
	out_lines c2 'connected:'
	sleep 1.5 # client 1 keeps the server busy for a while
	expect "client 2 not served while client 1 is" not replied c2
	say "1.5 s later client 2 still waits; client 1 sends its line:"
	t1=$(now_ms)
	echo first >&5
	expect_soon "client 2 to be served once client 1 is done" 5 replied c2
	t2=$(now_ms)
	out_lines c2 'reply:'
	out_lines tcpserver1 'accept\(fd 3\) =|close\(fd'
	verdict "client 2 waited $(secs $((t2 - t0))) s for its reply, and got it $(secs $((t2 - t1))) s after client 1 was done: one client at a time"
}

# === shared by T12, T13: two_held, a server with two clients at once
# two_held PROG: PROG and two clients -w, both answered and still connected;
# sets T_FAST (ms for client 2's answer while client 1 stays).
two_held() {
	srv "$1" "$TP" || return 1
	with_input c1
	start_prog c1 tcpclient -t 5 -w -m one 127.0.0.1 "$TP"
	feed c1 5
	wait_until 5 file_has "$KIT_WORK/c1.out" 'Press Enter' 2>/dev/null || return 1
	local t0
	t0=$(now_ms)
	with_input c2
	start_prog c2 tcpclient -t 5 -w -m two 127.0.0.1 "$TP"
	feed c2 6
	wait_until 5 file_has "$KIT_WORK/c2.out" 'Press Enter' 2>/dev/null || return 1
	T_FAST=$(($(now_ms) - t0))
	out_lines c2 'reply:'
}

# === T12: multi serves clients at once, one process each, and reaps them
exp_def T12 "multi serves clients at once, one process each, and reaps them" \
"One way out: fork a child process per client, and reap it with
waitpid() when it is done."

exp_T12() {
	local spid kids
	two_held multi || { give_up "multi to answer two clients"; return; }
	spid=$SERVER_PID
	expect "client 2 answered at once (took $(secs "$T_FAST") s) while client 1 stays" test "$T_FAST" -lt 2000
	out_lines multi 'child pid'
	ev ps -o pid,ppid,stat,args --ppid "$spid"
	kids=$(pgrep -P "$spid" | wc -l)
	expect "2 child processes (found $kids)" test "$kids" -eq 2
	# the parent closes its copy of each connection's fd after fork()
	want_n "each connection owned by one process only" '^ESTAB .*users:\(\("multi",pid=[0-9]+,fd=4\)\)$' 2
	ev_soon ss -tnp "( sport = :$TP )"
	expect "each connection owned by its own process" \
		test "$(grep -oE 'pid=[0-9]+' <<<"$EV" | sort -u | wc -l)" -eq 2
	say "both clients press Enter:"
	press 5 close
	press 6 close
	# the kernel's view first: both reaped, so no child left, not even
	# <defunct>; then multi's report of each waitpid()
	expect_soon "no child left, not even <defunct>" 5 no_children "$spid"
	expect_soon "multi to report both children reaped" 5 file_count "$SERVER_OUT" 'exited with status 0 \(reaped by waitpid\)' 2
	out_lines multi 'reaped'
	ev ps -o pid,ppid,stat,args --ppid "$spid"
	verdict "multi served 2 clients at once (client 2 answered in $(secs "$T_FAST") s), each by its own child process; both children were reaped when their clients left"
}

# === T13: tcpserver3 serves clients at once in one process
exp_def T13 "tcpserver3 serves clients at once in one process" \
"Another way: one process, a select() loop over all the fds."

exp_T13() {
	local spid
	two_held tcpserver3 || { give_up "tcpserver3 to answer two clients"; return; }
	spid=$SERVER_PID
	expect "client 2 answered at once (took $(secs "$T_FAST") s) while client 1 stays" test "$T_FAST" -lt 2000
	out_lines tcpserver3 'accept\(fd 3\) ='
	want "one process with fd 3 (LISTEN)" " 3u .*\(LISTEN\)"
	want "... and fd 4 (client 1)" " 4u .*\(ESTABLISHED\)"
	want "... and fd 5 (client 2)" " 5u .*\(ESTABLISHED\)"
	ev_soon lsof -w -n -P -a -p "$spid" -i TCP
	ev ps -o pid,ppid,args --ppid "$spid"
	expect "no child process" no_children "$spid"
	press 5 close
	press 6 close
	expect_soon "the server to see both clients leave" 5 file_has "$SERVER_OUT" '\(0 clients now\)'
	verdict "tcpserver3 served 2 clients at once (client 2 answered in $(secs "$T_FAST") s) in one process, pid $spid: fds 4 and 5 beside the listening fd 3, no child"
}

# === T14: tcpserver2 serves IPv4 and IPv6 clients (getaddrinfo, dual stack)
exp_def T14 "tcpserver2 serves IPv4 and IPv6 clients (getaddrinfo, dual stack)" \
"getaddrinfo() picks the addresses for us: one IPv6 socket that also
takes IPv4 clients."

exp_T14() {
	srv tcpserver2 "$TP" || { give_up "tcpserver2 to start"; return; }
	out_lines tcpserver2 'candidate|listen\('
	want "one listening socket on *:$TP" "^LISTEN .* \*:$TP "
	ev_soon ss -tln "sport = :$TP"
	run_prog v4 5 tcpclient -t 2 -m four 127.0.0.1 "$TP"
	out_lines v4 'connected:|reply:'
	expect "an IPv4 client served (exit $FG_RC)" test "$FG_RC" = 0
	run_prog v6 5 tcpclient -t 2 -m six ::1 "$TP"
	out_lines v6 'connected:|reply:'
	expect "an IPv6 client served (exit $FG_RC)" test "$FG_RC" = 0
	out_lines tcpserver2 'accept\(fd 3\) ='
	expect "the IPv4 client seen as ::ffff:127.0.0.1" file_has "$SERVER_OUT" 'client \[::ffff:127\.0\.0\.1\]'
	expect "the IPv6 client seen as ::1" file_has "$SERVER_OUT" 'client \[::1\]'
	verdict "one IPv6 socket (*:$TP, from getaddrinfo) served 127.0.0.1 (seen as ::ffff:127.0.0.1) and ::1"
}

# --- Notes -------------------------------------------------------------------
# The walkthrough's closing notes, each an observation like the steps above.

# === N1: '' means every address, now and later; 127.0.0.1 means that one only
exp_def N1 "'' means every address, now and later: a server on * answers on an address added after it started; one on 127.0.0.1 does not" \
"Binding to '' (INADDR_ANY, shown as *) is not a list of today's
addresses: it means any address this machine has, including one added
to en0 after the server started. A server bound to 127.0.0.1 hears only
datagrams sent to 127.0.0.1."

# n1_from_peer NAME MESSAGE: udpclient on the peer node, to 192.0.2.9
n1_from_peer() {
	local ns=$KIT_NS show=$EXP_SHOW
	KIT_NS="$EXP_NETLAB-peer" EXP_SHOW="$(exp_sudo)scripts/netlab run peer "
	run_prog "$1" 5 udpclient -t 2 -m "$2" 192.0.2.9 "$UP"
	KIT_NS=$ns EXP_SHOW=$show
}

exp_N1() {
	local got1 got2 src
	can_netns || { skipped "needs network namespaces for en0 (scripts/netlab: as root, or as a normal user where scripts/userns-check says yes); it would show udpserver on * answering on an address added to en0 after it started, and udpserver on 127.0.0.1 not"; return; }
	exp_netlab_up || { give_up "scripts/netlab up"; return; }
	say "1. udpserver on *, then 192.0.2.9 is added to en0:"
	srv udpserver "$UP" || { give_up "udpserver to start"; return; }
	want "the server on * ($UP)" "^UNCONN .* (0\.0\.0\.0|\*):$UP "
	ev_soon ss -uan "sport = :$UP"
	ev ip addr add 192.0.2.9/24 dev en0
	want "192.0.2.9 on en0" "^en0.* 192\.0\.2\.9/24"
	ev_soon ip -br addr show dev en0
	n1_from_peer peer1 one
	out_lines peer1 'recvfrom|no reply'
	got1=$(grep -c 'same as sent' "$KIT_WORK/peer1.out")
	src=$(out_value peer1 ".*bytes from ([0-9.]+):$UP: .*")
	expect "the peer's datagram to 192.0.2.9 answered by the server on * (exit $FG_RC)" test "$FG_RC" = 0 -a "$got1" = 1
	out_lines udpserver 'recvfrom'
	stop_all
	ev ip addr del 192.0.2.9/24 dev en0
	say "2. udpserver on 127.0.0.1, then 192.0.2.9 is added again:"
	srv udpserver "$UP" -a 127.0.0.1 || { give_up "udpserver -a 127.0.0.1 to start"; return; }
	want "the server on 127.0.0.1 only" "^UNCONN .* 127\.0\.0\.1:$UP "
	ev_soon ss -uan "sport = :$UP"
	ev ip addr add 192.0.2.9/24 dev en0
	n1_from_peer peer2 two
	out_lines peer2 'recvfrom|no reply'
	got2=$(grep -c 'same as sent' "$KIT_WORK/peer2.out")
	expect "no answer from the server on 127.0.0.1 (exit $FG_RC)" test "$FG_RC" = 1 -a "$got2" = 0
	expect "the server on 127.0.0.1 to receive nothing" not file_has "$SERVER_OUT" 'recvfrom\(fd 3\) ='
	run_prog local 5 udpclient -t 2 -m three 127.0.0.1 "$UP"
	out_lines local 'recvfrom|no reply'
	expect "the server on 127.0.0.1 to answer 127.0.0.1 (exit $FG_RC)" test "$FG_RC" = 0
	verdict "replies to the peer's datagram to 192.0.2.9, added to en0 after the server started: $got1 of 1 from udpserver on * (the reply's source: ${src:-none}, chosen by the kernel's route), $got2 of 1 from udpserver on 127.0.0.1 (which still answered a client on 127.0.0.1)"
}

# === N2: the listen limit under load: -l 5 drops SYNs of a burst, -l 1024 none; somaxconn caps it
exp_def N2 "the listen limit under load: a burst against -l 5 loses SYNs (1 s retries), against -l 1024 none; somaxconn caps the backlog" \
"The backlog is the length of the queue of connections waiting for
accept(). A burst of 20 clients while the server is busy: with -l 5 the
kernel drops the SYNs that find the queue full, and those clients
connect a second later (their SYN's retry); with -l 1024 every one is
queued at once. And the kernel caps whatever you ask at somaxconn."

# n2_burst BACKLOG: tcpserver1 -l BACKLOG busy with client 1, then 20
# clients at once; client 1 is released once the queue is full (or all
# are in), so the queue drains. Sets N2_MS (each client's connect time,
# ms after the burst started, 0-padded order) and N2_DROPS.
n2_burst() {
	local backlog=$1 i t0 before pending now full=20
	# full: backlog+1 queued (Linux's limit), or one or two more: the
	# kernel checks the queue's length and adds to it in two steps, with no
	# lock on the listener, so handshakes completing on two cores at once
	# can both pass the check (CI saw LISTEN 7 5); with -l 1024, all 20
	for ((i = backlog + 1; i < 20; i++)); do full+="|$i"; done
	hold_first -l "$backlog" || return 1
	before=$(counter TcpExtListenDrops)
	run_line bash -c "for i in \$(seq 20); do ./tcpclient -t 10 -m \$i 127.0.0.1 $TP & done"
	t0=$(now_ms)
	for i in $(seq 20); do start_bg "b$backlog-$i" "$BIN/tcpclient" -t 10 -m "$i" 127.0.0.1 "$TP"; done
	want "the queue full (backlog+1, or a little more), or all 20 in it" "^LISTEN +($full) +$backlog "
	ev_soon ss -tln "sport = :$TP"
	say "client 1 sends its line; the server then serves the queue"
	echo first >&5
	declare -gA N2_AT=()
	pending=20
	while [ "$pending" -gt 0 ] && [ $(($(now_ms) - t0)) -lt 8000 ]; do
		now=$(($(now_ms) - t0))
		pending=0
		for i in $(seq 20); do
			[ -n "${N2_AT[$i]:-}" ] && continue
			if file_has "$KIT_WORK/b$backlog-$i.out" 'connected: fd 3'; then N2_AT[$i]=$now; else pending=$((pending + 1)); fi
		done
		sleep 0.02
	done
	N2_MS=''
	for i in $(seq 20); do N2_MS+="${N2_MS:+ }${N2_AT[$i]:-never}"; done
	wait_until 2 counter_above TcpExtListenDrops "$before" 2>/dev/null
	N2_DROPS=$(($(counter TcpExtListenDrops) - before))
	ev nstat -saz TcpExtListenDrops
	say "connect times, ms after the burst began, clients 1-20: $N2_MS"
	say "TcpExtListenDrops went up by $N2_DROPS"
}
# n2_slow: how many of the clients took 900 ms or more to connect
n2_slow() { tr ' ' '\n' <<<"$N2_MS" | awk '$1 == "never" || $1 >= 900 { n++ } END { print n + 0 }'; }

exp_N2() {
	local slow5 drops5 slow1024 drops1024 cap
	say "1. tcpserver1 -l 5, busy with client 1; a burst of 20 clients:"
	n2_burst 5 || { give_up "tcpserver1 -l 5 to accept client 1"; return; }
	slow5=$(n2_slow) drops5=$N2_DROPS
	expect "clients beyond the queue to connect only after a SYN retry, 1 s or more ($slow5 of 20)" test "$slow5" -ge 1
	expect "TcpExtListenDrops to go up ($drops5)" test "$drops5" -ge 1
	expect "every client to connect in the end ($N2_MS)" not grep -q never <<<"$N2_MS"

	exp_net_new || { give_up "a fresh place for part 2"; return; }
	say "2. the same with tcpserver1 -l 1024:"
	rm -f "$KIT_WORK/c1.in" # part 1's client 1 FIFO
	n2_burst 1024 || { give_up "tcpserver1 -l 1024 to accept client 1"; return; }
	slow1024=$(n2_slow) drops1024=$N2_DROPS
	expect "no client to wait for a SYN retry ($slow1024 of 20 took 900 ms or more)" test "$slow1024" -eq 0
	if exp_isolated; then expect "no SYN dropped (TcpExtListenDrops +$drops1024)" test "$drops1024" -eq 0; fi

	exp_net_new || { give_up "a fresh place for part 3"; return; }
	say "3. ask for more than the kernel allows: tcpserver1 -l 65535"
	ev cat /proc/sys/net/core/somaxconn
	cap=$EV
	srv tcpserver1 "$TP" -l 65535 || { give_up "tcpserver1 -l 65535 to start"; return; }
	want "ss: the backlog capped at somaxconn ($cap)" "^LISTEN +0 +$cap "
	ev_soon ss -tln "sport = :$TP"
	verdict "a burst of 20 against -l 5: $slow5 clients connected only after 1 s or more (their SYNs dropped: TcpExtListenDrops +$drops5); against -l 1024: $slow1024 (ListenDrops +$drops1024); -l 65535 gave a backlog of $cap (somaxconn)"
}

# === N3: byte order: port 12333 is 30 2d on the wire and in the sockaddr, 2d 30 00 00 as an int
exp_def N3 "byte order: port 12333 is 30 2d on the wire and in the sockaddr (htons), 2d 30 00 00 as an int here" \
"12333 is 0x302d. In the sockaddr, after htons(), and on the wire its
bytes are 30 2d: network order, big end first. The same number as an
int in this machine's memory is 2d 30 00 00. Step mode shows both; the
capture shows the port in the TCP header."

exp_N3() {
	local hex hi lo line order
	hex=$(printf '%04x' "$TP") hi=${hex:0:2} lo=${hex:2:2}
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	cap_start n3 tcp "$TP" 3
	start_stepping client tcpclient -t 5 -m hello 127.0.0.1 "$TP"
	press 5 socket
	at_pause client 2 || { give_up "tcpclient -S to pause before connect()"; return; }
	out_lines client 'byte order|step: next: connect'
	line=$(grep 'step: byte order: ' "$KIT_WORK/client.out" | head -1)
	expect "step mode to show port $TP as 0x$hex, the sockaddr holding $hi $lo" \
		grep -q "port $TP = 0x$hex: the sockaddr holds $hi $lo (htons" <<<"$line"
	expect "step mode to show the int $TP in memory as $lo $hi 00 00 (little endian) or 00 00 $hi $lo (big endian)" \
		grep -qE "memory: ($lo $hi 00 00 \(little endian\)|00 00 $hi $lo \(big endian\))" <<<"$line"
	order=$(grep -oE '(little|big) endian' <<<"$line")
	press 5 connect
	press 5 send
	press 5 recv
	press 5 close
	expect_soon "the echo to come back" 5 file_has "$KIT_WORK/client.out" 'the same as we sent'
	local seen="step mode: port $TP = 0x$hex is $hi $lo in the sockaddr (network order), and the int $TP is ${line##*memory: } in this machine's memory"
	if cap_end; then
		say "the SYN's bytes: after lo's 14-byte header and the 20-byte IPv4 header, the TCP header starts at offset 34 (0x22) with the source port, then the destination port (offset 36):"
		cmd_line grep -m 4 -E '0x00[0-3]0:' n3.txt
		EV=$(grep -m 4 -E '0x00[0-3]0:' "$CAP_FILE")
		printf '%s\n' "$EV"
		expect "the SYN's destination port as $hi$lo at offset 36 (line 0x0020, 3rd group)" \
			ev_has "^[[:space:]]+0x0020: +[0-9a-f]{4} [0-9a-f]{4} $hi$lo "
		seen+="; on the wire (tcpdump -XX) the SYN's destination port is $hi $lo too"
	fi
	verdict "$seen: htons() turned this ${order:-?} machine's order into network order"
}

# === N4: return codes: each failure a socket call gives, its errno name, exit 1
exp_def N4 "return codes: each error of the walkthrough's calls, with its errno name and exit status 1" \
"Every socket call can fail, and errno says why. Here each failure of
the walkthrough is provoked on purpose: the program names the call, the
error and its errno name in one line, and exits 1."

# n4_case NAME ERRNO WHAT SECONDS PROG [ARGS...]: run PROG; it must exit 1
# with a line naming ERRNO; the line is shown.
n4_case() {
	local name=$1 errno=$2 what=$3 secs=$4
	shift 4
	run_prog "$name" "$secs" "$@"
	out_lines "$name" "\\(${errno}[,)]|no SYN-ACK"
	say "exit status $FG_RC"
	expect "$what: a line with ($errno) and exit 1 (exit $FG_RC)" \
		test "$FG_RC" = 1 -a -n "$(grep -E "\\(${errno}[,)]" "$KIT_WORK/$name.out")"
	N4_SEEN+="${N4_SEEN:+, }$errno"
}

# n4_ended NAME PID REGEX WHO WHAT: wait (5 s at most) for PID, started as
# NAME, to end; it must exit 1 with a line matching REGEX; the line and
# WHO's exit status are shown.
n4_ended() {
	local name=$1 pid=$2 re=$3 who=$4 what=$5 rc=124
	if wait_until 5 gone "$pid" 2>/dev/null; then
		rc=0
		wait "$pid" 2>/dev/null || rc=$?
	fi
	out_lines "$name" "$re"
	say "${who}exit status $rc"
	expect "$what (exit $rc)" test "$rc" = 1 -a -n "$(grep -E "$re" "$KIT_WORK/$name.out")"
}

exp_N4() {
	local spid c2 how=(tcpserver1)
	N4_SEEN=''
	say "ECONNREFUSED: no server on port $TP"
	n4_case refused ECONNREFUSED "connect() with no server" 5 tcpclient -m hello 127.0.0.1 "$TP"
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	say "EADDRINUSE: a second server on the same port"
	port_arg tcpserver1 "$TP"
	n4_case inuse EADDRINUSE "bind() to a port in use" 5 tcpserver1 "${PA[@]}"
	say "EADDRNOTAVAIL: an address that is not this machine's"
	n4_case notavail EADDRNOTAVAIL "bind() to 192.0.2.77" 5 tcpserver1 -a 192.0.2.77 "${PA[@]}"
	say "EACCES: a port below 1024 without the privilege (as root: CAP_NET_BIND_SERVICE dropped)"
	if [ "$(id -u)" = 0 ] || [ "${KIT_PRIVATE:-}" = 1 ]; then how=(setpriv --bounding-set -net_bind_service tcpserver1); fi
	run_line "${how[@]/#tcpserver1/./tcpserver1}" -p 80
	start_bg eacces "${how[@]/#tcpserver1/$BIN/tcpserver1}" -p 80
	n4_ended eacces "$LAST_PID" '\(EACCES\)' "" "bind() to port 80 unprivileged: a line with (EACCES) and exit 1"
	N4_SEEN+=", EACCES"

	exp_net_new || { give_up "a fresh place for the full queue"; return; }
	say "ETIMEDOUT: tcpserver1 -l 1 busy with client 1, clients 2 and 3 fill its queue; client 4 gets no answer"
	hold_first -l 1 || { give_up "tcpserver1 -l 1 to accept client 1"; return; }
	spid=$SERVER_PID
	start_prog c2 tcpclient -t 30 -m two 127.0.0.1 "$TP"
	c2=$LAST_PID
	start_prog c3 tcpclient -t 30 -m three 127.0.0.1 "$TP"
	expect_soon "clients 2 and 3 to connect" 5 connected c2 c3 || { verdict ""; return; }
	n4_case c4 ETIMEDOUT "connect() unanswered for -t 1 s" 5 tcpclient -t 1 -m four 127.0.0.1 "$TP"
	say "ECONNRESET: kill the server: the connections it never accepted are reset"
	run_line kill -9 "$spid"
	kill -9 "$spid"
	wait "$spid" 2>/dev/null
	n4_ended c2 "$c2" 'recv\(fd 3\): .*\(ECONNRESET\)' "client 2's " "client 2's recv() to fail with (ECONNRESET), exit 1"
	N4_SEEN+=", ECONNRESET"

	say "EPIPE: a write whose reader has gone (a pipe here; a reset connection alike): udpserver's log into head -1, then a datagram"
	printf '$ %s./udpserver | head -1\n' "$EXP_SHOW"
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	start_bg epipe bash -c 'exec "$0" -p "$1" > >(head -1 >/dev/null)' "$BIN/udpserver" "$UP"
	spid=$LAST_PID
	expect_soon "udpserver to bind" 5 udp_bound "$UP"
	run_prog ping 5 udpclient -t 2 -m hello 127.0.0.1 "$UP"
	expect_soon "udpserver's write to stdout to fail with (EPIPE), in one line on stderr" 5 \
		file_has "$KIT_WORK/epipe.out" '^udpserver: stdout: .*\(EPIPE\)'
	out_lines epipe '\(EPIPE\)'
	expect "a server to go on serving after EPIPE on its log (the client got its echo: exit $FG_RC)" test "$FG_RC" = 0
	expect "udpserver still running" alive "$spid"
	N4_SEEN+=", EPIPE (a server goes on)"
	verdict "each failure named its call, its meaning and its errno name in one line; the clients exited 1, and a server that met EPIPE on its log went on serving: $N4_SEEN"
}

# === N5: send() returns when the bytes are in the kernel, not when they arrived
exp_def N5 "send() returns when the bytes are in the kernel: against a server that does not read they wait in its Recv-Q, then Send-Q fills and send() would block" \
"When send() returns, the bytes are in our kernel: the server may not
have read them, or even received them. Against a server that does not
read: a small send returns at once and waits in the server's Recv-Q;
keep sending and both buffers fill, until send() would block."

# n5_stopped: tcpserver1 -S, released up to its pause before recv() (it
# accepts the client that comes, then never reads).
n5_stopped() {
	EXP_PRESSED=() EXP_STEPPING=()
	rm -f "$KIT_WORK/server.in" # part 1's FIFO
	port_arg tcpserver1 "$TP"
	start_stepping server tcpserver1 "${PA[@]}"
	press 5 socket
	press 5 bind
	press 5 listen
	press 5 accept
}

# n5_queues SS_TEXT: rq, sq = the server's Recv-Q and the client's Send-Q
n5_queues() {
	rq=$(awk -v p=":$TP" '$1 == "ESTAB" && $4 ~ p "$" { print $2 }' <<<"$1")
	sq=$(awk -v p=":$TP" '$1 == "ESTAB" && $5 ~ p "$" { print $3 }' <<<"$1")
}
# n5_settled SENT: the two queues hold SENT bytes between them, each once
n5_settled() {
	n5_queues "$(in_ns ss -tan "( sport = :$TP or dport = :$TP )")"
	[ "$((${rq:-0} + ${sq:-0}))" = "$1" ]
}

exp_N5() {
	local sent rq sq line
	say "1. a small send to a server stopped before recv():"
	n5_stopped
	start_prog c1 tcpclient -t 30 -m hello 127.0.0.1 "$TP"
	expect_soon "send() to return at once" 5 file_has "$KIT_WORK/c1.out" 'send\(fd 3\) = 6 bytes'
	out_lines c1 'send\(fd 3\) ='
	want "the 6 bytes in the server's Recv-Q (it has not read them)" "^ESTAB +6 +0 +[0-9.]+:$TP "
	want "nothing left in the client's Send-Q (the server's kernel ACKed them)" "^ESTAB +0 +0 +[0-9.]+:[0-9]+ +[0-9.]+:$TP "
	ev_soon ss -tan "( sport = :$TP or dport = :$TP )"

	exp_net_new || { give_up "a fresh place for part 2"; return; }
	say "2. keep sending: 100000000 bytes, without blocking (-f), to a server that does not read:"
	n5_stopped
	start_prog c2 tcpclient -t 3 -f 100000000 127.0.0.1 "$TP"
	expect_soon "send() to stop with EAGAIN" 5 file_has "$KIT_WORK/c2.out" '\(EAGAIN\) after [0-9]+ bytes' ||
		{ verdict ""; return; }
	out_lines c2 'SO_SNDBUF|returned at once|EAGAIN'
	sent=$(out_value c2 '.*\(EAGAIN\) after ([0-9]+) bytes.*')
	# Bytes the server's kernel has queued but not yet ACKed (delayed ACK)
	# count in both queues for a moment: wait for that ACK, then read.
	wait_every 20 3 n5_settled "$sent" || true
	want "the server's Recv-Q full" "^ESTAB +[1-9][0-9]* +0 +[0-9.]+:$TP "
	want "the client's Send-Q full" "^ESTAB +0 +[1-9][0-9]* +[0-9.]+:[0-9]+ +[0-9.]+:$TP "
	ev_soon ss -tan "( sport = :$TP or dport = :$TP )"
	n5_queues "$EV"
	say "Recv-Q $rq + Send-Q $sq = $((${rq:-0} + ${sq:-0})) bytes; send() had taken $sent"
	expect "Recv-Q + Send-Q to hold what send() took ($rq + $sq vs $sent)" test "$((${rq:-0} + ${sq:-0}))" = "${sent:-x}"
	expect_soon "the client to give up after -t 3 (no room)" 6 file_has "$KIT_WORK/c2.out" 'no room within 3 s'
	out_lines c2 'no room'
	line=$(grep -oE 'SO_SNDBUF [0-9]+ bytes, SO_RCVBUF [0-9]+ bytes' "$KIT_WORK/c2.out")
	verdict "send() of 6 bytes returned at once, the bytes waiting in the server's Recv-Q; sending on, non-blocking send() took $sent bytes (server's Recv-Q $rq, client's Send-Q $sq), then failed with EAGAIN: a blocking send() would sleep there ($line)"
}

# === N6: a TCP stream has no message boundaries; UDP keeps each datagram whole
exp_def N6 "a TCP stream has no message boundaries; UDP keeps each datagram whole" \
"TCP carries bytes, not messages: two send()s that arrive while the
server is not reading come out of one recv(), and one large send() comes
out in many recv()s of varying size. UDP keeps each datagram whole, or
cuts it to the reader's buffer: the rest is lost."

# n6_sizes NAME: the sizes NAME's recv() lines report, one a line
n6_sizes() { sed -nE 's/.*recv\(fd [0-9]+\) = ([0-9]+) bytes.*/\1/p' "$(out_file "$1")"; }
# n6_total: multi has received all of the 1000000 bytes
n6_total() { [ "$(n6_sizes multi | awk '{ s += $1 } END { print s + 0 }')" -ge 1000000 ]; }

exp_N6() {
	local n sizes total distinct
	say "1. TCP: tcpserver1 in step mode stops before recv(); the client sends twice meanwhile"
	port_arg tcpserver1 "$TP"
	start_stepping server tcpserver1 "${PA[@]}"
	SERVER_OUT="$KIT_WORK/server.out"
	press 5 socket
	press 5 bind
	press 5 listen
	press 5 accept
	run_line bash -c "exec 3<>/dev/tcp/127.0.0.1/$TP; printf \"one\\n\" >&3; printf \"two\\n\" >&3; cat <&3"
	# shellcheck disable=SC2016 # for the inner bash
	start_bg client bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "one\n" >&3; printf "two\n" >&3; timeout 5 cat <&3' "$TP"
	want "both sends waiting in the server's Recv-Q (8 bytes)" "^ESTAB +8 +0 +[0-9.]+:$TP "
	ev_soon ss -tan "sport = :$TP"
	press 5 recv
	expect_soon "one recv() of 8 bytes" 5 file_has "$KIT_WORK/server.out" 'recv\(fd 4\) = 8 bytes'
	out_lines server 'recv\(fd 4\) ='
	press 5 send
	press 5 close
	expect_soon "the client to get both lines back" 5 file_count "$KIT_WORK/client.out" '^(one|two)$' 2

	exp_net_new || { give_up "a fresh place for part 2"; return; }
	say "2. TCP: one send() of 1000000 bytes to multi, which logs each recv()"
	srv multi "$TP" || { give_up "multi to start"; return; }
	run_line bash -c "exec 3<>/dev/tcp/127.0.0.1/$TP; cat <&3 >/dev/null & dd if=/dev/zero bs=1000000 count=1 >&3"
	# shellcheck disable=SC2016 # for the inner bash
	start_bg big bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; cat <&3 >/dev/null & dd if=/dev/zero bs=1000000 count=1 >&3; wait' "$TP"
	expect_soon "multi to receive all 1000000 bytes" 10 n6_total
	sizes=$(n6_sizes multi)
	n=$(grep -c . <<<"$sizes")
	total=$(awk '{ s += $1 } END { print s + 0 }' <<<"$sizes")
	distinct=$(sort -u <<<"$sizes" | grep -c .)
	out_lines big 'bytes .* copied'
	say "multi's recv() sizes, in order: $(head -12 <<<"$sizes" | tr '\n' ' ')... ($n recv()s, $total bytes, $distinct different sizes)"
	expect "one send() to come out in several recv()s (got $n)" test "$n" -gt 1
	expect "recv() sizes that vary (got $distinct different)" test "$distinct" -gt 1
	expect "all 1000000 bytes (got $total)" test "$total" -eq 1000000

	exp_net_new || { give_up "a fresh place for part 3"; return; }
	EXP_PRESSED=() EXP_STEPPING=()
	say "3. UDP: udpserver in step mode stops before recvfrom(); two datagrams arrive meanwhile"
	port_arg udpserver "$UP"
	start_stepping userver udpserver "${PA[@]}"
	press 5 socket
	press 5 bind
	at_pause userver 3 || { give_up "udpserver -S to pause before recvfrom()"; return; }
	ev_sh "printf 'one\\n' >/dev/udp/127.0.0.1/$UP; printf 'two\\n' >/dev/udp/127.0.0.1/$UP"
	want "both datagrams waiting in the server's Recv-Q" "^UNCONN +[1-9][0-9]* .*:$UP "
	ev_soon ss -uan "sport = :$UP"
	press 5 recvfrom
	press 5 sendto
	press 5 recvfrom
	press 5 sendto
	expect_soon "two recvfrom()s of 4 bytes each" 5 file_count "$KIT_WORK/userver.out" 'recvfrom\(fd 3\) = 4 bytes' 2
	out_lines userver 'recvfrom\(fd 3\) ='

	exp_net_new || { give_up "a fresh place for part 4"; return; }
	say "4. UDP: a datagram longer than the server's buffer (udpserver -n 10 reads 10 bytes at most):"
	srv udpserver "$UP" -n 10 || { give_up "udpserver -n 10 to start"; return; }
	run_prog cut 5 udpclient -t 2 -m 0123456789abcdefghij -m short 127.0.0.1 "$UP"
	out_lines udpserver 'recvfrom\(fd 3\) ='
	out_lines cut 'recvfrom\(fd 3\) ='
	expect "the 20-byte datagram cut to 10 bytes" file_has "$SERVER_OUT" 'recvfrom\(fd 3\) = 10 bytes .*"0123456789" \(it filled the -n buffer'
	expect "the next datagram whole: the cut bytes are gone, not kept for later" file_has "$SERVER_OUT" 'recvfrom\(fd 3\) = 5 bytes .*"short"$'
	expect "the client to get 10 bytes back, not its 20" file_has "$KIT_WORK/cut.out" '= 10 bytes .*"0123456789" \(not what we sent\)'
	verdict "TCP: two sends came out of one recv() of 8 bytes; one send of 1000000 bytes came out of $n recv()s of $distinct different sizes. UDP: two datagrams sent the same way came out of two recvfrom()s of 4 bytes each; a 20-byte datagram read with a 10-byte buffer lost its last 10 bytes (MSG_TRUNC), and the next datagram came whole"
}

# === N7: blocking: a waiting server sleeps in the kernel and uses no CPU
exp_def N7 "blocking: a waiting server sleeps in the kernel (accept, recv, select) and uses no CPU" \
"accept(), recv() and select() block: the process sleeps in the kernel
until something arrives. ps shows where it sleeps (WCHAN), and its CPU
time does not move while it waits."

# n7_client NAME FD: a client connected to the server on TP, sending
# nothing until `echo LINE >&FD`; waits until the server accepted it.
n7_client() {
	with_input "$1"
	start_prog "$1" tcpclient -t 30 127.0.0.1 "$TP"
	feed "$1" "$2"
	wait_until 5 file_has "$SERVER_OUT" 'accept\(fd 3\) = fd' 2>/dev/null
}

# n7_idle PID...: show the time each PID spent on a CPU (ns, the first
# field of /proc/PID/schedstat) twice, 1 s apart; it must not change.
n7_idle() {
	local p i cmd='' pids=("$@")
	for p; do cmd+="cat /proc/$p/schedstat; "; done
	ev_sh "${cmd}sleep 1; ${cmd%; }"
	local -a ns
	mapfile -t ns < <(awk '{ print $1 }' <<<"$EV")
	for ((i = 0; i < $#; i++)); do
		expect "no CPU time used in 1 s by pid ${pids[i]} (${ns[i]:-?} -> ${ns[i + $#]:-?} ns)" \
			test -n "${ns[i]:-}" -a "${ns[i]:-}" = "${ns[i + $#]:-x}"
	done
}

exp_N7() {
	local s1 s3 sm kid
	say "1. tcpserver1 waits for a client, then for the client's line:"
	srv tcpserver1 "$TP" || { give_up "tcpserver1 to start"; return; }
	s1=$SERVER_PID
	want "tcpserver1 asleep (S) in accept()" "^ *$s1 +S[^ ]* +[a-z_.]*accept"
	ev_soon ps -o pid,stat,wchan:32,args -p "$s1"
	n7_client c1 5 || { give_up "tcpserver1 to accept a client"; return; }
	out_lines tcpserver1 'accept\(fd 3\) ='
	want "tcpserver1 asleep (S) in recv() (wait_woken / sk_wait_data)" "^ *$s1 +S[^ ]* +(wait_woken|sk_wait_data|[a-z_.]*recv)"
	ev_soon ps -o pid,stat,wchan:32,args -p "$s1"
	n7_idle "$s1"
	echo first >&5

	exp_net_new || { give_up "a fresh place for part 2"; return; }
	say "2. tcpserver3 with a client connected: one process, asleep in select():"
	srv tcpserver3 "$TP" || { give_up "tcpserver3 to start"; return; }
	s3=$SERVER_PID
	n7_client c3 5 || { give_up "tcpserver3 to accept a client"; return; }
	want "tcpserver3 asleep (S) in select() (poll_schedule_timeout / do_select)" "^ *$s3 +S[^ ]* +(poll_schedule|do_select|[a-z_.]*select)"
	ev_soon ps -o pid,stat,wchan:32,args -p "$s3"
	n7_idle "$s3"

	exp_net_new || { give_up "a fresh place for part 3"; return; }
	say "3. multi with a client connected: the parent waits for the next client, the child for its client's line:"
	srv multi "$TP" || { give_up "multi to start"; return; }
	sm=$SERVER_PID
	n7_client cm 5 || { give_up "multi to accept a client"; return; }
	expect_soon "multi's child to start" 5 test -n "$(pgrep -P "$sm")"
	kid=$(pgrep -P "$sm" | head -1)
	want "multi's parent asleep (S) waiting for a client (pselect: poll_schedule_timeout)" "^ *$sm +S[^ ]* +(poll_schedule|do_select|[a-z_.]*select|[a-z_.]*accept)"
	want "multi's child asleep (S) in recv()" "^ *${kid:-none} +S[^ ]* +(wait_woken|sk_wait_data|[a-z_.]*recv)"
	ev_soon ps -o pid,stat,wchan:32,args -p "$sm,${kid:-$sm}"
	n7_idle "$sm" "${kid:-$sm}"
	verdict "each waiting server slept in the kernel (state S): tcpserver1 in accept() then recv(), tcpserver3 in select(), multi's parent in pselect() and its child in recv(); none used any CPU time in 1 s (/proc/PID/schedstat)"
}

# === N8: UDP loses datagrams without a word; TCP does not
exp_def N8 "UDP loses datagrams without a word: udpserver -L 25 drops a quarter, udpclient -k -t counts them; TCP loses nothing" \
"UDP promises nothing: a datagram can be lost, and nobody tells the
sender. udpserver -L plays a lossy network (like the textbook's UDP
pinger): it drops a share of what it receives. The client only sees
that no reply came within its time limit."

exp_N8() {
	local args=() i sent replies
	for i in $(seq 20); do args+=(-m "$i"); done
	srv udpserver "$UP" -L 25 || { give_up "udpserver -L 25 to start"; return; }
	cap_start n8 udp "$UP"
	run_prog client 20 udpclient -k -t 0.5 "${args[@]}" 127.0.0.1 "$UP"
	out_lines client 'no reply|datagrams sent'
	out_lines udpserver 'lost on purpose'
	say "exit status $FG_RC"
	expect "the client to count 5 of 20 lost (exit 1)" \
		test "$FG_RC" = 1 -a -n "$(grep -E 'udpclient: 20 datagrams sent, 15 replies, 5 lost$' "$KIT_WORK/client.out")"
	expect "the server to say which 5 it dropped" file_count "$SERVER_OUT" 'lost on purpose: no reply' 5
	local seen="udpclient -k -t 0.5 sent 20 datagrams and got 15 replies: 5 never came back, and nothing said why"
	if cap_end; then
		sent=$(grep -cE "> [0-9.]+\.$UP: .*UDP" <<<"$CAP" || true)
		replies=$(grep -cE "^[0-9.]+\.$UP > .*UDP" <<<"$CAP" || true)
		say "captured: $sent datagrams to port $UP, $replies from it"
		expect "20 datagrams and 15 replies captured ($sent, $replies)" test "$sent" = 20 -a "$replies" = 15
		seen+=" (captured: $sent datagrams, $replies replies)"
	fi
	say "TCP over the same loopback, to tcpserver3:"
	srv tcpserver3 "$TP" || { give_up "tcpserver3 to start"; return; }
	run_prog tcp 10 tcpclient -t 2 "${args[@]}" 127.0.0.1 "$TP"
	say "exit status $FG_RC; $(grep -c 'reply: .*the same as we sent' "$KIT_WORK/tcp.out") replies the same as sent"
	expect "TCP: 20 replies of 20 (exit $FG_RC)" test "$FG_RC" = 0 -a "$(grep -c 'reply: .*the same as we sent' "$KIT_WORK/tcp.out")" = 20
	verdict "$seen; tcpclient got all 20 replies from tcpserver3"
}

# === N9: close() with bytes unread sends RST, not FIN; the client gets ECONNRESET
exp_def N9 "close() with bytes unread sends RST, not FIN: the client's recv() fails with 'Connection reset by peer'" \
"close() does not always send FIN. tcpserver1 reads one buffer, 65536
bytes, echoes them and closes. If the client sent more, those bytes are
still unread at close(), and the kernel answers with RST instead of FIN:
data was lost, and the client's next recv() fails with ECONNRESET,
'Connection reset by peer'. A proxy that closes before reading the whole
request does exactly this."

# n9_recvq: the server's Recv-Q on its connection (bytes it has not read)
n9_recvq() { in_ns ss -Htan "( sport = :$TP )" | awk '$1 == "ESTAB" { print $2; exit }'; }
# n9_waiting N: more than N bytes wait unread in the server's Recv-Q
n9_waiting() { [ "$(n9_recvq)" -gt "$1" ] 2>/dev/null; }

exp_N9() {
	local before after rq cport seen
	before=$(counter TcpExtTCPAbortOnClose)
	say "tcpserver1 in step mode stops before recv(); the client sends 100001 bytes meanwhile"
	port_arg tcpserver1 "$TP"
	start_stepping server tcpserver1 "${PA[@]}" -r
	SERVER_OUT="$KIT_WORK/server.out"
	press 5 socket
	press 5 setsockopt
	press 5 bind
	press 5 listen
	press 5 accept
	cap_start n9 tcp "$TP"
	printf '$ %s%s\n' "$EXP_SHOW" "python3 -c 'print(\"x\"*100000)' | ./tcpclient -t 10 127.0.0.1 $TP"
	# shellcheck disable=SC2016 # for the inner bash
	start_bg client bash -c 'python3 -c "print(\"x\" * 100000)" | "$0" -t 10 127.0.0.1 "$1"' "$BIN/tcpclient" "$TP"
	# Certain, not timed: recv() runs only once more than its 65536 bytes wait.
	wait_every 20 "$EXP_WAIT" n9_waiting 65536 ||
		EXP_MISSED+=("more than 65536 bytes in the server's Recv-Q before its recv() (got $(n9_recvq))")
	ev ss -tan "( sport = :$TP or dport = :$TP )"
	out_lines server 'accept\(fd 3\) ='
	press 5 recv
	press 5 send
	at_pause server 8 || { give_up "tcpserver1 -S to pause before close()"; return; }
	out_lines server 'recv\(fd 4\) =|send\(fd 4\) =|never read|RST goes out'
	rq=$(n9_recvq)
	say "paused before close(): the server's Recv-Q still holds $rq bytes"
	want "the rest unread in the server's Recv-Q" "^ESTAB +[1-9][0-9]* +0 +[0-9.]+:$TP "
	ev_soon ss -tan "( sport = :$TP or dport = :$TP )"
	expect "step mode to say RST, not FIN" file_has "$SERVER_OUT" 'step:   after: RST goes out, not FIN'
	press 5 close
	expect_soon "the server to say its close() sends RST" 5 file_has "$SERVER_OUT" \
		"close\\(fd 4\\): done with [0-9.:]+: at least $rq bytes unread: close\\(\\) sends RST, not FIN"
	out_lines server 'close\(fd 4\)'
	expect_soon "the client's recv() to fail with ECONNRESET" 5 file_has "$KIT_WORK/client.out" \
		'recv\(fd 3\): .*\(ECONNRESET\)'
	out_lines client 'recv\(fd 3\)'
	want_no "no FIN-WAIT or TIME-WAIT: the server's end is gone at once" "^(FIN-WAIT|TIME-WAIT)"
	ev_soon ss -tan "( sport = :$TP or dport = :$TP )"
	wait_until "$EXP_WAIT" counter_above TcpExtTCPAbortOnClose "$before" 2>/dev/null
	after=$(counter TcpExtTCPAbortOnClose)
	ev nstat -saz TcpExtTCPAbortOnClose
	expect "TcpExtTCPAbortOnClose to go up (from $before to $after)" test "${after:-0}" -gt "${before:-0}"
	seen="tcpserver1 read 65536 of the 100001 bytes and closed with $rq unread: the log said RST, not FIN; the client's recv() failed with 'Connection reset by peer' (ECONNRESET); the server's end left no FIN-WAIT or TIME-WAIT; TCPAbortOnClose $before -> $after"
	if cap_end; then
		cport=$(sed -nE 's/^[0-9.]+\.([0-9]+) > .*Flags \[S\].*/\1/p' <<<"$CAP" | head -1)
		expect "a RST from port $TP to the client (port $cport)" \
			grep -qE "^[0-9.]+\\.$TP > [0-9.]+\\.$cport: Flags \\[R\\.\\]" <<<"$CAP"
		expect "no FIN from port $TP" not grep -qE "^[0-9.]+\\.$TP > .*Flags \\[F" <<<"$CAP"
		seen+="; the capture shows [R.] from port $TP, and no FIN"
	fi
	verdict "$seen"
}
