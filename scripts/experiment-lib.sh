# shellcheck shell=bash
# The framework of the walkthrough's experiments (scripts/experiments.sh
# defines the 34 steps with it): where an experiment runs, how it shows
# what it does, how it waits for the kernel and checks what it sees, the
# programs, step mode, packet captures. Not a script of its own: sourced by
# scripts/experiments.sh, which scripts/tour and tests/observations.bats
# source.
#
# A step is declared with its id, title and lecture text, and its function:
#   exp_def T9 "TITLE" "LECTURE"
#   exp_T9() { ... }
# EXP_IDS lists the ids in the order they were declared; exp_title ID and
# exp_lecture ID give the texts; exp_run ID runs the step.
#
# Each experiment prints, in order: the commands it runs, as a student would
# type them ("$ ./udpclient -m hello 127.0.0.1 12122"), the evidence (the
# ss/lsof/netstat lines under their "$ command" line, the ladder of a
# capture), and one verdict line:
#   SEEN: <the observation, with the values measured>         return 0
#   NOT SEEN: <what was expected>, with what was found above   return 1
#   SKIPPED: <why, and what it would show>                     return 2
# An experiment checks the observation itself (states in ss, fds in lsof,
# packets in the capture, timings), not merely that a command ran.
#
# Where: wherever `ip netns` works (as root, or as a normal user inside
# scripts/private, where scripts/tour goes by itself), every experiment runs
# in a network namespace of its own, made for it and deleted after it: the
# walkthrough's own ports (12122, 12333, 22222) are free there, and a
# capture sees only our packets. Otherwise on this machine's loopback, with
# free ports and no capture. An experiment may move to scripts/netlab's host
# node instead (exp_netlab_up).
#
# Linux only (ss, nstat, /proc). KIT_WORK must name a directory: experiment
# ID keeps its programs' output and captures in KIT_WORK/ID.

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- the steps -----------------------------------------------------------------

EXP_IDS=''
declare -gA EXP_TITLE=() EXP_LECTURE=()

# exp_def ID TITLE LECTURE: declare step ID (its function is exp_ID): its
# one-line title, and what the instructor says before it (tour -l).
exp_def() {
	[ -n "${EXP_TITLE[$1]+set}" ] || EXP_IDS+="${EXP_IDS:+ }$1"
	EXP_TITLE[$1]=$2
	EXP_LECTURE[$1]=$3
}
# exp_title ID, exp_lecture ID: print the text; fail for an unknown ID.
exp_title() { [ -n "${1:-}" ] && [ -n "${EXP_TITLE[$1]+set}" ] && echo "${EXP_TITLE[$1]}"; }
exp_lecture() { [ -n "${1:-}" ] && [ -n "${EXP_LECTURE[$1]+set}" ] && echo "${EXP_LECTURE[$1]}"; }

# --- where an experiment runs ----------------------------------------------

EXP_ID='' EXP_NS='' EXP_NETLAB='' EXP_SHOW='' EXP_NOTE=''
EXP_MISSED=()
UP=12122 TP=12333 BP=22222 # the UDP server's, the TCP server's, a client's port

exp_isolated() { [ -n "${KIT_NS:-}" ]; }
# Capturing needs root, or the capabilities scripts/private gives a normal user.
exp_can_capture() { command -v tcpdump >/dev/null && { [ "$(id -u)" = 0 ] || [ "${KIT_PRIVATE:-}" = 1 ]; }; }
# How a student types what needs privileges here: with sudo as root; as
# is inside scripts/private (netlab and capture need no sudo there).
exp_sudo() { if [ "$(id -u)" = 0 ]; then echo "sudo "; fi; }

# Three different free ports: on this machine's loopback, never the
# walkthrough's own, which a student's servers may be using.
exp_free_ports() {
	UP=$(free_port) || return 1
	TP=$UP
	while [ "$TP" = "$UP" ]; do TP=$(free_port) || return 1; done
	BP=$UP
	while [ "$BP" = "$UP" ] || [ "$BP" = "$TP" ]; do BP=$(free_port) || return 1; done
}

# exp_net_new: a fresh place to run: a new namespace (the previous one of
# this experiment deleted first), or new ports on this machine.
exp_net_new() {
	stop_all
	if [ -n "$EXP_NS" ]; then
		ns_delete "$EXP_NS"
		KIT_NS=''
	fi
	if can_netns; then
		EXP_NS="tour-$$-$EXP_ID-$RANDOM"
		ns_create "$EXP_NS" || return 1
		UP=12122 TP=12333 BP=22222
	else
		EXP_NS=''
		exp_free_ports
	fi
}

# exp_netlab_up: the host node of scripts/netlab (lo, en0 192.0.2.1) and a
# peer across en0; the experiment's programs then run in the host, not in
# the namespace exp_run made for it (deleted).
exp_netlab_up() {
	stop_all
	[ -z "$EXP_NS" ] || ns_delete "$EXP_NS"
	EXP_NS='' KIT_NS=''
	EXP_NETLAB="tour-$$"
	NETLAB_NAME=$EXP_NETLAB "$KIT_ROOT/scripts/netlab" up >"$KIT_WORK/netlab.out" 2>&1 || {
		cat "$KIT_WORK/netlab.out"
		return 1
	}
	printf '$ %sscripts/netlab up\n' "$(exp_sudo)"
	KIT_NS="$EXP_NETLAB-host" EXP_SHOW="$(exp_sudo)scripts/netlab run host "
	UP=12122 TP=12333 BP=22222
}

# exp_cleanup: stop every program and remove what the experiment made; for
# traps and bats' teardown too, so it never fails.
exp_cleanup() {
	stop_all
	if [ -n "$EXP_NETLAB" ]; then
		NETLAB_NAME=$EXP_NETLAB "$KIT_ROOT/scripts/netlab" down >/dev/null 2>&1 || true
	fi
	[ -z "$EXP_NS" ] || ns_delete "$EXP_NS"
	EXP_NS='' EXP_NETLAB='' EXP_SHOW='' KIT_NS=''
	return 0
}

# exp_run ID: run one experiment in a place of its own, then clean up.
# Its files go to $KIT_WORK/ID. Returns the experiment's status.
exp_run() {
	local id=$1 rc=0 work=${KIT_WORK:-}
	[ -d "$work" ] || {
		echo "exp_run: KIT_WORK must name a directory for the programs' output" >&2
		return 2
	}
	exp_title "$id" >/dev/null || {
		echo "no experiment $id (one of: $EXP_IDS)" >&2
		return 2
	}
	EXP_ID=$id EXP_MISSED=() EXP_READ=() EXP_NOTE='' EXP_NS='' EXP_NETLAB='' EXP_SHOW='' KIT_NS=''
	WANT_KIND=() WANT_WHAT=() WANT_RE=() WANT_N=() EXP_FED=() EXP_STEPPING=() EXP_PRESSED=()
	KIT_WORK=$work/$id
	rm -rf "$KIT_WORK"
	mkdir -p "$KIT_WORK"
	exp_net_new || { echo "NOT SEEN: could not set up a place to run"; rc=1; }
	# Standard input is not theirs: the programs' stdin is a FIFO or nothing.
	[ "$rc" -ne 0 ] || "exp_$id" </dev/null || rc=$?
	exp_cleanup
	KIT_WORK=$work
	return "$rc"
}

# --- showing what we do ----------------------------------------------------

# Words as one would type them, quoting only those that need it.
quote() {
	local out='' word
	for word; do
		if [[ $word =~ [^A-Za-z0-9_./:=@%+,-] ]]; then
			out+=" '$word'"
		else
			out+=" $word"
		fi
	done
	printf '%s' "${out# }"
}
cmd_line() { printf '$ %s\n' "$(quote "$@")"; }  # a command as typed here
run_line() { printf '$ %s%s\n' "$EXP_SHOW" "$(quote "$@")"; } # ... where programs run
say() { printf '# %s\n' "$*"; } # narration

# ev CMD...: run CMD where the programs run, show it and its output; the
# output is also in $EV for the checks. lsof too runs in the namespace: it
# finds a socket's addresses in /proc/net, which is per namespace (from
# outside it shows "sock ... protocol: UDP" even for a bound socket).
ev() {
	run_line "$@"
	EV=$(in_ns "$@" 2>&1)
	[ -z "$EV" ] || printf '%s\n' "$EV"
}
# ev_sh 'PIPELINE': the same for a shell pipeline.
ev_sh() {
	printf '$ %s%s\n' "$EXP_SHOW" "$1"
	EV=$(in_ns bash -c "$1" 2>&1)
	[ -z "$EV" ] || printf '%s\n' "$EV"
}
ev_has() { grep -qE -- "$1" <<<"$EV"; }
ev_count() { [ "$(grep -cE -- "$1" <<<"$EV")" -eq "$2" ]; } # ev_count REGEX N

# --- waiting for the kernel ------------------------------------------------
# The kernel takes moments: a FIN is ACKed some 40 ms later (delayed ACK), a
# connection joins the accept queue when the handshake's last ACK has been
# processed, a counter goes up once a packet has been handled. So a check of
# kernel state never reads once and asserts: it says what it wants to see,
#   want WHAT REGEX         a line of the evidence matches REGEX
#   want_no WHAT REGEX      no line matches
#   want_n WHAT REGEX N     exactly N lines match
# then ev_soon CMD... (or ev_sh_soon 'PIPELINE') runs CMD again every 50 ms
# until all of it is there, or EXP_WAIT seconds have passed, shows CMD and
# its last output as ev does, and every want not met joins the verdict.
# (Where a state must merely have lasted, the first look succeeds.)

EXP_WAIT=5
WANT_KIND=() WANT_WHAT=() WANT_RE=() WANT_N=()
want() { WANT_KIND+=(has) WANT_WHAT+=("$1") WANT_RE+=("$2") WANT_N+=(0); }
want_no() { WANT_KIND+=(no) WANT_WHAT+=("$1") WANT_RE+=("$2") WANT_N+=(0); }
want_n() { WANT_KIND+=(count) WANT_WHAT+=("$1") WANT_RE+=("$2") WANT_N+=("$3"); }
# want_met I: want I holds for $EV
want_met() {
	case ${WANT_KIND[$1]} in
	has) ev_has "${WANT_RE[$1]}" ;;
	no) ! ev_has "${WANT_RE[$1]}" ;;
	count) ev_count "${WANT_RE[$1]}" "${WANT_N[$1]}" ;;
	esac
}
wants_met() {
	local i
	for i in "${!WANT_KIND[@]}"; do want_met "$i" || return 1; done
}
# wants_done: the wants not met join the verdict; then there are none.
wants_done() {
	local i rc=0
	for i in "${!WANT_KIND[@]}"; do
		want_met "$i" || {
			EXP_MISSED+=("${WANT_WHAT[$i]}")
			rc=1
		}
	done
	WANT_KIND=() WANT_WHAT=() WANT_RE=() WANT_N=()
	return "$rc"
}
# ev_poll SHOWN CMD...: run CMD (where the programs run) until the wants are
# met or EXP_WAIT s have passed; show "$ SHOWN" and the last output.
ev_poll() {
	local shown=$1 deadline
	shift
	deadline=$(($(now_ms) + EXP_WAIT * 1000))
	while EV=$(in_ns "$@" 2>&1); ! wants_met && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	printf '$ %s%s\n' "$EXP_SHOW" "$shown"
	[ -z "$EV" ] || printf '%s\n' "$EV"
	wants_done
}
ev_soon() { ev_poll "$(quote "$@")" "$@"; }
ev_sh_soon() { ev_poll "$1" bash -c "$1"; }

# wait_every MS SECS CMD...: wait_until, looking every MS ms (quietly).
wait_every() {
	local step=$1 deadline
	deadline=$(($(now_ms) + $2 * 1000))
	shift 2
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep "$(printf '0.%03d' "$step")"
	done
}

# counter_above NAME N: the kernel counter NAME is above N
counter_above() { [ "$(counter "$1")" -gt "$2" ]; }

# out_lines NAME REGEX: the new lines of program NAME's output (or of the
# file NAME, if it has a /) that match REGEX: those after the last line an
# earlier out_lines looked at.
declare -gA EXP_READ=()
out_file() { if [[ $1 == */* ]]; then echo "$1"; else echo "$KIT_WORK/$1.out"; fi; }
out_lines() {
	local f n
	f=$(out_file "$1")
	n=$(wc -l <"$f" 2>/dev/null) || return 0
	tail -n "+$((${EXP_READ[$f]:-0} + 1))" "$f" | head -n "$((n - ${EXP_READ[$f]:-0}))" | grep -E -- "$2" || true
	EXP_READ[$f]=$n
}
# out_value NAME SED-REGEX: the first \1 of a line of NAME's output.
out_value() { sed -nE "s/$2/\\1/p" "$(out_file "$1")" 2>/dev/null | head -1; }

# --- checking --------------------------------------------------------------

# expect WHAT CMD...: CMD must succeed; if not, WHAT joins the verdict.
expect() {
	local what=$1
	shift
	"$@" && return 0
	EXP_MISSED+=("$what")
	return 1
}
# expect_soon WHAT SECONDS CMD...: CMD must succeed within SECONDS.
expect_soon() {
	local what=$1 secs=$2
	shift 2
	wait_until "$secs" "$@" 2>/dev/null && return 0
	EXP_MISSED+=("$what")
	return 1
}
# verdict TEXT: SEEN: TEXT if every expectation held, else NOT SEEN.
verdict() {
	if [ ${#EXP_MISSED[@]} -eq 0 ]; then
		colour 32 "SEEN: $1${EXP_NOTE:+ ($EXP_NOTE)}"
		return 0
	fi
	local all='' m
	for m in "${EXP_MISSED[@]}"; do all+="${all:+; }$m"; done
	colour 31 "NOT SEEN: expected $all (what was found is above)"
	return 1
}
# colour CODE TEXT: TEXT in that colour if EXP_COLOR is set (a terminal).
colour() {
	if [ -n "${EXP_COLOR:-}" ]; then printf '\033[%sm%s\033[0m\n' "$1" "$2"; else printf '%s\n' "$2"; fi
}
# give_up WHAT: the experiment cannot go on.
give_up() {
	EXP_MISSED+=("$1")
	verdict ""
}
skipped() {
	colour 33 "SKIPPED: $*"
	return 2
}

# --- programs ----------------------------------------------------------------

# port_arg PROG PORT: PA=(-p PORT), or PA=() when PORT is PROG's default.
port_arg() {
	local def=12333
	[ "$1" = udpserver ] && def=12122
	PA=()
	[ "$2" = "$def" ] || PA=(-p "$2")
}

# srv PROG PORT [ARGS...]: show and start a server, wait until it is bound
# (UDP) or LISTEN (TCP). -p is shown only when PORT is not the default.
srv() {
	local prog=$1 port=$2
	shift 2
	port_arg "$prog" "$port"
	run_line "./$prog" "${PA[@]}" "$@"
	start_server "$prog" "$port" "$@" 2>/dev/null
}

# start_prog NAME PROG [ARGS...]: show and start a program in the background
# (stdin from the FIFO if `with_input NAME` made one); LAST_PID is its pid.
start_prog() {
	local name=$1 prog=$2
	shift 2
	run_line "./$prog" "$@"
	start_bg "$name" "$BIN/$prog" "$@"
}

# start_stepping NAME PROG [ARGS...]: start_prog in step mode (-S), its
# pauses answered by `press 5 CALL` (Enter on fd 5). Sets LAST_PID.
start_stepping() {
	local name=$1 prog=$2
	shift 2
	with_input "$name"
	start_prog "$name" "$prog" -S "$@"
	feed "$name" 5
	EXP_STEPPING[5]=$name
}

# run_prog NAME SECONDS PROG [ARGS...]: show and run a program, wait at most
# SECONDS for it to end. Sets FG_RC (124: still running) and FG_MS, the
# milliseconds it ran.
# shellcheck disable=SC2034 # FG_RC and FG_MS are for the steps
run_prog() {
	local name=$1 secs=$2 t0 pid
	shift 2
	t0=$(now_ms)
	start_prog "$name" "$@"
	pid=$LAST_PID
	if wait_until "$secs" gone "$pid" 2>/dev/null; then
		FG_RC=0
		wait "$pid" 2>/dev/null || FG_RC=$?
	else
		FG_RC=124
	fi
	FG_MS=$(($(now_ms) - t0))
}

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }
secs() { printf '%d.%02d' $(($1 / 1000)) $((($1 % 1000) / 10)); } # 1234 -> 1.23
no_children() { [ -z "$(pgrep -P "$1")" ]; } # no_children PID: none left, not even <defunct>

# feed NAME FD: after `with_input NAME` and starting NAME, hold its stdin
# open on FD (4-9): `press FD CALL` sends it an Enter, `echo LINE >&FD` a line.
declare -gA EXP_FED=() EXP_STEPPING=() EXP_PRESSED=()
feed() {
	feed_open "$1" "$2"
	EXP_FED[$2]=$1
}

# Step mode: the program NAME pauses before each socket call and reads one
# line; its stdin is a FIFO we hold open on fd FD.
pauses() { grep -c 'step: press Enter to run it' "$KIT_WORK/$1.out" 2>/dev/null || true; }
paused() { [ "$(pauses "$1")" -ge "$2" ]; }
at_pause() { wait_until 5 paused "$1" "$2" 2>/dev/null; } # at_pause NAME K
# pause_call NAME K: the call NAME's pause K is before ("sendto(fd 3, ...)")
pause_call() { sed -n 's/.*step: next: //p' "$KIT_WORK/$1.out" 2>/dev/null | sed -n "$2p"; }
# paused_at NAME K CALL: NAME is at its pause K, before CALL()
paused_at() { paused "$1" "$2" && [[ "$(pause_call "$1" "$2")" == "$3("* ]]; }

# press FD CALL: Enter to the program on FD, which waits before CALL() (or,
# after -w, before close()); says so. A program in step mode is first
# waited for until it pauses before CALL: its next pause must be that one.
press() {
	local fd=$1 call=$2 name=${EXP_FED[$1]:-?} k
	if [ -n "${EXP_STEPPING[$fd]:-}" ]; then
		k=$((${EXP_PRESSED[$fd]:-0} + 1))
		EXP_PRESSED[$fd]=$k
		wait_every 10 5 paused_at "$name" "$k" "$call" ||
			EXP_MISSED+=("$name to pause before $call() (its pause $k: $(pause_call "$name" "$k"))")
	fi
	say "Enter to $name: releases $call()"
	echo >&"$fd"
}

# A kernel counter (nstat, where the programs run); nstat -s keeps no history file.
counter() { in_ns nstat -saz "$1" 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }

# The kernel's choice of client ports.
port_range() { in_ns cat /proc/sys/net/ipv4/ip_local_port_range; }
in_range() {
	local lo hi
	read -r lo hi < <(port_range)
	[ -n "$1" ] && [ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ]
}

# --- packet captures -----------------------------------------------------------

CAP_PID='' CAP_FILE='' CAP_NAME=''

# cap_start NAME udp|tcp PORT [COUNT]: start scripts/capture (where the
# programs run) saving to NAME.txt, and wait until tcpdump listens. Without
# root or tcpdump, say so and return 1.
cap_start() {
	local name=$1 proto=$2 port=$3 count=${4:-} args=() shown pcap=()
	CAP_PID='' CAP_NAME=$name CAP_FILE="$KIT_WORK/$name.txt"
	if ! exp_can_capture; then
		EXP_NOTE="packets not captured: that needs tcpdump, and root or scripts/private"
		return 1
	fi
	[ -z "$count" ] || args+=(-c "$count")
	# EXP_PCAP=1 (the tour's page): a pcap too, NAME.pcap, for Wireshark
	[ "${EXP_PCAP:-}" != 1 ] || pcap=(-w "$name.pcap")
	shown=(scripts/capture "${args[@]}" "${pcap[@]}" -o "$name.txt" "$proto")
	[ ${#pcap[@]} -eq 0 ] || pcap[1]=$KIT_WORK/$name.pcap
	args+=("${pcap[@]}" -o "$CAP_FILE" "$proto" "$port")
	case $proto:$port in udp:12122 | tcp:12333) ;; *) shown+=("$port") ;; esac
	if [ -n "$EXP_SHOW" ]; then run_line "${shown[@]}"; else printf '$ %s%s\n' "$(exp_sudo)" "$(quote "${shown[@]}")"; fi
	start_bg "cap-$name" "$KIT_ROOT/scripts/capture" "${args[@]}"
	CAP_PID=$LAST_PID
	wait_until 5 file_has "$KIT_WORK/cap-$name.out" 'listening on' 2>/dev/null ||
		EXP_MISSED+=("tcpdump to start capturing: $(tail -1 "$KIT_WORK/cap-$name.out")")
}

# cap_end: wait (5 s at most) for a capture with COUNT to end (or stop one
# without), then draw its ladder. CAP lists its packets, one a line, as
# "SRC > DST: WHAT" (tcpdump's words), for the checks.
cap_end() {
	[ -n "$CAP_PID" ] || return 1
	wait_until 5 gone "$CAP_PID" 2>/dev/null || {
		kill_tree "$CAP_PID"
		wait_until 2 gone "$CAP_PID" 2>/dev/null
	}
	cmd_line scripts/ladder "$CAP_NAME.txt"
	"$KIT_ROOT/scripts/ladder" "$CAP_FILE" 2>&1
	CAP=$(cap_packets "$CAP_FILE")
}
# The "SRC > DST: ..." line of every packet (not the ones ICMP quotes).
cap_packets() {
	awk '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\./ { want = 1; next }
		want && /^    [^ ]/ { sub(/^ +/, ""); print; want = 0 }' "$1" 2>/dev/null
}
cap_count() { grep -c . <<<"$CAP" || true; }
# cap_is K REGEX: packet K matches REGEX
cap_is() { sed -n "$1p" <<<"$CAP" | grep -qE -- "$2"; }
# The seconds between packets 1 and 2, in ms.
cap_gap_ms() {
	awk '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\./ {
		split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
		if (++n == 1) first = s; else { printf "%d\n", (s - first) * 1000; exit } }' "$CAP_FILE"
}
