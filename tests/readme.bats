#!/usr/bin/env bats
# The README's walkthrough, typed as a student types it (issue 22, items
# 11, 12, 14, 15). Each test reads its step's commands from README.md
# (scripts/readme-steps ID: the ```sh lines under "#### ID:", each sent to
# the terminal its "# terminal N" marker names) and types them, in order,
# into terminals of its own: the windows of a tmux inside a private
# network (scripts/private tmux, as the README says for a normal user), so
# the walkthrough's own ports are free. The test only adds what the student
# adds by hand: Enter, Ctrl-C, a line typed into a running program, a PID
# read off the screen. So an edit of the README is what gets tested: a
# command typed into a terminal that is still busy, a capture started after
# what it should see, a server that cannot bind, or a process left behind
# fails the test.
#
# Typed as in `scripts/private tmux`, where the README says no sudo is
# needed: a leading `sudo ` is left out.

load helper

setup() {
	R=$BATS_TEST_TMPDIR
	SOCK=$R/tmux.sock
	TERMS_PID=
	declare -gA PROMPTS_AT=() # each terminal's prompts when its last command was typed
}

teardown() {
	terms_stop
	kit_teardown
}

# --- the terminals ---------------------------------------------------

t() { tmux -S "$SOCK" "$@"; }

# The shell of terminal N: bash with a plain prompt, in an environment of
# its own (no rc files, no history, no locale), at the top of the kit.
# Each prompt adds a line to $R/tN.prompts: the test knows when a command
# has returned.
pane_cmd() {
	printf 'env -i PATH=%q HOME=%q SHELL=/bin/bash LC_ALL=C TERM=dumb KIT_PRIVATE=1 HISTFILE= PS1=%q PROMPT_COMMAND=%q bash --norc --noprofile -i' \
		"$PATH" "$R" '$ ' "echo >>$R/t$1.prompts"
}

# terms_start: a tmux server of the test's own inside a private network
# (scripts/private), with terminal 1. Its pid goes to start_bg's list, so
# teardown kills it (and whatever runs in its terminals) by PID.
terms_start() {
	command -v tmux >/dev/null || skip_needs "tmux" "sudo apt-get install tmux, then make test TESTS=$(test_file)"
	need_capture
	(cd "$KIT_ROOT" && TMUX='' scripts/private tmux -S "$SOCK" -f /dev/null \
		new-session -d -s readme -x 220 -y 50 -n t1 "$(pane_cmd 1)") ||
		skip_needs "a private network with tmux inside (scripts/private tmux)" "tests/run $(test_file)"
	t set-option -g history-limit 20000 >/dev/null
	TERMS_PID=$(t display-message -p '#{pid}')
	KIT_PIDS+=("$TERMS_PID")
	wait_until 5 term_ready 1
}

# terms_stop: every process in the terminals' network, found by its
# network namespace (a process the README left behind may have lost its
# parent), and in the namespaces made in there (netlab's host and peer),
# killed by PID; then the tmux server.
terms_stop() {
	[ -n "$TERMS_PID" ] || return 0
	local pid inner
	# shellcheck disable=SC2016 # for the inner sh
	inner=$(in_private sh -c 'for n in $(ip netns list | cut -d" " -f1); do ip netns pids "$n"; done' 2>/dev/null) || true
	for pid in $(private_pids) $inner; do
		[ "$pid" = "$TERMS_PID" ] || kill -KILL "$pid" 2>/dev/null || true
	done
	t kill-server 2>/dev/null || true
}

# terms_new: stop the terminals and open new ones, in a new private
# network: for a part of a step that begins where the README says to wait
# until ss shows nothing (T7's part 2 after 60 s of TIME_WAIT).
terms_new() {
	terms_stop
	rm -f "$R"/t*.prompts
	SOCK=$R/tmux.$RANDOM.sock TERMS_PID='' PROMPTS_AT=()
	terms_start
}

# private_pids: the processes in the terminals' private network.
private_pids() {
	local ns p
	ns=$(readlink "/proc/$TERMS_PID/ns/net") || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
	done
	return 0
}

# left_behind: the commands still running in the terminals' network, other
# than the tmux server and the terminals' own shells.
left_behind() {
	local shells pid
	shells=" $TERMS_PID $(t list-panes -a -F '#{pane_pid}' | tr '\n' ' ') "
	for pid in $(private_pids); do
		[[ $shells == *" $pid "* ]] && continue
		ps -o pid=,args= -p "$pid" 2>/dev/null || true
	done
}

# only_left [REGEX]: nothing is left running but what REGEX matches.
only_left() {
	local left
	left=$(left_behind | grep -vE -- "${1:-^$}") || true
	[ -z "$left" ] || {
		echo "left running:" >&2
		echo "$left" >&2
		return 1
	}
}

# term N: terminal N, opened when first used.
term() {
	local n=$1
	t list-windows -F '#W' | grep -qx "t$n" && return 0
	t new-window -d -n "t$n" -c "$KIT_ROOT" "$(pane_cmd "$n")"
	wait_until 5 term_ready "$n"
}
# term_ready N: terminal N showed its prompt since its last command was
# typed (an Enter the program did not read gives one more: no matter).
prompts() { grep -c '' "$R/t$1.prompts" 2>/dev/null || true; }
term_ready() { [ "$(prompts "$1")" -gt "${PROMPTS_AT[$1]:-0}" ]; }
# out N: all terminal N printed (and what was typed there), lines joined.
out() { t capture-pane -p -J -S - -E - -t "readme:t$1"; }
out_has() { out "$1" | grep -qE -- "$2"; } # out_has N REGEX
# wait_out SECONDS N REGEX
wait_out() {
	wait_until "$1" out_has "$2" "$3" || {
		echo "terminal $2 did not show /$3/ within $1 s; it shows:" >&2
		out "$2" >&2
		return 1
	}
}
# wait_ready SECONDS N: the command in terminal N returned.
wait_ready() {
	wait_until "$1" term_ready "$2" || {
		echo "terminal $2 did not return to its prompt within $1 s; it shows:" >&2
		out "$2" >&2
		return 1
	}
}
# keys N KEY...: press keys in terminal N (Enter, C-c).
keys() { t send-keys -t "readme:t$1" "${@:2}"; }
# answer N TEXT: type a line into the program running in terminal N.
answer() {
	t send-keys -t "readme:t$1" -l -- "$2"
	keys "$1" Enter
}
# in_private CMD...: run CMD inside the terminals' network; its output.
# (tmux runs it with sh: no tabs or newlines in CMD, which %q would
# quote the way only bash reads.)
in_private() {
	t run-shell "cd $(printf %q "$KIT_ROOT") && $(printf '%q ' "$@") >$(printf %q "$R/private.out") 2>&1"
	cat "$R/private.out"
}

# --- the README's steps ----------------------------------------------

# step ID [BLOCK]: read step ID's commands (only its BLOCKth sh block if
# given) into LINES and TERMS; next_cmd and instruction take them in order.
step() {
	local -a rows
	mapfile -t rows < <("$KIT_ROOT/scripts/readme-steps" -t ${2:+-b "$2"} "$1")
	[ "${#rows[@]}" -gt 0 ] || {
		echo "README: no commands for step $1" >&2
		return 1
	}
	STEP=$1 LINES=() TERMS=() NEXT=0 CAPTURE_T=
	local row
	for row in "${rows[@]}"; do
		TERMS+=("${row%%$'\t'*}")
		LINES+=("${row#*$'\t'}")
	done
}

# next_cmd [WORD=VALUE...]: type the step's next line, a command, into
# its terminal (WORD replaced by VALUE: PID=1234), once that terminal is
# back at its prompt: the README must not type into a busy terminal.
# Sets CMD_T (the terminal).
next_cmd() {
	local line n sub
	[ "$NEXT" -lt "${#LINES[@]}" ] || {
		echo "README $STEP: no more commands (${#LINES[@]} lines)" >&2
		return 1
	}
	line=${LINES[$NEXT]} n=${TERMS[$NEXT]}
	NEXT=$((NEXT + 1))
	[[ $line =~ ^[[:space:]]*# ]] && {
		echo "README $STEP: expected a command, found an instruction: $line" >&2
		return 1
	}
	line=${line#sudo }
	for sub in "$@"; do line=${line//${sub%%=*}/${sub#*=}}; done
	term "$n"
	wait_until 10 term_ready "$n" || {
		echo "README $STEP: terminal $n is still busy when the README types into it: $line" >&2
		out "$n" >&2
		return 1
	}
	PROMPTS_AT[$n]=$(prompts "$n")
	t send-keys -t "readme:t$n" -l -- "$line"
	keys "$n" Enter
	CMD_T=$n
	# a capture: wait, as the student does, until it says it listens
	if [[ $line == *scripts/capture* ]]; then
		CAPTURE_T=$n
		wait_out 5 "$n" 'listening on'
	fi
}

# type_rest: type the step's remaining lines, each once its terminal is
# free, giving each command half a second to finish.
type_rest() {
	while [ "$NEXT" -lt "${#LINES[@]}" ]; do
		next_cmd
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			term_ready "$CMD_T" && break
			sleep 0.05
		done
	done
}

# instruction REGEX: the step's next line is an instruction (a comment
# line) that says REGEX; the test then does what it says.
instruction() {
	local line=${LINES[$NEXT]:-}
	NEXT=$((NEXT + 1))
	[[ $line =~ ^[[:space:]]*#.*$1 ]] || {
		echo "README $STEP: expected an instruction saying /$1/, found: ${line:-the end of the step}" >&2
		return 1
	}
}

# out_count N REGEX: how many lines of terminal N match REGEX.
out_count() { out "$1" | grep -cE -- "$2"; }
# wait_count SECONDS N REGEX COUNT: until COUNT lines of terminal N match.
count_ge() { [ "$(out_count "$1" "$2")" -ge "$3" ]; }
wait_count() {
	wait_until "$1" count_ge "$2" "$3" "$4" || {
		echo "terminal $2 did not show /$3/ $4 times within $1 s; it shows:" >&2
		out "$2" >&2
		return 1
	}
}

# again K: type the step's Kth line (1: the first) once more, into its
# terminal, as an instruction says ("the same server again").
again() {
	local next=$NEXT
	NEXT=$(($1 - 1))
	next_cmd
	NEXT=$next
}

# enters N COUNT: press Enter COUNT times in terminal N (step mode's
# pauses; the terminal keeps each line until the program reads it).
enters() {
	local i
	for ((i = 0; i < $2; i++)); do
		keys "$1" Enter
		sleep 0.05
	done
}

# enter_until SECONDS N REGEX: press Enter in terminal N, once every
# 0.1 s, until it shows REGEX (step mode: Enter at each pause).
enter_until() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		out_has "$2" "$3" && return 0
		keys "$2" Enter
		sleep 0.1
	done
	echo "terminal $2 did not show /$3/ within $1 s of Enters; it shows:" >&2
	out "$2" >&2
	return 1
}

# step_done: every line of the step was typed or done.
step_done() {
	[ "$NEXT" -ge "${#LINES[@]}" ] || {
		echo "README $STEP: lines not typed: ${LINES[*]:$NEXT}" >&2
		return 1
	}
}

# leave_time_wait: what a step with -r leaves on port 12333 for the next:
# the server's end of its last connection in TIME_WAIT (T3's and every
# later step's last client). The client closes 0.3 s after the reply
# (-w, then Enter), so the server surely closed first.
leave_time_wait() {
	# shellcheck disable=SC2016 # for the inner sh
	in_private sh -c './tcpserver1 -r -q >/dev/null 2>&1 & s=$!; for i in $(seq 100); do ss -Htln "( sport = :12333 )" | grep -q . && break; sleep 0.05; done; (sleep 0.3; echo) | ./tcpclient -w -t 5 -m x >/dev/null 2>&1; kill $s; wait'
	wait_until 3 private_time_wait
}
private_time_wait() { in_private ss -Htan '( sport = :12333 )' | grep -q '^TIME-WAIT '; }

# --- the tests -------------------------------------------------------

# Every step's capture is typed before the commands whose packets it should
# show: no client command above it that sends to its port (its PORT
# argument, or the step's protocol's default). Read from the README alone,
# so it needs no network, and it covers the steps no other test types.
@test "README: in every step the capture command comes before what it should see (item 11)" {
	local id line cap port bad='' clients
	clients='\./(tcp|udp)client|/dev/(tcp|udp)/|telnet |nc '
	while IFS= read -r id; do
		cap='' port=''
		while IFS= read -r line; do
			if [[ $line =~ scripts/capture.*[[:space:]](tcp|udp)([[:space:]]+([0-9]+))? ]] && [ -z "$cap" ]; then
				cap=$line port=${BASH_REMATCH[3]}
			fi
		done < <("$KIT_ROOT/scripts/readme-steps" "$id")
		[ -n "$cap" ] || continue
		while IFS= read -r line; do
			[ "$line" = "$cap" ] && break
			[[ $line =~ ^[[:space:]]*# ]] && continue
			[[ $line =~ $clients ]] || continue
			[ -z "$port" ] || [[ $line == *"$port"* ]] || continue
			bad+="$id: '$line' comes before its capture '$cap'"$'\n'
		done < <("$KIT_ROOT/scripts/readme-steps" "$id")
	done < <(grep -oE '^#### [UTN][0-9]+(-[UTN][0-9]+)?:' "$KIT_ROOT/README.md" | sed 's/^#### //; s/:$//')
	[ -z "$bad" ] || {
		printf '%s' "$bad" >&2
		return 1
	}
}

@test "README T9, T10: typed in order, the capture is started before client 4 and shows its SYN sent again (item 11)" {
	terms_start
	step T9
	next_cmd
	wait_out 5 1 'LISTEN on'
	next_cmd
	wait_out 5 2 'connected:'
	next_cmd
	wait_out 5 3 'send\(fd 3\)'
	next_cmd
	wait_ready 5 4
	out_has 4 '^LISTEN +1 +1 '
	next_cmd
	wait_ready 10 4
	step_done

	step T10 1
	type_rest
	[ -n "$CAPTURE_T" ]
	out_has 4 'no SYN-ACK within 3 s'
	keys "$CAPTURE_T" C-c
	wait_ready 5 "$CAPTURE_T"
	# the ladder: client 4's SYN, and the same SYN again a second later
	[ "$(out "$CAPTURE_T" | grep -cE '[-]+ SYN -+>')" -ge 2 ]
	out_has "$CAPTURE_T" 'retransmission'
}

@test "README U7-U11 without root: typed in the terminals of scripts/private tmux, the capture in host sees every step's datagrams (item 14)" {
	terms_start
	local dgram='192\.0\.2\.1\.[0-9]+ > 192\.0\.2\.1\.12122: .*UDP, length 5'
	step U7
	next_cmd # netlab up
	wait_ready 10 1
	out_has 1 'netlab: up'
	next_cmd # the capture, in host
	[ "$CMD_T" = 3 ]
	next_cmd # the server on *
	wait_out 5 1 'serving'
	next_cmd # the client, to en0's address
	wait_ready 5 2
	out_has 2 'recvfrom\(fd 3\) = 5 bytes from 192\.0\.2\.1:12122'
	wait_count 5 3 "$dgram" 1
	instruction 'macOS'
	step_done

	# each step's server in terminal 1, once the last one is stopped
	step U8
	keys 1 C-c
	next_cmd
	wait_count 5 1 'serving' 2
	next_cmd
	wait_ready 5 2
	[ "$(out_count 2 'recvfrom\(fd 3\) = 5 bytes from 192\.0\.2\.1:12122')" -eq 2 ]
	wait_count 5 3 "$dgram" 2
	step_done

	step U9
	keys 1 C-c
	next_cmd
	wait_count 5 1 'serving' 3
	next_cmd # to localhost: lost, the client waits
	wait_out 5 3 '127\.0\.0\.1 udp port 12122 unreachable'
	keys 2 C-c
	wait_ready 5 2
	step_done

	step U10
	keys 1 C-c
	next_cmd
	wait_count 5 1 'serving' 4
	next_cmd
	wait_ready 5 2
	out_has 1 'recvfrom\(fd 3\) = 5 bytes from 192\.0\.2\.1:22222'
	wait_out 5 3 '192\.0\.2\.1\.22222 > 192\.0\.2\.1\.12122: .*UDP'
	step_done

	step U11
	keys 1 C-c
	next_cmd
	wait_count 5 1 'serving' 5
	next_cmd
	wait_ready 5 2
	out_has 1 'recvfrom\(fd 3\) = 5 bytes from 127\.0\.0\.1:22222'
	wait_out 5 3 '127\.0\.0\.1\.22222 > 192\.0\.2\.1\.12122: .*UDP'
	step_done
	keys 3 C-c
	wait_ready 5 3
}

# burst_lines: what N2's burst printed in terminal 3, between the
# command and the next prompt.
burst_lines() { out 3 | sed -n '/^\$ (s=/,/^\$ *$/p' | sed '1d;$d'; }
burst_connected() { [ "$(burst_lines | grep -c connected)" -ge "$1" ]; } # burst_connected N

@test "README N2 by hand: the server starts after the last step's TIME_WAIT (-r); the burst prints a line per client with its connect time, and leaves nothing behind (items 12, 15)" {
	terms_start
	leave_time_wait
	step N2
	next_cmd # the server
	wait_out 5 1 'LISTEN on'
	next_cmd # client 1, which keeps it busy
	wait_out 5 2 'connected:'
	next_cmd # nstat
	wait_ready 5 4
	instruction 'terminal 3: the burst'
	next_cmd
	[ "$CMD_T" = 3 ]
	# the queue is full (backlog + 1, or a little more: N2's text says why)
	wait_until 5 burst_connected 6
	next_cmd # ss
	wait_ready 5 4
	out_has 4 '^LISTEN +[0-9]+ +5 '
	instruction 'type a line in terminal 2'
	answer 2 first
	wait_ready 20 3
	next_cmd # nstat again
	wait_ready 5 4
	instruction 'again with \./tcpserver1 -r -l 1024; then \./tcpserver1 -r -l 65535'
	next_cmd # somaxconn
	wait_ready 5 4
	step_done

	# one line per client, with its connect time, and nothing else
	[ "$(burst_lines | grep -cE '^client ([1-9]|1[0-9]|20) connected after [0-9]+ ms$')" -eq 20 ]
	[ "$(burst_lines | grep -c '')" -eq 20 ]
	# the queue's clients at once, the others at their SYN's retry, 1 s
	# later (measured from the first to connect: under load the 20 start
	# late, not later than each other)
	burst_lines | awk '{ print $5 }' | sort -n | awk 'NR == 1 { first = $1 } { ms[NR] = $1 } END {
		fast = 0; for (i = 1; i <= NR; i++) if (ms[i] < first + 500) fast++
		if (fast < 6 || ms[NR] - first < 900) { print "connect times (ms): " ms[1] " ... " ms[NR] ", " fast " at once" > "/dev/stderr"; exit 1 }
	}'
	# nothing left but the student's server and client 1 (at its prompt)
	only_left '\./tcpserver1 -r -l 5$|\./tcpclient$'
}

@test "README N3 by hand: the server starts after the last step's TIME_WAIT (-r); the capture shows port 12333 as 30 2d (item 12)" {
	terms_start
	leave_time_wait
	step N3
	next_cmd # the server
	wait_out 5 1 'LISTEN on'
	next_cmd # the capture, 3 packets
	next_cmd # the client, in step mode
	enter_until 5 3 'byte order: port 12333 = 0x302d: the sockaddr holds 30 2d'
	enter_until 5 3 '^tcpclient: connected: fd 3'
	wait_ready 5 2
	out_has 2 '0x0020: .* 302d '
	enter_until 5 3 '^tcpclient: close\(fd 3\)'
	wait_ready 5 3
	instruction 'macOS'
	step_done
}

@test "README N5 by hand: the server starts after the last step's TIME_WAIT (-r); what send() took waits in Recv-Q, then in Send-Q (item 12)" {
	terms_start
	leave_time_wait
	step N5
	next_cmd # the server, step mode
	wait_out 5 1 'step: next: socket'
	enters 1 5
	next_cmd # the client
	wait_out 5 1 'step: next: recv\(fd 4\)'
	wait_out 5 2 'send\(fd 3\) = 6 bytes'
	next_cmd # ss
	wait_ready 5 3
	out_has 3 '^ESTAB +6 +0 +127\.0\.0\.1:12333 '
	instruction 'terminal 1: Ctrl-C .*the same server again, Enter 5 times'
	keys 1 C-c
	wait_ready 5 1
	wait_ready 5 2
	again 1
	wait_out 5 1 'step: next: socket'
	enters 1 5
	next_cmd # 100 MB
	wait_out 5 2 'EAGAIN'
	next_cmd # ss, while the client waits
	wait_ready 5 3
	out_has 3 '^ESTAB +0 +[1-9][0-9]* +127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:12333'
	wait_ready 6 2
	out_has 2 'no room within 3 s'
	keys 1 C-c
	wait_ready 5 1
	step_done
	only_left
}

@test "README N6 by hand: each part ends by itself and leaves nothing behind, and shows the stream's and the datagrams' boundaries (items 12, 15)" {
	terms_start
	leave_time_wait
	step N6
	next_cmd # tcpserver1 -r -S
	wait_out 5 1 'step: next: socket'
	enters 1 5
	next_cmd # two sends, then cat
	wait_out 5 1 'step: next: recv\(fd 4\)'
	next_cmd # ss
	wait_ready 5 3
	out_has 3 '^ESTAB +8 +0 +127\.0\.0\.1:12333 '
	instruction 'Enter 3 times in terminal 1 .*Ctrl-C'
	enters 1 3
	wait_ready 5 2
	out_has 1 'recv\(fd 4\) = 8 bytes .*"one\\ntwo\\n"'
	keys 1 C-c
	wait_ready 5 1

	next_cmd # multi -r
	wait_out 5 1 'LISTEN on'
	next_cmd # 1000000 bytes there and back
	wait_ready 10 2
	out_has 2 '^1000000 bytes'
	wait_out 5 1 'exited with status 0'
	# nothing left of it: no process but multi, no connection
	only_left '\./multi -r$'
	[ -z "$(in_private ss -Htan state established)" ]
	instruction 'terminal 1: Ctrl-C'
	keys 1 C-c
	wait_ready 5 1

	next_cmd # udpserver -S
	wait_out 5 1 'step: next: socket'
	enters 1 2
	wait_out 5 1 'step: next: recvfrom'
	next_cmd # two datagrams
	wait_ready 5 2
	next_cmd # ss
	wait_ready 5 3
	out_has 3 '^UNCONN +[1-9][0-9]* +0 +0\.0\.0\.0:12122 '
	instruction 'Enter in terminal 1 at each pause .*Ctrl-C'
	enter_until 5 1 'recvfrom\(fd 3\) = 4 bytes .*"two\\n"'
	keys 1 C-c
	wait_ready 5 1

	next_cmd # udpserver -n 10
	wait_out 5 1 'bind\(fd 3, \*:12122\) ok'
	next_cmd # a datagram of 20 bytes, then one of 5
	wait_ready 5 2
	out_has 1 'recvfrom\(fd 3\) = 10 bytes .*"0123456789"'
	out_has 1 '"short"'
	keys 1 C-c
	wait_ready 5 1
	step_done
	only_left
}

@test "README N7 by hand: the server starts after the last step's TIME_WAIT (-r); ps shows it asleep, and it uses no CPU (item 12)" {
	terms_start
	leave_time_wait
	step N7
	next_cmd # the server
	wait_out 5 1 'LISTEN on'
	local pid
	pid=$(out 1 | sed -n 's/^tcpserver1: pid \([0-9]*\) .*/\1/p' | head -1)
	[ -n "$pid" ]
	next_cmd PID="$pid"
	[ "$CMD_T" = 3 ]
	wait_ready 5 3
	out_has 3 "^ *$pid S"
	next_cmd # a client, connected
	wait_out 5 2 'connected:'
	next_cmd PID="$pid"
	wait_ready 5 3
	[ "$(out 3 | grep -cE "^ *$pid S")" -eq 2 ]
	next_cmd PID="$pid"
	wait_ready 5 3
	# schedstat's first field (ns on a CPU) did not move in that second
	[ "$(out 3 | grep -E '^[0-9]+ [0-9]+ [0-9]+$' | tail -2 | cut -d' ' -f1 | uniq | grep -c '')" -eq 1 ]
	instruction 'the same with \./tcpserver3 -r, and with \./multi -r'
	step_done
}
