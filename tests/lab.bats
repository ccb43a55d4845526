#!/usr/bin/env bats
# scripts/lab: one tmux window per experiment, commands typed but not run.
# Every test uses a tmux server of its own (-L), so a user's tmux is never
# seen or touched.
# shellcheck disable=SC2154 # $stderr is set by run --separate-stderr
load helper
bats_require_minimum_version 1.5.0

LAB="$KIT_ROOT/scripts/lab"
MACOS_PATH="$KIT_ROOT/tests/stubs/macos:$PATH"

setup() {
	SOCK="kitlab$$r$RANDOM"
	# Run from inside someone's tmux, lab would try to switch that client.
	unset TMUX TMUX_PANE
}

teardown() {
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	local s
	for s in "$BATS_TEST_TMPDIR"/tmux/tmux-*/*; do
		if [ -S "$s" ]; then tmux -S "$s" kill-server 2>/dev/null || true; fi
	done
	# tmux leaves its socket file behind.
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
	kit_teardown
}

need_tmux() { command -v tmux >/dev/null || skip_needs tmux "sudo apt-get install tmux, then make test TESTS=$(test_file)"; }
t() { tmux -L "${LAB_SOCK:-$SOCK}" "$@"; } # LAB_SOCK: a socket lab chose

# pane SESSION tl|tr|bl|br: the id of the pane in that corner.
pane() {
	t list-panes -t "$1" -F '#{pane_left} #{pane_top} #{pane_id}' | awk -v want="$2" '
		{ left[NR] = $1; top[NR] = $2; id[NR] = $3; if (NR == 1 || $2 < min) min = $2 }
		END { for (i = 1; i <= NR; i++)
			if (((top[i] == min) ? "t" : "b") ((left[i] == 0) ? "l" : "r") == want) print id[i] }'
}
screen() { t capture-pane -p -J -t "$1"; }
# The line the cursor is on: the prompt and what was typed after it.
typed() { screen "$1" | grep . | tail -1; }
# The pane's shell has no child: nothing was started in it.
idle() { [ -z "$(pgrep -P "$(t display-message -p -t "$1" '#{pane_pid}')")" ]; }

@test "lab -d tcp: four panes, each with its command typed but not run" {
	need_tmux
	run --separate-stderr "$LAB" -d -L "$SOCK" tcp
	[ "$status" -eq 0 ]
	[ "$output" = lab-tcp ]
	[ "$(t list-panes -t lab-tcp | wc -l)" -eq 4 ]
	srv=$(pane lab-tcp tl) cli=$(pane lab-tcp tr) cap=$(pane lab-tcp bl) kst=$(pane lab-tcp br)
	[[ "$(typed "$srv")" == *" ./tcpserver1" ]]
	# Once: keys typed before the shell's prompt would show twice.
	[ "$(screen "$srv" | grep -o './tcpserver1' | wc -l)" -eq 1 ]
	[[ "$(typed "$cli")" == *" ./tcpclient -w" ]]
	[[ "$(typed "$cap")" =~ (^|[ ])scripts/capture\ -i\ lo\ tcp\ 12333$ ]]
	[[ "$(typed "$kst")" == *" scripts/kstate -w 12333" ]]
	# Typed, not run: for a second nothing starts, and no program output.
	for _ in $(seq 10); do
		for p in "$srv" "$cli" "$cap" "$kst"; do idle "$p"; done
		sleep 0.1
	done
	[ "$(t display-message -p -t "$srv" '#{pane_current_command}')" != tcpserver1 ]
	[[ "$(screen "$srv")" != *"tcpserver1: "* ]]
	[[ "$(screen "$cli")" != *"tcpclient: "* ]]
	# Every pane starts at the top of the kit; the server pane is the active one.
	for p in "$srv" "$cli" "$cap" "$kst"; do
		[ "$(t display-message -p -t "$p" '#{pane_current_path}')" = "$KIT_ROOT" ]
	done
	[ "$(t display-message -p -t "$srv" '#{pane_active}')" = 1 ]
	[ "$(t display-message -p -t "$srv" '#{pane_title}')" = server ]
	[[ "$(t display-message -p -t "$cap" '#{pane_title}')" == capture* ]]
}

@test "every experiment creates its session with its own commands" {
	need_tmux
	declare -A server=(
		[udp]="./udpserver" [udp-bind]="./udpserver -a 127.0.0.2" [tcp]="./tcpserver1"
		[refused]="./tcpserver1" [backlog]="./tcpserver1 -l 1" [reuse]="./tcpserver1"
		[select]="./tcpserver3" [fork]="./multi" [ipv6]="./tcpserver2"
		[en0]="scripts/netlab run host ./udpserver -a 192.0.2.1")
	declare -A client=(
		[udp]="./udpclient -m hello -w" [udp-bind]="127.0.0.1" [tcp]="./tcpclient -w"
		[refused]="./tcpclient -m hello" [backlog]="; wait)" [reuse]="./tcpclient -w"
		[select]="./tcpclient" [fork]="./tcpclient" [ipv6]="./tcpclient ::1"
		[en0]="scripts/netlab run host ./udpclient -t 3 -m hello 127.0.0.1")
	# A plain sh in the panes: a heavy ~/.bashrc would make this slow.
	for exp in "${!server[@]}"; do
		SHELL=/bin/sh run --separate-stderr "$LAB" -d -L "$SOCK" "$exp"
		[ "$status" -eq 0 ] || {
			echo "lab $exp: exit $status: $stderr" >&2
			return 1
		}
		[ "$output" = "lab-$exp" ]
		[ "$(t list-panes -t "lab-$exp" | wc -l)" -eq 4 ]
		[[ "$(typed "$(pane "lab-$exp" tl)")" == *" ${server[$exp]}" ]] || {
			echo "lab $exp: server pane: $(typed "$(pane "lab-$exp" tl)")" >&2
			return 1
		}
		[[ "$(typed "$(pane "lab-$exp" tr)")" == *"${client[$exp]}" ]]
		[[ "$(typed "$(pane "lab-$exp" bl)")" == *"scripts/capture "* ]]
		[[ "$(typed "$(pane "lab-$exp" br)")" == *"scripts/kstate -w "* ]]
	done
	[ "$(t list-sessions | wc -l)" -eq 10 ]
}

@test "udp watches port 12122; backlog starts three clients; en0 says to run netlab up first" {
	need_tmux
	SHELL=/bin/sh "$LAB" -d -L "$SOCK" udp >/dev/null 2>&1
	[[ "$(typed "$(pane lab-udp bl)")" == *"scripts/capture -i lo udp 12122" ]]
	[[ "$(typed "$(pane lab-udp br)")" == *"scripts/kstate -w 12122" ]]
	SHELL=/bin/sh "$LAB" -d -L "$SOCK" backlog >/dev/null 2>&1
	[[ "$(typed "$(pane lab-backlog tr)")" == *"for i in 1 2 3; do "*"./tcpclient"* ]]
	SHELL=/bin/sh "$LAB" -d -L "$SOCK" en0 >/dev/null 2>&1
	[[ "$(screen "$(pane lab-en0 tl)")" == *"scripts/netlab up"* ]]
	[[ "$(typed "$(pane lab-en0 bl)")" == *"scripts/netlab run host scripts/capture "*"udp 12122" ]]
}

@test "a normal user where user namespaces are refused: the capture command starts with sudo" {
	need_tmux
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho 1000\n' >"$BATS_TEST_TMPDIR/bin/id"
	printf '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/bin/unshare"
	chmod +x "$BATS_TEST_TMPDIR/bin/id" "$BATS_TEST_TMPDIR/bin/unshare"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" SHELL=/bin/sh run env -u KIT_PRIVATE "$LAB" -d -L "$SOCK" tcp
	[ "$status" -eq 0 ]
	[[ "$(typed "$(pane lab-tcp bl)")" == *" sudo scripts/capture -i lo tcp 12333" ]]
	[[ "$(screen "$(pane lab-tcp bl)")" == *"scripts/userns-check says why"* ]]
	[[ "$(typed "$(pane lab-tcp br)")" != *sudo* ]]
}

@test "a normal user: the four panes share a private network of their own; capture needs no sudo there" {
	need_tmux
	[ "$(id -u)" != 0 ] || skip_needs "a normal user (root needs no private network)" "make test TESTS=$(test_file) as a normal user"
	"$KIT_ROOT/scripts/userns-check" >/dev/null || skip_needs "user namespaces ($("$KIT_ROOT/scripts/userns-check" | tail -1))" "make test TESTS=$(test_file) where scripts/userns-check says yes"
	SHELL=/bin/sh run env -u KIT_PRIVATE "$LAB" -d -L "$SOCK" tcp
	[ "$status" -eq 0 ]
	local p ours nets
	ours=$(readlink /proc/self/ns/net)
	nets=$(for p in $(t list-panes -t lab-tcp -F '#{pane_pid}'); do readlink "/proc/$p/ns/net"; done | sort -u)
	[ "$(grep -c . <<<"$nets")" -eq 1 ]
	[ "$nets" != "$ours" ]
	[[ "$(typed "$(pane lab-tcp bl)")" == *" scripts/capture -i lo tcp 12333" ]]
	[[ "$(typed "$(pane lab-tcp bl)")" != *sudo* ]]
	[[ "$(screen "$(pane lab-tcp bl)")" == *"No sudo: these panes share a private network"* ]]
}

# stand_in_tmux: the user's own tmux server, on a socket directory of the
# test's (so the user's real one is never touched), outside any private
# network, as a tmux started in a terminal is.
stand_in_tmux() {
	export TMUX_TMPDIR=$BATS_TEST_TMPDIR/tmux
	mkdir -m 700 "$TMUX_TMPDIR"
	tmux new-session -d -s mine sleep 600
}
normal_user_with_userns() {
	[ "$(id -u)" != 0 ] || skip_needs "a normal user (root needs no private network)" "make test TESTS=$(test_file) as a normal user"
	"$KIT_ROOT/scripts/userns-check" >/dev/null || skip_needs "user namespaces ($("$KIT_ROOT/scripts/userns-check" | tail -1))" "make test TESTS=$(test_file) where scripts/userns-check says yes"
}

@test "a normal user whose own tmux server runs already: lab starts a server of its own (tmux -L kit-lab) in a private network; no sudo" {
	need_tmux
	normal_user_with_userns
	stand_in_tmux
	SHELL=/bin/sh run --separate-stderr env -u KIT_PRIVATE "$LAB" -d tcp
	[ "$status" -eq 0 ]
	[ "$output" = lab-tcp ]
	[[ $stderr == *"tmux -L kit-lab attach -t lab-tcp"* ]]
	# the user's server is untouched; lab's runs in a network of its own
	[ "$(tmux list-sessions -F '#{session_name}')" = mine ]
	LAB_SOCK=kit-lab
	local p nets
	nets=$(for p in $(t list-panes -t lab-tcp -F '#{pane_pid}'); do readlink "/proc/$p/ns/net"; done | sort -u)
	[ "$(grep -c . <<<"$nets")" -eq 1 ]
	[ "$nets" != "$(readlink /proc/self/ns/net)" ]
	[[ "$(typed "$(pane lab-tcp bl)")" == *" scripts/capture -i lo tcp 12333" ]]
	[[ "$(typed "$(pane lab-tcp bl)")" != *sudo* ]]
	# a second experiment joins the same private server
	SHELL=/bin/sh run --separate-stderr env -u KIT_PRIVATE "$LAB" -d udp
	[ "$status" -eq 0 ]
	[[ "$(typed "$(pane lab-udp bl)")" != *sudo* ]]
}

@test "a normal user naming a socket whose tmux server runs outside a private network: one line with the real reason and the fix, no session" {
	need_tmux
	normal_user_with_userns
	t new-session -d -s mine sleep 600
	SHELL=/bin/sh run --separate-stderr env -u KIT_PRIVATE "$LAB" -d -L "$SOCK" tcp
	[ "$status" -eq 1 ]
	one_stderr_line "^lab: the tmux server on socket $SOCK runs outside a private network, so its capture pane could not run without root: give lab a socket of its own \\(lab -L kit-lab tcp\\)$"
	[ "$(t list-sessions -F '#{session_name}')" = mine ]
}

@test "-s names the session; an existing session is reported, not built twice" {
	need_tmux
	SHELL=/bin/sh run --separate-stderr "$LAB" -d -L "$SOCK" -s mine select
	[ "$status" -eq 0 ]
	[ "$output" = mine ]
	SHELL=/bin/sh run --separate-stderr "$LAB" -d -L "$SOCK" -s mine select
	[ "$status" -eq 0 ]
	[ "$output" = mine ]
	[[ "$stderr" == *"exists already"* ]]
	[ "$(t list-panes -t mine | wc -l)" -eq 4 ]
	[ "$(t list-sessions | wc -l)" -eq 1 ]
}

@test "without -d: prints the tmux keys, then attaches" {
	need_tmux
	command -v script >/dev/null || skip_needs "script (util-linux) for a terminal" "sudo apt-get install bsdutils, then make test TESTS=$(test_file)"
	# script gives lab the terminal that tmux attach needs, of a kind tmux
	# can draw on whatever TERM the caller has.
	TERM=xterm SHELL=/bin/sh start_bg attach script -qfec "$LAB -L $SOCK fork" /dev/null
	# shellcheck disable=SC2016 # expanded by eval, at each try
	wait_until 20 eval '[ -n "$(t list-clients -t lab-fork 2>/dev/null)" ]'
	# the keys, printed before tmux took the terminal (as script relays them)
	wait_until 5 file_has "$BATS_TEST_TMPDIR/attach.out" "kill-session -t lab-fork"
	t detach-client -s lab-fork
	# shellcheck disable=SC2016
	wait_until 5 eval '! alive "$LAST_PID"'
	out=$(cat "$BATS_TEST_TMPDIR/attach.out")
	[[ "$out" == *"Ctrl-b then an arrow key"* ]] && [[ "$out" == *"Ctrl-b d detaches"* ]] &&
		[[ "$out" == *"kill-session -t lab-fork"* ]] || {
		echo "what script relayed:" >&2
		head -c 600 "$BATS_TEST_TMPDIR/attach.out" | od -c | head -20 >&2
		return 1
	}
	# Detaching leaves the session for later.
	[ "$(t list-panes -t lab-fork | wc -l)" -eq 4 ]
}

@test "usage errors exit 2 with one line on stderr and start no tmux" {
	need_tmux
	usage_errors "^lab: " "$LAB" -d -L "$SOCK" -- "" "moon" "-x tcp" "-L" "-d -s a:b tcp" \
		"tcp udp" "-s" "U3" "T15"
	run ! t list-sessions
}

@test "a walkthrough step's id opens the experiment that shows it; -l lists the ids" {
	need_tmux
	SHELL=/bin/sh run --separate-stderr "$LAB" -d -L "$SOCK" T9
	[ "$status" -eq 0 ]
	[ "$output" = lab-backlog ]
	[[ "$(typed "$(pane lab-backlog tl)")" == *" ./tcpserver1 -l 1" ]]
	SHELL=/bin/sh run --separate-stderr "$LAB" -d -L "$SOCK" t5
	[ "$status" -eq 0 ]
	[ "$output" = lab-tcp ]
	run "$LAB" -l
	[ "$status" -eq 0 ]
	grep -qE '^T9 T10 T11 +backlog +tcpserver1 -l 1 ' <<<"$output"
	grep -qE '^U1 U2 U5 +udp +UDP client' <<<"$output"
	# every id listed is a step of the walkthrough, listed once
	ids=$(grep -oE '^([UT][0-9]+ )+' <<<"$output" | tr ' ' '\n' | grep .)
	[ "$(wc -l <<<"$ids")" -eq "$(sort -u <<<"$ids" | wc -l)" ]
	not grep -vxE 'U([1-9]|1[01])|T([1-9]|1[0-4])' <<<"$ids"
	# a step that no experiment shows: the tour runs it
	run --separate-stderr "$LAB" -d -L "$SOCK" U3
	[ "$status" -eq 2 ]
	one_stderr_line 'no experiment here shows step U3.*scripts/tour U3 runs it'
}

@test "-l lists every experiment; -h prints the usage" {
	run "$LAB" -l
	[ "$status" -eq 0 ]
	for exp in udp udp-bind tcp refused backlog reuse select fork ipv6 en0; do
		[[ "$output" == *"$exp "* ]]
	done
	[ "${#lines[@]}" -ge 10 ]
	run "$LAB" -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: lab "* ]]
	[[ "$output" == *"Ctrl-b d"* ]]
}

@test "tmux missing: says how to install it" {
	mkdir "$BATS_TEST_TMPDIR/bin"
	for tool in bash dirname uname id; do
		ln -s "$(command -v "$tool")" "$BATS_TEST_TMPDIR/bin/$tool"
	done
	# env, so that only lab runs with that PATH, not bats' own helpers.
	run --separate-stderr /usr/bin/env PATH="$BATS_TEST_TMPDIR/bin" "$LAB" -d tcp
	[ "$status" -eq 1 ]
	one_stderr_line "needs tmux.*apt-get install tmux.*brew install tmux"
}

@test "programs not built: says run make first" {
	need_tmux
	mkdir -p "$BATS_TEST_TMPDIR/kit/scripts"
	cp "$LAB" "$BATS_TEST_TMPDIR/kit/scripts/lab"
	run --separate-stderr "$BATS_TEST_TMPDIR/kit/scripts/lab" -d -L "$SOCK" tcp
	[ "$status" -eq 1 ]
	one_stderr_line "run make first"
	run ! t has-session -t lab-tcp
}

@test "macOS: the capture pane watches lo0; en0 uses the real en0, no netlab" {
	need_tmux
	PATH="$MACOS_PATH" SHELL=/bin/sh run "$LAB" -d -L "$SOCK" tcp
	[ "$status" -eq 0 ]
	[[ "$(typed "$(pane lab-tcp bl)")" == *"scripts/capture -i lo0 tcp 12333" ]]
	PATH="$MACOS_PATH" SHELL=/bin/sh run "$LAB" -d -L "$SOCK" en0
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2016 # typed as it is, for the student's shell
	[[ "$(typed "$(pane lab-en0 tl)")" == *' ./udpserver -a "$(ipconfig getifaddr en0)"' ]]
	[[ "$(screen "$(pane lab-en0 tl)")" != *netlab* ]]
	[[ "$(typed "$(pane lab-en0 bl)")" == *"scripts/capture -i lo0 udp 12122" ]]
}
