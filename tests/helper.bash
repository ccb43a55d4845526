# shellcheck shell=bash
# Shared by every tests/*.bats file: `load helper` at the top.
#
# - free_port tcp|udp     a port nothing uses (not even TIME_WAIT), below the
#                         kernel's ephemeral range so no client takes it
# - start_server PROG PORT [ARGS]   start a server, wait until it listens
# - start_bg NAME CMD...  start anything in the background, killed in teardown
# - with_input NAME       a FIFO to feed a program's stdin, Enter by Enter
# - wait_until SECS CMD   poll CMD every 50 ms, fail after SECS
# Every process started here is killed by PID in teardown, also when the
# test fails. Binaries come from $KIT_BIN (default: the top of the kit), so
# the same tests run against sanitizer, clang and musl builds.

KIT_ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
BIN="${KIT_BIN:-$KIT_ROOT}"
KIT_PIDS=()
KIT_FIFOS=()

# Print something for the failure report (bats shows it only on failure).
note() { printf '# %s\n' "$*" >&3; }

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

port_in_use() { # port_in_use tcp|udp PORT: any socket at all on that port
	local flag=-tan
	[ "$1" = udp ] && flag=-uan
	[ -n "$(ss -H "$flag" "( sport = :$2 or dport = :$2 )" 2>/dev/null)" ]
}

# free_port tcp|udp: a random free port in 20000-32767, never a walkthrough
# default (12122, 12333, 22222), so a student's own servers are never hit.
free_port() {
	local proto=${1:-tcp} p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12768))
		[ "$p" = 22222 ] && continue
		port_in_use tcp "$p" || port_in_use udp "$p" || {
			echo "$p"
			return 0
		}
	done
	echo "no free $proto port found" >&2
	return 1
}

tcp_listening() { [ -n "$(ss -Htln "( sport = :$1 )")" ]; }
udp_bound() { [ -n "$(ss -Huan "( sport = :$1 )")" ]; }
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
file_has() { grep -qE -- "$2" "$1" 2>/dev/null; } # file_has FILE REGEX
# file_count FILE REGEX N: exactly N lines of FILE match REGEX
file_count() { [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -eq "$3" ]; }
# tcp_state STATE FILTER: ss shows a TCP socket in STATE matching the ss
# FILTER, e.g. tcp_state TIME-WAIT "( dport = :43706 )"; no_tcp FILTER: none
tcp_state() { ss -Htan "$2" | grep -q "^$1 "; }
no_tcp() { [ -z "$(ss -Htan "$1")" ]; }

# not CMD...: succeeds when CMD fails. In a bats test a bare `! cmd` does
# not fail the test (set -e ignores it), so write `not cmd` instead.
not() { ! "$@"; }

# prog NAME ARGS...: run one of the kit's programs with the fds bats keeps
# open (3, 4) closed, so its first socket is fd 3, as a student sees it.
prog() { "$BIN/$1" "${@:2}" 3>&- 4>&-; }

# start_bg NAME CMD [ARGS...]: run CMD in the background, stdout and stderr
# in $BATS_TEST_TMPDIR/NAME.out, stdin from /dev/null (or $KIT_STDIN).
# Sets LAST_PID. fd 3 is bats' own: a child holding it would hang bats.
start_bg() {
	local name=$1
	shift
	"$@" <"${KIT_STDIN:-/dev/null}" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 3>&- 4>&- &
	LAST_PID=$!
	KIT_PIDS+=("$LAST_PID")
}

# start_server PROG PORT [ARGS...]: start $BIN/PROG -p PORT ARGS, wait until
# the port is bound (UDP) or LISTEN (TCP). Output in $BATS_TEST_TMPDIR/PROG.out
# (PROG.2.out etc. for a second one); sets SERVER_PID and SERVER_OUT.
# NOFILE=N start_server ...: with `ulimit -n N`.
start_server() {
	local prog=$1 port=$2 name=$1 n=2
	shift 2
	while [ -e "$BATS_TEST_TMPDIR/$name.out" ]; do
		name="$prog.$n"
		n=$((n + 1))
	done
	if [ -n "${NOFILE:-}" ]; then
		# shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
		start_bg "$name" bash -c 'ulimit -n "$0" && exec "$@"' "$NOFILE" "$BIN/$prog" -p "$port" "$@"
	else
		start_bg "$name" "$BIN/$prog" -p "$port" "$@"
	fi
	# shellcheck disable=SC2034 # for the tests
	SERVER_PID=$LAST_PID
	SERVER_OUT="$BATS_TEST_TMPDIR/$name.out"
	if [ "$prog" = udpserver ]; then
		wait_until 5 udp_bound "$port"
	else
		wait_until 5 tcp_listening "$port"
	fi || {
		cat "$SERVER_OUT" >&2
		return 1
	}
}

# with_input NAME: make a FIFO $BATS_TEST_TMPDIR/NAME.in and set KIT_STDIN
# to it, so that the next start_bg reads its stdin from it. After start_bg,
# call feed_open NAME FD once, then `echo >&FD` sends one Enter.
with_input() {
	KIT_STDIN="$BATS_TEST_TMPDIR/$1.in"
	mkfifo "$KIT_STDIN"
	KIT_FIFOS+=("$KIT_STDIN")
}

# feed_open NAME FD: open the FIFO of NAME on fd FD (4-9) for writing.
# Read-write, so the open never blocks, and the reader sees no end of file
# until teardown closes FD.
feed_open() {
	unset KIT_STDIN
	eval "exec $2<>\"$BATS_TEST_TMPDIR/$1.in\""
}

# kill_tree PID: the process and its children (multi's), by PID.
kill_tree() {
	local pid=$1 child
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		kill_tree "$child"
	done
	kill "$pid" 2>/dev/null || true
}

kit_teardown() {
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

teardown() { kit_teardown; }

# one_stderr_line REGEX: after `run --separate-stderr ...`, stderr is exactly
# one line and matches REGEX.
one_stderr_line() {
	# shellcheck disable=SC2154 # $stderr comes from bats' run
	[ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] || {
		echo "expected one line on stderr, got: $stderr" >&2
		return 1
	}
	[[ "$stderr" =~ $1 ]] || {
		echo "stderr does not match '$1': $stderr" >&2
		return 1
	}
}
