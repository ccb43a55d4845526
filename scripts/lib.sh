# shellcheck shell=bash
# Shared by scripts/tour (the walkthrough as code) and tests/helper.bash:
# start programs in the background (optionally inside a network namespace),
# wait for what they do with a timeout, look at the kernel's state, and
# stop everything that was started, by PID. Not a script of its own:
# `source scripts/lib.sh`.
#
# KIT_ROOT  the top of the kit; BIN: where the programs are (default KIT_ROOT)
# KIT_WORK  a directory for the output of background programs
# KIT_NS    when set, programs and ss run inside this network namespace

KIT_ROOT=${KIT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BIN=${KIT_BIN:-$KIT_ROOT}
KIT_PIDS=()

# What strerror() says differs between C libraries: glibc writes "Address
# already in use", musl "Address in use". Match the meaning, not one
# library's words (ERE), and the errno name the programs add (N4).
# shellcheck disable=SC2034 # for the sourcing scripts and tests
E_ADDRINUSE='Address (already )?in use \(EADDRINUSE\)'
# shellcheck disable=SC2034
E_ADDRNOTAVAIL='(Cannot assign requested address|Address not available) \(EADDRNOTAVAIL\)'

# in_ns CMD...: run CMD in $KIT_NS if set, else here.
in_ns() {
	if [ -n "${KIT_NS:-}" ]; then
		ip netns exec "$KIT_NS" "$@"
	else
		"$@"
	fi
}
kss() { in_ns ss "$@"; } # ss, as seen from where the programs run

# wait_until SECONDS CMD [ARGS...]: run CMD every 50 ms until it succeeds.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "timed out after ${limit}s waiting for: $*" >&2
	return 1
}

# not CMD...: succeeds when CMD fails. In a bats test a bare `! cmd` does
# not fail the test (set -e ignores it), so tests write `not cmd` instead.
not() { ! "$@"; }

port_in_use() { # port_in_use tcp|udp PORT: any socket at all on that port
	local flag=-tan
	[ "$1" = udp ] && flag=-uan
	[ -n "$(kss -H "$flag" "( sport = :$2 or dport = :$2 )" 2>/dev/null)" ]
}

# free_port: a random port in 20000-32767 with no TCP or UDP socket on it,
# below Linux's ephemeral range (so no client takes it meanwhile) and never
# a walkthrough default (12122, 12333, 22222), so a student's servers are
# never disturbed. With KIT_WORK set it never hands out the same port twice
# (a list in $KIT_WORK/ports.given): two calls before either port is bound
# get two ports, though each runs in a $(...) of its own.
free_port() {
	local p i given=${KIT_WORK:+$KIT_WORK/ports.given}
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12768))
		[ "$p" = 22222 ] && continue
		[ -n "$given" ] && grep -qx "$p" "$given" 2>/dev/null && continue
		port_in_use tcp "$p" || port_in_use udp "$p" || {
			[ -z "$given" ] || echo "$p" >>"$given"
			echo "$p"
			return 0
		}
	done
	echo "no free port found" >&2
	return 1
}

tcp_listening() { [ -n "$(kss -Htln "( sport = :$1 )")" ]; }
udp_bound() { [ -n "$(kss -Huan "( sport = :$1 )")" ]; }
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
file_has() { grep -qE -- "$2" "$1" 2>/dev/null; } # file_has FILE REGEX
# file_count FILE REGEX N: exactly N lines of FILE match REGEX
file_count() { [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -eq "$3" ]; }
# tcp_state STATE FILTER: ss shows a TCP socket in STATE matching the ss
# FILTER, e.g. tcp_state TIME-WAIT "( dport = :43706 )"; no_tcp FILTER: none
tcp_state() { kss -Htan "$2" | grep -q "^$1 "; }
no_tcp() { [ -z "$(kss -Htan "$1")" ]; }

# start_bg NAME CMD [ARGS...]: run CMD in the background (in $KIT_NS if
# set), stdout and stderr in $KIT_WORK/NAME.out, stdin from /dev/null or
# from the FIFO that with_input NAME made. Sets LAST_PID (the program's
# own pid: ip netns exec execs it). fds 3 to 9 are closed for the child:
# bats keeps 3 and 4, and a program should find its first socket at fd 3;
# 5 to 9 hold FIFO write ends and test connections that must close when
# the test closes them, not stay open in some other program.
start_bg() {
	local name=$1 input=/dev/null
	shift
	[ -p "$KIT_WORK/$name.in" ] && input="$KIT_WORK/$name.in"
	# a simple command, not a function, so that $! is the program itself
	if [ -n "${KIT_NS:-}" ]; then
		ip netns exec "$KIT_NS" "$@" <"$input" >"$KIT_WORK/$name.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	else
		"$@" <"$input" >"$KIT_WORK/$name.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	fi
	LAST_PID=$!
	KIT_PIDS+=("$LAST_PID")
}

# start_server PROG PORT [ARGS...]: start $BIN/PROG -p PORT ARGS and wait
# until the port is bound (UDP) or LISTEN (TCP). Output in $KIT_WORK/PROG.out
# (PROG.2.out etc. for the next one); sets SERVER_PID and SERVER_OUT.
# NOFILE=N start_server ...: with `ulimit -n N`.
start_server() {
	local prog=$1 port=$2 name=$1 n=2
	shift 2
	while [ -e "$KIT_WORK/$name.out" ]; do
		name="$prog.$n"
		n=$((n + 1))
	done
	if [ -n "${NOFILE:-}" ]; then
		# shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
		start_bg "$name" bash -c 'ulimit -n "$0" && exec "$@"' "$NOFILE" "$BIN/$prog" -p "$port" "$@"
	else
		start_bg "$name" "$BIN/$prog" -p "$port" "$@"
	fi
	# shellcheck disable=SC2034 # for the callers
	SERVER_PID=$LAST_PID
	SERVER_OUT="$KIT_WORK/$name.out"
	if [ "$prog" = udpserver ]; then
		wait_until 5 udp_bound "$port"
	else
		wait_until 5 tcp_listening "$port"
	fi || {
		cat "$SERVER_OUT" >&2
		return 1
	}
}

# with_input NAME: the next start_bg NAME reads its stdin from a FIFO;
# after start_bg, feed_open NAME FD opens it on FD (4-9) and `echo >&FD`
# sends one Enter. Read-write, so the open never blocks, and the program
# sees no end of input until FD is closed.
with_input() { mkfifo "$KIT_WORK/$1.in"; }
feed_open() { eval "exec $2<>\"$KIT_WORK/$1.in\""; }

# kill_tree PID: the process and its children (multi's), by PID.
kill_tree() {
	local pid=$1 child
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		kill_tree "$child"
	done
	kill "$pid" 2>/dev/null || true
}

# stop_all: every process start_bg started (and its children), TERM then
# KILL after 2 s; and close fds 4-9 (FIFOs, /dev/tcp connections).
stop_all() {
	local pid i
	for pid in "${KIT_PIDS[@]}"; do
		kill_tree "$pid"
	done
	for pid in "${KIT_PIDS[@]}"; do
		for ((i = 0; i < 40; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		if alive "$pid"; then
			pkill -KILL -P "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	KIT_PIDS=()
	for i in 4 5 6 7 8 9; do
		eval "exec $i>&-" 2>/dev/null || true
	done
}

# A private network namespace with only lo: nothing else can send there,
# so captures hold only our packets, and the walkthrough's own ports
# (12122, 12333, 22222) are free. Made with ip netns, which works as root,
# and as a normal user inside scripts/private (tests/run and scripts/tour
# go in there by themselves). can_netns tries it once, rather than guess
# from the uid; ns_why says in one line why it failed.
can_netns() {
	if [ -z "${KIT_CAN_NETNS:-}" ]; then
		local probe="kitprobe-$$-$RANDOM"
		KIT_CAN_NETNS=no
		if command -v ip >/dev/null && ip netns add "$probe" 2>/dev/null; then
			ip netns delete "$probe"
			KIT_CAN_NETNS=yes
		fi
	fi
	[ "$KIT_CAN_NETNS" = yes ]
}
ns_why() {
	if ! command -v ip >/dev/null; then
		echo "no ip command (iproute2)"
	elif [ "${KIT_PRIVATE:-}" = 1 ] || [ "$(id -u)" = 0 ]; then
		echo "ip netns add failed: $(ip netns add "kitprobe-$$" 2>&1 | head -1)"
		ip netns delete "kitprobe-$$" 2>/dev/null || true
	else
		echo "not root, and no user namespace: $("$KIT_ROOT/scripts/userns-check" | tail -1)"
	fi
}
ns_create() { # ns_create NAME: make it, lo up, set KIT_NS
	ip netns add "$1" && ip -n "$1" link set lo up && KIT_NS=$1
}
ns_delete() { # ns_delete NAME: after stop_all
	[ -e "/var/run/netns/$1" ] && ip netns delete "$1"
	return 0
}
