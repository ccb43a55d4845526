# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # shares variables with check/run.sh and scripts/check
# check/echo.sh: the echo checks of scripts/check (sourced by check/run.sh):
# what an echo server must do, each check a function check_NAME that sets
# V (pass, fail, skip) and E (the evidence). The checks both kinds of
# server share (fds, children, restart) are in check/run.sh.

CHECKS_TCP="echo concurrent many reset vanish half-close slow-reader junk sigpipe fds children ipv6 restart"
CHECKS_UDP="echo concurrent junk fds ipv6 restart"

# What the echo paths of the shared checks use: a probe (a fresh client
# echoed), the clients that come and go for fds and children, the client
# restart holds.
echo_probe() { run_peer 5 probe; }
echo_traffic() { run_peer 30 churn 500; }
echo_hold() { echo hold; }
FRESH_ECHO="a fresh client echoed"

check_echo() {
	local kinds k n=0 all=0 slow=""
	if [ "$proto" = udp ]; then kinds="text binary one max"; else kinds="text binary one 64k 10m split two"; fi
	for k in $kinds; do
		all=$((all + 1))
		if run_peer 15 echo "$k"; then
			n=$((n + 1))
			[ "$k" = 10m ] && slow=" (10 MB in ${PEER_OUT##* in })"
		elif [ -z "${failed:-}" ]; then
			local failed=$PEER_OUT
		fi
		server_gone && break
	done
	if [ $n = "$all" ]; then
		if [ "$proto" = udp ]; then
			V=pass E="a text line, binary (all 256 byte values), 1 byte, 65507 bytes: each datagram came back the same"
		else
			V=pass E="a text line, binary (all 256 byte values), 1 byte, 64 KiB, 10 MB, a line in 3 pieces, two lines in one send(): all came back byte-exact$slow"
		fi
	else
		V=fail E="$failed ($n of $all payloads came back right)"
	fi
}
check_concurrent() {
	if run_peer 5 concurrent; then V=pass; else V=fail; fi
	E=$PEER_OUT
}
check_many() {
	local lim
	if run_peer 15 many 100; then :; else
		V=fail E="100 clients: $PEER_OUT"
		return
	fi
	lim=$(fd_limit)
	if [ "$lim" != unlimited ] && [ "$lim" -lt 1010 ]; then
		V=skip E="100 clients connected at once, each echoed; 1000 not tried: the server may open only $lim files (ulimit -n), 1000 clients need about 1010"
		return
	fi
	local limit="the server may open $lim files"
	[ "$connect" = 0 ] || limit="its open-file limit unknown with -c"
	if run_peer 30 many 1000; then
		V=pass E="100, then 1000 clients connected at once, each echoed ($limit)"
	else
		V=fail E="100 clients: all echoed; 1000: $PEER_OUT ($limit)"
	fi
}
check_reset() {
	run_peer 5 reset
	after "$PEER_OUT"
}
check_vanish() {
	local c0 c1
	run_peer 5 vanish
	local what=$PEER_OUT
	if server_gone; then
		V=fail E="$what; then $DIED"
		return
	fi
	if [ "$connect" = 1 ]; then
		after "$what (its CPU time not measured: -c)"
		return
	fi
	c0=$(cpu_ms "$spid")
	sleep 1
	c1=$(cpu_ms "$spid")
	if [ $((c1 - c0)) -ge 250 ]; then
		V=fail E="$what; then, idle, the server used $((c1 - c0)) ms of CPU in 1 s: it spins (recv() returning 0 means the client is gone: close it)"
		return
	fi
	after "$what; idle, it used $((c1 - c0)) ms of CPU in 1 s"
}
check_half_close() {
	run_peer 5 halfclose
	local rc=$?
	if [ $rc = 0 ]; then V=pass; else V=fail; fi
	E=$PEER_OUT
}
check_slow_reader() {
	run_peer 10 slowreader
	local rc=$? what=$PEER_OUT
	if [ $rc != 0 ]; then
		V=fail E=$what
		return
	fi
	after "$what"
}
check_junk() {
	run_peer 20 junk
	after "$PEER_OUT"
}
check_sigpipe() {
	run_peer 10 sigpipe
	local what=$PEER_OUT
	sleep 0.2
	after "$what"
}
check_ipv6() {
	local h=$host
	host=::1
	run_peer 5 probe
	local rc=$?
	host=$h
	case $rc in
	0) V=pass E="a client to ::1 port $port was echoed" ;;
	3) V=skip E="IPv4 only: ::1 port $port refused the connection (getaddrinfo and AF_INET6 with IPV6_V6ONLY off serve both)" ;;
	*)
		if [[ $PEER_OUT == *"not available"* || $PEER_OUT == *"Address family"* || $PEER_OUT == *"assign requested"* ]]; then
			V=skip E="no IPv6 here: $PEER_OUT"
		else
			V=fail E="a client to ::1 port $port: $PEER_OUT"
		fi
		;;
	esac
}

# What to read in the README when an echo check fails.
echo_readme() { # echo_readme CHECK
	case $1 in
	concurrent) echo 'README "T11: tcpserver1 serves one client at a time", T12, T13; "Check your own server", row concurrent' ;;
	restart) echo 'README "T7: kill the server with a client connected: Address already in use; -r"' ;;
	*) echo "README \"Check your own server\", row $1" ;;
	esac
}
