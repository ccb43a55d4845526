# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # shares variables with check/run.sh and scripts/check
# check/run.sh: the run and its report, for scripts/check (which sources
# this file; the checker's parts are all in check/). The options, building
# the clients (check/checkpeer.c) and the origin (check/origin.c), where it
# runs (a private network of its own when it can), the server's process
# and what the kernel shows of it, the checks both kinds of server share
# (fds, children, threads, restart), the model report, the run, the
# report. The checks themselves: check/echo.sh (an echo server),
# check/proxy.sh (an HTTP proxy, -P).
set -u

# shellcheck source=check/echo.sh
source "$top/check/echo.sh"
# shellcheck source=check/proxy.sh
source "$top/check/proxy.sh"

# Checks that need the server's process, not only its port (not with -c).
NEEDS_PROCESS="fds children threads restart"

usage() {
	cat <<EOF
usage: check [-u] [-k CHECK,...] [-f table|tap|json|gradescope] [-p PORT] [-T SECONDS] COMMAND [ARGS...]
       check [-u] [-k CHECK,...] [-f table|tap|json|gradescope] -c HOST PORT
       check -P [-k CHECK,...] [-C URL] [-f ...] [-p PORT] [-T SECONDS] COMMAND [ARGS...]
       check -P [-k CHECK,...] [-f ...] -c HOST PORT
Starts COMMAND (an echo server: every byte a client sends comes back) on a
free port, runs the checks against it, stops it, and reports each check:
pass, FAIL or skip, with the evidence (what was sent, what came back, what
the kernel showed of the server).
  COMMAND ARGS  your server; the word {port} in ARGS is replaced by the port
                (./myserver {port}, ./tcpserver3 -p {port}, python3 s.py {port})
  -p PORT       the server listens on PORT by itself (no {port} in ARGS)
  -c HOST PORT  a server running already, on loopback (127.0.0.1, ::1,
                localhost): only the checks that need no process
  -u            a UDP echo server (checks: $CHECKS_UDP)
  -P            an HTTP proxy instead (python3 HTTPproxy.py {port}): the kit's
                origin (check/origin.c) behind it (checks: $CHECKS_PROXY;
                and cache, only when named: -k all,cache)
  -C URL        -P: fetch URL through the proxy first (one that turns its cache on)
  -k CHECK,...  these checks only, e.g. -k echo,concurrent (all: the usual list)
  -f FORMAT     table (default), tap, json or gradescope (its results.json)
  -W CHECK=N    gradescope: CHECK is worth N points (default 1 each)
  -T SECONDS    the whole run's deadline (default 60, -P 120); each check has its own
  -h            this help
TCP checks, in order: $CHECKS_TCP
As root, or as a normal user where user namespaces are allowed, the server
runs in a private network namespace (only lo, every port free), gone
afterwards; elsewhere (macOS) on this machine's loopback, and it says so.
Exit status: 0 every check passed (or skipped), 1 a check failed, 2 usage.
EOF
}
bad() { # bad WORDS: a usage error, one line, exit 2
	echo "check: $* (check -h for help)" >&2
	exit 2
}

KIT_ROOT=$top
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"

args=("$@")
proto=tcp fmt=table only="" fixed_port="" connect=0 budget="" mode=echo cache_url=""
weights=()
while getopts ':cuPk:f:p:T:C:W:h' opt; do
	case $opt in
	h)
		usage
		exit 0
		;;
	c) connect=1 ;;
	u) proto=udp ;;
	P) mode=proxy ;;
	k) only=$OPTARG ;;
	f) fmt=$OPTARG ;;
	p) fixed_port=$OPTARG ;;
	T) budget=$OPTARG ;;
	C) cache_url=$OPTARG ;;
	W) weights+=("$OPTARG") ;;
	:) bad "option -$OPTARG needs a value" ;;
	*) bad "unknown option -$OPTARG" ;;
	esac
done
shift $((OPTIND - 1))

case $fmt in table | tap | json | gradescope) ;; *) bad "unknown format '$fmt': table, tap, json or gradescope" ;; esac
[ -n "$budget" ] || if [ "$mode" = proxy ]; then budget=120; else budget=60; fi
[[ $budget =~ ^[1-9][0-9]{0,3}$ ]] || bad "bad deadline '$budget': seconds, 1 to 9999"
[ "$mode" = echo ] || [ "$proto" = tcp ] || bad "-u and -P do not go together: a proxy speaks HTTP over TCP"
[ -z "$cache_url" ] || [ "$mode" = proxy ] || bad "-C URL is for a proxy (-P)"
[ -z "$cache_url" ] || [[ $cache_url =~ ^http://[!-~]+$ ]] || bad "-C: '$cache_url' is not an http:// URL"
is_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && [ "$1" -le 65535 ]; }
optional="" fresh=$FRESH_ECHO
if [ "$mode" = proxy ]; then
	all_checks=$CHECKS_PROXY optional=$OPTIONAL_PROXY what_kind=proxy fresh=$FRESH_PROXY
elif [ "$proto" = udp ]; then
	all_checks=$CHECKS_UDP what_kind=udp
else
	all_checks=$CHECKS_TCP what_kind=tcp
fi
for w in "${weights[@]}"; do # -W NAME=POINTS
	[[ $w =~ ^([a-z-]+)=([0-9]{1,3})$ ]] || bad "-W takes CHECK=POINTS (fetch=3), not '$w'"
	[[ " $all_checks $optional " == *" ${BASH_REMATCH[1]} "* ]] || bad "-W: no $what_kind check '${BASH_REMATCH[1]}'"
done
checks=() want_model=0
if [ -n "$only" ]; then
	IFS=, read -ra wanted <<<"$only"
	for c in "${wanted[@]}"; do
		[[ " all model $all_checks $optional " == *" $c "* ]] || bad "no $what_kind check '$c': one of $all_checks${optional:+ $optional}"
	done
	[[ ",$only," == *,model,* || ",$only," == *,all,* ]] && want_model=1
	for c in $all_checks $optional; do # in the usual order
		[[ ",$only," == *",$c,"* || (",$only," == *,all,* && " $all_checks " == *" $c "*) ]] && checks+=("$c")
	done
else
	read -ra checks <<<"$all_checks"
	want_model=1
fi

if [ "$connect" = 1 ]; then
	[ $# -eq 2 ] || bad "-c takes HOST PORT, nothing else"
	host=$1 port=$2
	[ "$host" = localhost ] && host=127.0.0.1
	[[ $host =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ || $host = ::1 ]] ||
		bad "-c: '$1' is not loopback (127.0.0.0/8, ::1, localhost): only a server on this machine"
	is_port "$port" || bad "bad port '$port': 1 to 65535"
	[ -z "$fixed_port" ] || bad "-c and -p do not go together (-c HOST PORT)"
	cmd=()
else
	[ $# -gt 0 ] || bad "no server command: check ./myserver {port}"
	cmd=("$@")
	command -v "$1" >/dev/null || bad "no program '$1' here (not found, or not executable: did you build it?)"
	has_port=0
	for a in "${cmd[@]}"; do [[ $a == *"{port}"* ]] && has_port=1; done
	if [ -n "$fixed_port" ]; then
		is_port "$fixed_port" || bad "bad port '$fixed_port': 1 to 65535"
		[ $has_port = 0 ] || bad "-p and {port} do not go together: one says where the port is"
	elif [ $has_port = 0 ]; then
		bad "where does the port go? put {port} in the arguments (./myserver {port}) or give -p PORT"
	fi
fi

# The clients and the origin, built here when missing or old.
# shellcheck source=check/build.sh
source "$top/check/build.sh"
build checkpeer
peer=$top/check/checkpeer
[ "$mode" = echo ] || build origin

# Where: a private network of our own when we can have one (as root: a
# network namespace; a normal user: a user namespace, scripts/private);
# KIT_PRIVATE=no: stay here. -c: the server is here, so we stay too. When
# the namespace cannot be made (a container that forbids it), here.
no_ns=""
if [ "$connect" = 0 ] && [ "$(uname -s)" = Linux ] && [ -z "${KIT_PRIVATE:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		if no_ns=$(unshare --net --mount true 2>&1); then
			KIT_CHECK_OWN_NS=1 exec "$top/scripts/private" "$0" "${args[@]}"
		fi
		no_ns="unshare --net failed: $(head -1 <<<"${no_ns:-no reason given}")"
	elif "$top/scripts/userns-check" >/dev/null 2>&1; then
		KIT_CHECK_OWN_NS=1 exec "$top/scripts/private" "$0" "${args[@]}"
	fi
fi
own_ns=${KIT_CHECK_OWN_NS:-0}
unset KIT_CHECK_OWN_NS
if [ "$connect" = 1 ]; then
	where="a server already running here"
elif [ "$own_ns" = 1 ]; then
	where="in a private network namespace of its own (only lo)"
elif [ "${KIT_PRIVATE:-}" = no ]; then
	where="on this machine's loopback (KIT_PRIVATE=no)"
elif [ "${KIT_PRIVATE:-}" = 1 ]; then
	where="in the private network we are in (scripts/private)"
else
	why=$no_ns
	[ -n "$why" ] || why=$([ "$(uname -s)" = Linux ] && ns_why || echo "no network namespaces on $(uname -s)")
	where="on this machine's loopback with free ports (no private network here: $why)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check.XXXXXX") || exit 1
KIT_WORK=$WORK
# Our messages go to fd 7 (stderr); bash's own notices of the server's end
# ("Killed"), and the tools' complaints, to a file.
exec 7>&2 2>"$WORK/stderr"
log=$WORK/server.log
spid="" hold_pid="" start=$SECONDS

# ---- the server's process ----

now_ms() { # ms since the epoch (bash 5), else whole seconds
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((10#${t:0:${#t}-3}))
	else
		echo $((SECONDS * 1000))
	fi
}

# tree PID: PID and all its descendants; with "count": "N Z", how many
# descendants, of them zombies. One ps, whatever runs here (macOS too).
# state PID: its ps STAT letter (Z: a zombie).
tree() {
	ps -A -o pid=,ppid=,stat= 2>/dev/null | awk -v root="$1" -v count="${2:-}" '
		{ kids[$2] = kids[$2] " " $1; stat[$1] = $3 }
		END {
			queue[1] = root; n = 1; z = 0
			for (i = 1; i <= n; i++) {
				k = split(kids[queue[i]], a, " ")
				for (j = 1; j <= k; j++) { queue[++n] = a[j]; if (stat[a[j]] ~ /^Z/) z++ }
			}
			if (count) print n - 1, z
			else for (i = 1; i <= n; i++) print queue[i]
		}'
}
state() {
	if [ -r "/proc/$1/stat" ]; then
		awk '{ sub(/.*\) /, ""); print substr($1, 1, 1) }' "/proc/$1/stat" 2>/dev/null
	else
		ps -o stat= -p "$1" 2>/dev/null | cut -c1
	fi
}
# stop_server [SIGNAL]: the server's process group and every descendant,
# TERM (or SIGNAL), KILL after 2 s; reaped.
stop_server() {
	local sig=${1:-TERM} pids i
	[ -n "$spid" ] || return 0
	pids=$(tree "$spid")
	kill "-$sig" -- "-$spid" 2>/dev/null
	# shellcheck disable=SC2086 # a list of PIDs
	kill "-$sig" $pids 2>/dev/null
	for ((i = 0; i < 40; i++)); do
		alive "$spid" || break
		sleep 0.05
	done
	kill -KILL -- "-$spid" 2>/dev/null
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	{ wait "$spid"; } 2>/dev/null
	spid=""
}
# sweep: in a namespace of our own, whatever still runs in it is ours (a
# server that left its process group): kill it, by PID.
sweep() {
	[ "$own_ns" = 1 ] && [ -r /proc/self/ns/net ] || return 0
	local me p mine
	me=$(readlink /proc/$$/ns/net) mine=" $$ $(ancestors) "
	# one find reads every process's link (a fork per process is slow)
	me=${me//\[/\\[} me=${me//\]/\\]} # a find pattern: net:\[NNN\]
	for p in $(find /proc/[0-9]*/ns/net -maxdepth 0 -lname "$me" 2>/dev/null | cut -d/ -f3); do
		[[ $mine == *" $p "* ]] || kill -KILL "$p" 2>/dev/null
	done
}
ancestors() { # our parent, its parent, ... (scripts/private's shells; Linux)
	local p=$$
	while [ "$p" -gt 1 ] 2>/dev/null; do
		p=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null) || break
		echo "$p"
	done
}
cleanup() {
	[ -z "${peer_pid:-}" ] || kill -KILL "$peer_pid" 2>/dev/null
	[ -z "$hold_pid" ] || { kill -KILL "$hold_pid" 2>/dev/null; wait "$hold_pid" 2>/dev/null; }
	stop_server
	stop_origins
	sweep
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "check: interrupted" >&7; exit 130' INT TERM HUP

# run_peer DEADLINE_S ACTION...: scripts/checkpeer against the server; sets
# PEER_OUT (its line) and returns its exit status (0 ok, 1 not, 3 refused,
# 4 deadline). Never past the whole run's deadline.
run_peer() {
	local t=$1 left udp=()
	shift
	left=$((budget - (SECONDS - start)))
	[ "$left" -lt "$t" ] && t=$((left > 1 ? left : 1))
	[ "$proto" = udp ] && udp=(-u)
	[ "$mode" = echo ] || udp=(-o "$oport")
	# in the background, so that a signal (Ctrl-C, kill) is handled at once
	"$peer" "${udp[@]}" -t $((t * 1000)) "$host" "$port" "$@" >"$WORK/peer.out" 2>&1 3>&- 4>&- 7>&- &
	peer_pid=$!
	wait "$peer_pid"
	local rc=$?
	peer_pid=""
	PEER_OUT=$(cat "$WORK/peer.out")
	return $rc
}

# last_log: the server's last log line, printable, for evidence.
last_log() {
	local l
	l=$(grep -v -e '^$' -e '^--- started: ' "$log" 2>/dev/null | tail -1 | tr -cd '[:print:]' | cut -c1-160)
	[ -z "$l" ] || echo "; its last line: \"$l\""
}
# python_error OFFSET: the last Python exception line ("ConnectionResetError:
# [Errno 104] ...") the server's log got after byte OFFSET, if any.
python_error() {
	tail -c +"$(($1 + 1))" "$log" 2>/dev/null |
		grep -aE '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt)(: |$)' |
		tail -1 | tr -cd '[:print:]' | cut -c1-160
}
died_how() { # died_how STATUS
	if [ "$1" -gt 128 ]; then
		echo "killed by signal $(($1 - 128)) (SIG$(kill -l $(($1 - 128)) 2>/dev/null))"
	else
		echo "exit status $1"
	fi
}
# server_gone: true (and DIED says how) when the server we started is gone.
server_gone() {
	[ "$connect" = 0 ] || return 1
	[ -n "$spid" ] || return 0
	alive "$spid" && [ "$(state "$spid")" != Z ] && return 1
	local st=0
	{ wait "$spid"; } 2>/dev/null || st=$?
	DIED="the server died: $(died_how "$st")$(last_log)"
	# what died, in the student's language: a Python exception, or how
	DIED_SHORT=$(python_error "${log_at:-0}" | cut -d: -f1)
	[ -n "$DIED_SHORT" ] || DIED_SHORT=$(died_how "$st")
	kill -KILL -- "-$spid" 2>/dev/null # what it started, in its process group
	spid=""
	return 0
}

# start_server_proc: start the command (stdout, stderr in the log), in its
# own process group, and wait until it answers (5 s). Sets spid and host,
# or START_ERR.
start_server_proc() {
	local a run=() rc
	for a in "${cmd[@]}"; do run+=("${a//\{port\}/$port}"); done
	echo "--- started: ${run[*]}" >>"$log"
	set -m
	"${run[@]}" </dev/null >>"$log" 2>&1 3>&- 4>&- 7>&- &
	spid=$!
	set +m
	local end=$(($(now_ms) + ${START_SECS:-5} * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		for host in 127.0.0.1 ::1; do
			rc=0
			if [ "$proto" = udp ]; then
				"$peer" -u -t 300 "$host" "$port" ready >/dev/null 2>&1 || rc=$?
			else
				"$peer" -t 1000 "$host" "$port" ready >/dev/null 2>&1 || rc=$?
			fi
			[ $rc = 0 ] && return 0
		done
		if server_gone; then
			START_ERR="the server exited at once: ${DIED#the server died: }"
			return 1
		fi
		[ "$proto" = udp ] || sleep 0.05
	done
	START_ERR="the server did not answer on port $port within ${START_SECS:-5} s$(last_log)"
	stop_server
	return 1
}

# ---- what the kernel shows of the server ----

count_fds() { # count_fds PID: its open files (/proc, or lsof)
	if [ -d "/proc/$1/fd" ]; then
		find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l | tr -d ' '
	else
		lsof -n -P -p "$1" 2>/dev/null | awk 'NR > 1 && $4 ~ /^[0-9]/' | wc -l | tr -d ' '
	fi
}
count_sockets() {
	if [ -d "/proc/$1/fd" ]; then
		find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l | tr -d ' '
	else
		lsof -n -P -p "$1" 2>/dev/null | awk 'NR > 1 && ($5 == "IPv4" || $5 == "IPv6")' | wc -l | tr -d ' '
	fi
}
children_of() { tree "$1" count; } # "N Z": descendants, zombies
cpu_ms() { # cpu_ms PID: CPU time of it and its descendants, ms
	local pids tck p files=()
	pids=$(tree "$1")
	if [ -r "/proc/$1/stat" ]; then
		tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
		for p in $pids; do files+=("/proc/$p/stat"); done
		# shellcheck disable=SC2002 # cat goes on past a process that is gone
		cat "${files[@]}" 2>/dev/null |
			awk -v tck="$tck" '{ sub(/.*\) /, ""); t += $12 + $13 } END { printf "%d\n", t * 1000 / tck }'
	else # macOS: [M]M:SS.cc
		# shellcheck disable=SC2086
		ps -o time= -p "$(echo $pids | tr ' ' ,)" 2>/dev/null |
			awk -F'[:.]' '{ t += ($1 * 60 + $2) * 1000 + $3 * 10 } END { printf "%d\n", t }'
	fi
}
fd_limit() { # the server's soft limit on open files, or ours
	local l=""
	[ -n "$spid" ] && [ -r "/proc/$spid/limits" ] &&
		l=$(awk '/^Max open files/ { print $4 }' "/proc/$spid/limits")
	echo "${l:-$(ulimit -n)}"
}

# ---- the checks: each sets V (pass, fail, skip) and E (the evidence) ----

# serving: after a check, the server is alive and serves a fresh client
# (echo_probe, proxy_probe).
serving() {
	server_gone && return 1
	"${mode}_probe" && return 0
	SERVE_ERR=$PEER_OUT
	return 1
}
after() { # after WHAT: pass if serving, else fail saying what happened
	if serving; then
		V=pass E="$1; then the server was alive and $fresh"
	elif [ -n "${DIED:-}" ]; then
		V=fail E="$1; then $DIED"
	else
		V=fail E="$1; then $SERVE_ERR"
	fi
}

sockets() { if [ "$1" = 1 ]; then echo "1 socket"; else echo "$1 sockets"; fi; }
count_threads() { # count_threads PID: the threads of it and its descendants
	local p n=0 t
	[ -d "/proc/$1/task" ] || {
		echo "?"
		return
	}
	for p in $(tree "$1"); do
		t=$(find "/proc/$p/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		n=$((n + t))
	done
	echo "$n"
}
# fds, children and threads: one run of clients that come and go
# (echo_traffic, proxy_traffic), three verdicts. Nothing may grow: fds
# back where they started, children and threads no more than before or
# than REF_CH and REF_TH (what the traffic function saw after its first
# burst: a pool is fine), no new zombies, within 5 s.
fds_children() {
	if [ -n "${FC_DONE:-}" ]; then
		[ -z "$FC_DIED" ] || DIED=$FC_DIED DIED_SHORT=$FC_DIED_SHORT
		return 0
	fi
	FC_DONE=1
	local f0 s0 ch0 z0 th0 f1 s1 ch1 z1 th1 mch mth
	f0=$(count_fds "$spid") s0=$(count_sockets "$spid") th0=$(count_threads "$spid")
	read -r ch0 z0 <<<"$(children_of "$spid")"
	REF_CH=$ch0 REF_TH=$th0
	"${mode}_traffic"
	FC_RC=$? FC_WHAT=$PEER_OUT
	mch=$((REF_CH > ch0 ? REF_CH : ch0)) mth=$th0
	[ "$th0" = "?" ] || mth=$((REF_TH > th0 ? REF_TH : th0))
	local end=$(($(now_ms) + 5000))
	while :; do
		server_gone && break
		f1=$(count_fds "$spid") s1=$(count_sockets "$spid") th1=$(count_threads "$spid")
		read -r ch1 z1 <<<"$(children_of "$spid")"
		[ "$f1" -le "$f0" ] && [ "$ch1" -le "$mch" ] && [ "$z1" -le "$z0" ] &&
			{ [ "$th1" = "?" ] || [ "$th1" -le "$mth" ]; } && break
		[ "$(now_ms)" -lt "$end" ] || break
		sleep 0.05
	done
	# a server that crashes takes a moment to be gone
	[ "$FC_RC" = 0 ] || wait_until 1 server_gone 2>/dev/null
	FC_DIED=$DIED FC_DIED_SHORT=${DIED_SHORT:-} # one death, three verdicts
	FC_FDS="open fds: $f0 before ($(sockets "$s0")), ${f1:-?} after ($(sockets "${s1:-?}"))"
	FC_CH="children: $ch0 before ($z0 zombies)${REF_CH_AT:+, $REF_CH $REF_CH_AT}, ${ch1:-?} after (${z1:-?} zombies)"
	FC_TH="threads: $th0 before${REF_TH_AT:+, $REF_TH $REF_TH_AT}, ${th1:-?} after"
	FC_FDS_OK=0 FC_CH_OK=0 FC_TH_OK=0
	[ -n "${f1:-}" ] && [ "$f1" -le "$f0" ] && FC_FDS_OK=1
	[ -n "${ch1:-}" ] && [ "$ch1" -le "$mch" ] && [ "$z1" -le "$z0" ] && FC_CH_OK=1
	[ -n "${th1:-}" ] && { [ "$th1" = "?" ] || [ "$th1" -le "$mth" ]; } && FC_TH_OK=1
}
# fc_verdict OK TEXT WHY: the verdict of fds, children or threads from
# the one run (OK and TEXT: names of fds_children's results; WHY: what a
# failure means).
fc_verdict() {
	fds_children
	if [ "$FC_RC" != 0 ]; then
		V=fail E="$FC_WHAT"
	elif [ "${!1}" = 1 ]; then
		V=pass E="$FC_WHAT; ${!2}"
	else
		V=fail E="$FC_WHAT; ${!2}, 5 s later: $3"
	fi
}
check_fds() { fc_verdict FC_FDS_OK FC_FDS "the server leaks a socket when a client goes (close() on every path, the error ones too)"; }
check_children() { fc_verdict FC_CH_OK FC_CH "the server does not reap its children (waitpid)"; }
check_threads() { fc_verdict FC_TH_OK FC_TH "threads that served a client do not end (join or detach them, and return)"; }
check_restart() {
	local held="" t0 ms ss_line
	if [ "$proto" = tcp ]; then
		"$peer" ${oport:+-o "$oport"} -t 20000 "$host" "$port" "$("${mode}_hold")" >"$WORK/hold.out" 2>&1 3>&- 4>&- 7>&- &
		hold_pid=$!
		wait_until 3 file_has "$WORK/hold.out" . 2>/dev/null
		grep -q '^held$' "$WORK/hold.out" && held="with a client connected, "
	fi
	stop_server KILL
	ss_line=$(ss -Htan "( sport = :$port )" 2>/dev/null | awk '{ print $1 }' | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
	t0=$(now_ms)
	START_SECS=3 start_server_proc
	local rc=$?
	ms=$(($(now_ms) - t0))
	if [ -n "$hold_pid" ]; then
		kill -KILL "$hold_pid" 2>/dev/null
		wait "$hold_pid" 2>/dev/null
		hold_pid=""
	fi
	if [ $rc = 0 ]; then
		V=pass E="${held}kill -9 the server, the same command again on port $port: it answered at once"
		[ $ms -lt 1000 ] || E="${E% at once} after about $ms ms (it needed to wait)"
	elif grep -qiE 'in use|EADDRINUSE' "$log"; then
		V=fail E="restarting needs SO_REUSEADDR: ${held}kill -9, then the same command: $(grep -iE 'in use|EADDRINUSE' "$log" | tail -1 | tr -cd '[:print:]' | cut -c1-200)${ss_line:+; ss showed on port $port: $ss_line}"
	else
		V=fail E="${held}kill -9, then the same command: $START_ERR"
	fi
}

# ---- the model: how the server serves clients at once (not judged) ----

# event_loop PID: "epoll", "poll" or "select" when the server (any of its
# processes or threads) holds an epoll fd or sleeps in one of them; else
# nothing. Linux (/proc); a non-blocking socket alone is not counted.
event_loop() {
	local p t w
	for p in $(tree "$1"); do
		find "/proc/$p/fd" -mindepth 1 -maxdepth 1 -lname 'anon_inode:*eventpoll*' 2>/dev/null | grep -q . && {
			echo epoll
			return
		}
		for t in /proc/"$p"/task/*/wchan; do
			w=$(cat "$t" 2>/dev/null)
			case $w in
			*ep_poll* | *epoll_wait*) echo epoll && return ;;
			*sys_poll* | *ppoll*) echo poll && return ;;
			*select*) echo select && return ;;
			*poll_schedule_timeout*) echo "select or poll" && return ;;
			esac
		done
	done
}
# model: MODEL, from the server's threads, children and event loop with 1
# and with 10 clients connected and idle (check/checkpeer holdn N).
model() {
	local n i th ch z ev wch="" th1=0 ch1=0 th10 ch10 ev10
	if [ "$connect" = 1 ]; then
		MODEL="unknown with -c (it needs the server's process)"
		return
	fi
	[ "$proto" = tcp ] || return 0
	[ -n "$spid" ] || START_SECS=3 start_server_proc || {
		MODEL="unknown: the server did not start again"
		return
	}
	if [ ! -d "/proc/$spid/task" ]; then
		MODEL="unknown here (no /proc)"
		return
	fi
	for n in 1 10; do
		"$peer" ${oport:+-o "$oport"} -t 5000 "$host" "$port" holdn "$n" >"$WORK/model.out" 2>&1 3>&- 4>&- 7>&- &
		hold_pid=$!
		wait_until 3 file_has "$WORK/model.out" . 2>/dev/null
		# 10 clients: until a child or a thread each shows up, or the
		# counts stay the same for 0.4 s; 1.6 s at most
		local was="" same=0
		for ((i = 0; i < (n == 1 ? 1 : 8); i++)); do
			sleep 0.2
			th=$(count_threads "$spid")
			read -r ch z <<<"$(children_of "$spid")"
			if [ "$was" = "$th $ch" ]; then same=$((same + 1)); else same=0; fi
			[ $n = 1 ] || [ "$ch" -ge $((ch1 + 9)) ] || [ "$th" -ge $((th1 + 9)) ] || [ $same -ge 2 ] && break
			was="$th $ch"
		done
		ev=$(event_loop "$spid")
		[ $n = 1 ] || wch=$(tr -cd '[:alnum:]_.' <"/proc/$spid/wchan" 2>/dev/null)
		kill -KILL "$hold_pid" 2>/dev/null
		wait "$hold_pid" 2>/dev/null
		hold_pid=""
		if [ $n = 1 ]; then th1=$th ch1=$ch; else th10=$th ch10=$ch ev10=$ev; fi
	done
	if [ "$ch10" -ge $((ch1 + 9)) ]; then
		MODEL="a process per client: $ch10 children at 10 clients, $ch1 at 1"
	elif [ "$th10" -ge $((th1 + 9)) ]; then
		MODEL="a thread per client: $th10 threads at 10 clients, $th1 at 1"
	elif [ -n "$ev10" ]; then
		MODEL="an event loop ($ev10): $th10 thread(s) and $ch10 children at 10 clients, $th1 and $ch1 at 1"
	elif [ "$ch10" -gt "$ch1" ] || [ "$th10" -gt "$th1" ]; then
		MODEL="it grows with clients, not one each: $th1 threads and $ch1 children at 1 client, $th10 and $ch10 at 10"
	elif [ "$th10" -gt 1 ] || [ "$ch10" -gt 0 ]; then
		MODEL="a pool: $th10 threads and $ch10 children at 1 and at 10 clients"
	else
		MODEL="one client at a time: 1 thread, no children, no select/poll/epoll at 10 clients${wch:+ (asleep in $wch)}"
	fi
}

# ---- the run ----

if [ "$connect" = 0 ]; then
	# room for a thousand clients, for the server (inherited) and for us
	hard=$(ulimit -Hn)
	if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then
		[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt 4096 ] && ulimit -Sn 4096
	else
		ulimit -Sn "$hard"
	fi
	if [ -n "$fixed_port" ]; then port=$fixed_port; else port=$(free_port 2>/dev/null || echo $((20000 + RANDOM % 12768))); fi
	if [ "$mode" = proxy ] && ! start_origins; then
		FATAL=$START_ERR
	elif ! start_server_proc; then
		FATAL=$START_ERR
	fi
else
	# a proxy: it accepts (the checks say the rest); an echo server: it echoes
	first=probe
	[ "$mode" = echo ] || first=ready
	if [ "$mode" = proxy ] && ! start_origins; then
		FATAL=$START_ERR
	elif ! run_peer 3 "$first"; then
		FATAL="$host port $port: $PEER_OUT"
	fi
fi

names=() verdicts=() evidence=() first_death=""
for c in "${checks[@]}"; do
	V="" E="" DIED=""
	if [ -n "${FATAL:-}" ]; then
		V=fail E=$FATAL
		if [ -n "${FATAL_AT:-}" ]; then E="not run: the server is not running (see $FATAL_AT)"; else FATAL_AT=$c; fi
	elif [ $((SECONDS - start)) -ge "$budget" ]; then
		V=fail E="not run: the whole run's deadline ($budget s, -T) passed"
	elif [ "$connect" = 1 ] && [[ " $NEEDS_PROCESS " == *" $c "* ]]; then
		V=skip E="needs the server's process, not only its port: not with -c (check COMMAND starts it)"
	elif [ "$mode" = echo ] && [[ $c == many || $c == slow-reader ]] && [ "${concurrent_failed:-}" = 1 ]; then
		V=skip E="serves one client at a time (see concurrent)"
	else
		# a server that died after the last check's end is that check's failure
		DIED=""
		if [ -n "$spid" ] && server_gone && [ ${#names[@]} -gt 0 ]; then
			last=$((${#names[@]} - 1))
			[ "${verdicts[$last]}" = skip ] || {
				verdicts[last]=fail
				evidence[last]=$(tr -cd '[:print:]' <<<"${evidence[$last]}; then $DIED")
			}
		fi
		DIED="" log_at=$(wc -c <"$log" 2>/dev/null || echo 0)
		if [ -z "$spid" ] && [ "$connect" = 0 ]; then
			start_server_proc || {
				FATAL="could not start the server again: $START_ERR"
				V=fail E=$FATAL FATAL_AT=$c
			}
		fi
		if [ -n "$V" ]; then
			:
		elif [ "$mode" = proxy ] && declare -F "proxy_${c//-/_}" >/dev/null; then
			"proxy_${c//-/_}"
		else
			"check_${c//-/_}"
		fi
		if [ "$c" != restart ] && [ -n "$spid" ]; then
			if [ "$V" = fail ]; then
				# a server that crashes takes a moment to be gone (a core dump)
				wait_until 1 server_gone 2>/dev/null
			else
				server_gone
			fi
		fi
		if [ "$c" != restart ] && [ -n "$DIED" ] && [[ $E != *"$DIED"* ]]; then V=fail E="$E; then $DIED"; fi
		# died: said first (and which check killed it first); a server that
		# lives on with a new traceback in its log (a thread that died): quoted
		if [ "$c" != restart ] && [ -n "$DIED" ]; then
			E="died: $DIED_SHORT${first_death:+, see $first_death}; $E"
			first_death=${first_death:-$c}
		elif [ -n "$spid" ] && tail -c +"$((log_at + 1))" "$log" 2>/dev/null | grep -q '^Traceback ' &&
			tb=$(python_error "$log_at") && [ -n "$tb" ]; then
			E="$E; its log shows a new Python traceback (a thread that served a client died?): \"$tb\""
		fi
		[ -z "$spid" ] || [ "$c" != restart ] || stop_server
	fi
	[ "$c" = concurrent ] && [ "$V" = fail ] && concurrent_failed=1
	names+=("$c") verdicts+=("$V") evidence+=("$(tr -cd '[:print:]' <<<"$E")")
done
# the model: how the server serves clients at once (reported, not judged)
MODEL=""
[ "$want_model" = 0 ] || model
elapsed=$((SECONDS - start))
stop_server

# ---- the report ----

# What to do when a check fails because something died, in the language
# of what died: a Python exception, or a C signal; and for a reset, its
# most common cause (N9).
advice_for() { # advice_for EVIDENCE
	case $1 in
	"died: "*Error* | "died: "*Exception* | *"Python traceback"*)
		echo "a Python exception ended the server (or the thread serving a client): catch it per client (try/except around the code that serves one client: ConnectionResetError, BrokenPipeError, ...), close that client's socket and go on with the others"
		;;
	"died: "*SIGPIPE*) echo "C: signal(SIGPIPE, SIG_IGN) once in main(); then send() to a client that is gone fails with EPIPE instead of killing the server: close that client" ;;
	"died: "*SIGSEGV* | "died: "*SIGABRT* | "died: "*SIGBUS*) echo "a crash: run the server under valgrind, or build it with -fsanitize=address,undefined, and do what this check did" ;;
	*"Connection reset by peer"*) echo "Connection reset by peer: the server (or the one behind it) probably called close() while bytes it had not read were still waiting, which makes the kernel send RST instead of FIN: read the whole request (up to its end, or the client's FIN) before you close; README N9 shows it (scripts/tour N9)" ;;
	esac
}
# What to read in the README when a check fails.
readme_for() { # readme_for CHECK EVIDENCE
	case $2 in "the server exited at once"* | "the server did not answer"* | "could not start"*)
		echo 'README "Check your own server"'
		return
		;;
	esac
	"${mode}_readme" "$1"
}
passed=0 failed=0 skipped=0
for v in "${verdicts[@]}"; do
	case $v in pass) passed=$((passed + 1)) ;; fail) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
done
if [ "$connect" = 1 ]; then what="$host port $port"; else what="${cmd[*]}"; fi
kind=$proto w=12
[ "$mode" = echo ] || kind="http proxy" w=14
json_str() { # a JSON string (the evidence is printable ASCII already)
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}
case $fmt in
table)
	echo "check: $what ($kind, $where)"
	for i in "${!names[@]}"; do
		v=${verdicts[$i]}
		[ "$v" = fail ] && v=FAIL
		printf '%-*s %-5s %s\n' "$w" "${names[$i]}" "$v" "${evidence[$i]}"
		[ "$v" != FAIL ] || [[ ${evidence[$i]} == "not run:"* ]] || printf '%-*s %-5s read: %s\n' "$w" "" "" "$(readme_for "${names[$i]}" "${evidence[$i]}")"
		a=$(advice_for "${evidence[$i]}")
		[ -z "$a" ] || printf '%-*s %-5s advice: %s\n' "$w" "" "" "$a"
	done
	[ -z "$MODEL" ] || printf '%-*s %-5s %s\n' "$w" model "" "$MODEL (reported, not judged)"
	echo "check: $passed passed, $failed failed, $skipped skipped ($elapsed s)"
	;;
tap)
	echo "TAP version 13"
	echo "1..${#names[@]}"
	for i in "${!names[@]}"; do
		case ${verdicts[$i]} in
		pass) echo "ok $((i + 1)) - ${names[$i]} # ${evidence[$i]}" ;;
		skip) echo "ok $((i + 1)) - ${names[$i]} # SKIP ${evidence[$i]}" ;;
		*) echo "not ok $((i + 1)) - ${names[$i]} # ${evidence[$i]}" ;;
		esac
	done
	[ -z "$MODEL" ] || echo "# model: $MODEL (reported, not judged)"
	;;
json)
	printf '{"command": %s, "protocol": "%s", "where": %s, "seconds": %d, "passed": %d, "failed": %d, "skipped": %d, "checks": [' \
		"$(json_str "$what")" "${kind/http proxy/http}" "$(json_str "$where")" "$elapsed" "$passed" "$failed" "$skipped"
	for i in "${!names[@]}"; do
		[ "$i" = 0 ] || printf ', '
		printf '{"name": "%s", "verdict": "%s", "evidence": %s' "${names[$i]}" "${verdicts[$i]}" "$(json_str "${evidence[$i]}")"
		[ "${verdicts[$i]}" != fail ] || printf ', "readme": %s' "$(json_str "$(readme_for "${names[$i]}" "${evidence[$i]}")")"
		a=$(advice_for "${evidence[$i]}")
		[ -z "$a" ] || printf ', "advice": %s' "$(json_str "$a")"
		printf '}'
	done
	printf ']'
	[ -z "$MODEL" ] || printf ', "model": %s' "$(json_str "$MODEL")"
	printf '}\n'
	;;
gradescope)
	# Gradescope's autograder results.json: a test a check, 1 point each
	# (-W CHECK=N), a skip worth nothing, the model a 0-point test.
	score=0 tests=""
	for i in "${!names[@]}"; do
		pts=1
		for w in "${weights[@]}"; do [ "${w%%=*}" != "${names[$i]}" ] || pts=${w#*=}; done
		out=${evidence[$i]} got=0 st=passed
		case ${verdicts[$i]} in
		pass) got=$pts ;;
		skip) pts=0 out="skipped: $out" ;;
		*)
			st=failed
			out="$out; read: $(readme_for "${names[$i]}" "${evidence[$i]}")"
			a=$(advice_for "${evidence[$i]}")
			[ -z "$a" ] || out="$out; advice: $a"
			;;
		esac
		score=$((score + got))
		tests+="${tests:+, }{\"name\": \"${names[$i]}\", \"score\": $got, \"max_score\": $pts, \"status\": \"$st\", \"output\": $(json_str "$out")}"
	done
	[ -z "$MODEL" ] || tests+="${tests:+, }{\"name\": \"model (reported, not judged)\", \"score\": 0, \"max_score\": 0, \"output\": $(json_str "$MODEL")}"
	printf '{"score": %d, "output": %s, "tests": [%s]}\n' "$score" "$(json_str "check: $what ($kind, $where): $passed passed, $failed failed, $skipped skipped ($elapsed s)")" "$tests"
	;;
esac
[ "$failed" = 0 ]
