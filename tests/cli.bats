#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# The command line of all seven programs: -h, and every bad input getting
# one line on stderr that names the problem, exit 2 (usage) or 1 (runtime),
# and nothing left behind (no bound socket, no child process).

load helper
bats_require_minimum_version 1.5.0

SERVERS="udpserver tcpserver1 tcpserver2 tcpserver3 multi"
CLIENTS="udpclient tcpclient"
BAD_PORTS=("" 0 65536 -1 12a 99999999999999999999 " 80")

# expect STATUS REGEX PROG ARGS...: run PROG (10 s at most), check the exit
# status and that stderr is one line matching REGEX. Usage errors print
# nothing on stdout.
expect() {
	local want=$1 re=$2 prog=$3
	shift 3
	run --separate-stderr timeout 10 "$BIN/$prog" "$@"
	if [ "$status" -ne "$want" ]; then
		echo "$prog $*: exit $status, expected $want; stderr: $stderr" >&2
		return 1
	fi
	one_stderr_line "^$prog: .*$re" || {
		echo "(from: $prog $*)" >&2
		return 1
	}
	if [ "$want" -eq 2 ] && [ -n "$output" ]; then
		echo "$prog $*: a usage error printed on stdout: $output" >&2
		return 1
	fi
}

bad_ports() { # bad_ports PROG [OPTION]: every bad port is a usage error
	local prog=$1 opt=${2:-} p
	for p in "${BAD_PORTS[@]}"; do
		if [ -n "$opt" ]; then
			expect 2 "bad port '$p'" "$prog" "$opt" "$p"
		else
			expect 2 "bad port '$p'" "$prog" 127.0.0.1 "$p"
		fi
	done
}

help_ok() {
	run --separate-stderr "$BIN/$1" -h
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: $1 "* ]]
	[ -z "$stderr" ]
}

@test "-h: every program prints its usage on stdout and exits 0" {
	for p in $SERVERS $CLIENTS; do help_ok "$p"; done
}

@test "-h: the usage names each program's options" {
	run "$BIN/udpclient" -h
	for o in -b -t -w -m -S; do [[ "$output" == *" $o "* ]]; done
	run "$BIN/tcpclient" -h
	for o in -b -t -w -m -S; do [[ "$output" == *" $o "* ]]; done
	for p in tcpserver1 tcpserver2 tcpserver3 multi; do
		run "$BIN/$p" -h
		for o in -p -a -l -r -q -S; do [[ "$output" == *" $o "* ]]; done
	done
	run "$BIN/tcpserver2" -h
	[[ "$output" == *" -4 "* && "$output" == *" -6 "* ]]
	for p in tcpserver3 multi; do
		run "$BIN/$p" -h
		[[ "$output" == *" -m MAX"* ]]
	done
}

@test "udpserver: bad ports are usage errors" { bad_ports udpserver -p; }
@test "tcpserver1: bad ports are usage errors" { bad_ports tcpserver1 -p; }
@test "tcpserver2: bad ports are usage errors" { bad_ports tcpserver2 -p; }
@test "tcpserver3: bad ports are usage errors" { bad_ports tcpserver3 -p; }
@test "multi: bad ports are usage errors" { bad_ports multi -p; }
@test "udpclient: bad server ports are usage errors" { bad_ports udpclient; }
@test "tcpclient: bad server ports are usage errors" { bad_ports tcpclient; }
@test "udpclient: bad -b ports are usage errors" { bad_ports udpclient -b; }
@test "tcpclient: bad -b ports are usage errors" { bad_ports tcpclient -b; }

@test "tcpserver2: -p takes a service name, but not an unknown one" {
	expect 2 "bad port 'nosuchservice'" tcpserver2 -p nosuchservice
	expect 2 "bad port '12a'" tcpserver2 -p 12a
}

@test "every program: an unknown option is a usage error" {
	for p in $SERVERS $CLIENTS; do expect 2 "unknown option -Z" "$p" -Z; done
}

@test "every program: a missing option argument is a usage error" {
	for p in $SERVERS; do expect 2 "option -p needs an argument" "$p" -p; done
	for p in $CLIENTS; do expect 2 "option -t needs an argument" "$p" -t; done
}

@test "every program: an extra argument is a usage error" {
	for p in $SERVERS; do expect 2 "unexpected argument 'extra'" "$p" extra; done
	for p in $CLIENTS; do expect 2 "unexpected argument 'extra'" "$p" localhost 80 extra; done
}

@test "every program: --help is -h; any other --word is a usage error naming the single letters" {
	for p in $SERVERS $CLIENTS; do
		run --separate-stderr prog "$p" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: $p "* ]]
		[ -z "$stderr" ]
		usage_errors "^$p: unknown option '--(verbose|port=1)': the options are single letters \(try '$p -h'\)$" \
			prog "$p" -- --verbose --port=1 "-S --verbose"
	done
}

@test "servers: a port without -p is a usage error that shows where it goes" {
	for p in $SERVERS; do
		usage_errors "^$p: unexpected argument '12333': the port goes with -p: $p -p 12333 \(try '$p -h'\)$" \
			prog "$p" -- 12333 "-q 12333"
		# not a port number: the plain message
		usage_errors "^$p: unexpected argument '(0|70000|x1)' \(try '$p -h'\)$" prog "$p" -- 0 70000 x1
	done
}

@test "clients: -t 0, -t -1 and -t abc are usage errors" {
	for p in $CLIENTS; do
		for t in 0 -1 abc "" 1.2.3 0.0001; do expect 2 "bad timeout '$t'" "$p" -t "$t"; done
	done
}

@test "TCP servers: -l -1 is a usage error" {
	for p in tcpserver1 tcpserver2 tcpserver3 multi; do
		expect 2 "bad backlog '-1'" "$p" -l -1
		expect 2 "bad backlog 'x'" "$p" -l x
	done
}

@test "tcpserver3 and multi: -m 0 is a usage error" {
	expect 2 "bad client limit '0'" tcpserver3 -m 0
	expect 2 "bad client limit '1025'" tcpserver3 -m 1025
	expect 2 "bad child limit '0'" multi -m 0
}

@test "every program: a host that does not resolve is one line with the resolver's reason, exit 1" {
	for p in $SERVERS; do expect 1 "'nosuch\.invalid'" "$p" -a nosuch.invalid; done
	for p in $CLIENTS; do expect 1 "cannot resolve 'nosuch\.invalid'" "$p" -t 1 nosuch.invalid; done
	for p in $CLIENTS; do expect 1 "cannot resolve 'nosuch\.invalid'" "$p" -b nosuch.invalid:22222 -t 1; done
}

# no_socket PROG ARGS...: PROG makes no socket at all (strace, where there
# is one), so nothing can leave the machine for ARGS.
no_socket() {
	command -v strace >/dev/null || return 0
	strace -f -qq -e trace=socket -o "$BATS_TEST_TMPDIR/strace" "$BIN/$1" "${@:2}" >/dev/null 2>&1 || true
	if grep -q 'socket(' "$BATS_TEST_TMPDIR/strace"; then
		echo "$*: made a socket: $(cat "$BATS_TEST_TMPDIR/strace")" >&2
		return 1
	fi
}

@test "every program: a number alone as the host, -a ADDRESS or -b's ADDRESS is a usage error that says what was meant, before any socket" {
	port=$(free_port)
	expect 2 "'12333' is not a host \(a number alone would be read as one 32-bit IPv4 address\): the host comes first: tcpclient localhost 12333 \(try 'tcpclient -h'\)$" tcpclient -t 1 -m x 12333
	no_socket tcpclient -t 1 -m x 12333
	expect 2 "'12122' is not a host \(.*\): the host comes first: udpclient localhost 12122 \(try 'udpclient -h'\)$" udpclient -t 1 -m x 12122
	no_socket udpclient -t 1 -m x 12122
	for p in $SERVERS; do
		expect 2 "bad address '12333': a number alone is not an address \(it would be read as one 32-bit IPv4 address\): a name or a dotted address, e\.g\. 127\.0\.0\.1; the port is -p 12333 \(try '$p -h'\)$" "$p" -a 12333 -p "$port"
		no_socket "$p" -a 12333 -p "$port"
	done
	for p in $CLIENTS; do
		expect 2 "bad address '12333': a number alone is not an address \(.*\): a name or a dotted address, e\.g\. 127\.0\.0\.1 \(try '$p -h'\)$" "$p" -b 12333:"$port" -t 1 -m x
		no_socket "$p" -b 12333:"$port" -t 1 -m x
	done
}

@test "IPv4-only servers: an IPv6 address (or a name with IPv6 addresses only) is a usage error: this server is IPv4 only, tcpserver2 serves IPv6" {
	port=$(free_port)
	for p in tcpserver1 tcpserver3 multi; do
		expect 2 "bad address '::1': IPv6 only, and $p is IPv4 only \(AF_INET\): give an IPv4 address, e\.g\. 127\.0\.0\.1; tcpserver2 serves IPv6 \(try '$p -h'\)$" "$p" -a ::1 -p "$port"
		no_socket "$p" -a ::1 -p "$port"
	done
	expect 2 "bad address '::1': IPv6 only, and udpserver is IPv4 only \(AF_INET\): give an IPv4 address, e\.g\. 127\.0\.0\.1 \(try 'udpserver -h'\)$" udpserver -a ::1 -p "$port"
	# a name of /etc/hosts with IPv6 addresses only, where there is one
	name=$(awk '$1 == "::1" { print $2; exit }' /etc/hosts)
	if [ -n "$name" ] && ! getent ahostsv4 "$name" >/dev/null; then
		expect 2 "bad address '$name': IPv6 only, and tcpserver1 is IPv4 only" tcpserver1 -a "$name" -p "$port"
	fi
	# and tcpserver2 does serve ::1
	start_server tcpserver2 "$port" -a ::1
	wait_until 5 tcp_listening "$port"
}

@test "servers: an address that is not this machine's is EADDRNOTAVAIL, exit 1, nothing bound" {
	port=$(free_port)
	for p in $SERVERS; do
		expect 1 "$E_ADDRNOTAVAIL" "$p" -a 203.0.113.7 -p "$port"
		not port_in_use tcp "$port"
		not port_in_use udp "$port"
	done
}

@test "clients: -b with an address that is not this machine's is EADDRNOTAVAIL, exit 1" {
	port=$(free_port)
	expect 1 "bind.*$E_ADDRNOTAVAIL" udpclient -b 203.0.113.7:"$port" -m x -t 1
	expect 1 "bind.*$E_ADDRNOTAVAIL" tcpclient -b 203.0.113.7:"$port" -m x -t 1
}

@test "servers: a port already in use is one line, exit 1, and the first server keeps it" {
	tport=$(free_port)
	start_server tcpserver3 "$tport"
	first=$SERVER_PID
	for p in tcpserver1 tcpserver2 tcpserver3 multi; do
		expect 1 "$E_ADDRINUSE" "$p" -p "$tport"
	done
	# nothing else holds the port: one LISTEN socket, the first server's
	alive "$first"
	[ "$(ss -Htlnp "( sport = :$tport )" | wc -l)" -eq 1 ]
	ss -Htlnp "( sport = :$tport )" | grep -q "pid=$first,"
	uport=$(free_port udp)
	start_server udpserver "$uport"
	expect 1 "$E_ADDRINUSE" udpserver -p "$uport"
	[ "$(ss -Huanp "( sport = :$uport )" | wc -l)" -eq 1 ]
}

@test "clients: -b on a port already in use is one line, exit 1" {
	uport=$(free_port udp)
	start_server udpserver "$uport"
	expect 1 "bind.*$E_ADDRINUSE" udpclient -b "$uport" -m x -t 1 127.0.0.1 "$uport"
	tport=$(free_port)
	start_server tcpserver3 "$tport"
	expect 1 "bind.*$E_ADDRINUSE" tcpclient -b "$tport" -m x -t 1 127.0.0.1 "$tport"
}

@test "every program compiles alone with cc, without warnings" {
	for p in $SERVERS $CLIENTS; do
		run cc -std=c11 -Wall -Wextra -Wpedantic -o "$BATS_TEST_TMPDIR/$p" "$KIT_ROOT/$p.c"
		[ "$status" -eq 0 ]
		[ -z "$output" ] || {
			echo "$p.c: $output" >&2
			return 1
		}
	done
}
