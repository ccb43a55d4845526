#!/usr/bin/env bats
# scripts/private and scripts/userns-check: a private network with no sudo
# (an unprivileged user namespace), and, where the kernel forbids one, why
# and what to do. The refusals are played by stand-ins: a failing unshare,
# and the kernel's settings read from a /proc of the test's own (KIT_PROC).

# shellcheck disable=SC2154 # bats' run sets stderr and stderr_lines
load helper
bats_require_minimum_version 1.5.0

CHECK="$KIT_ROOT/scripts/userns-check"
PRIVATE="$KIT_ROOT/scripts/private"

# The tmux servers a test started on its own socket directory, by socket.
teardown() {
	local s
	for s in "$BATS_TEST_TMPDIR"/tmux/tmux-*/*; do
		if [ -S "$s" ]; then tmux -S "$s" kill-server 2>/dev/null || true; fi
	done
	kit_teardown
}

# refused SETTING=VALUE...: a PATH whose unshare fails as a refused one
# does, and a /proc whose sys/ holds those settings; runs userns-check.
refused() {
	local bin="$BATS_TEST_TMPDIR/bin" proc="$BATS_TEST_TMPDIR/proc" kv
	mkdir -p "$bin" "$proc/sys/kernel" "$proc/sys/user"
	printf '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n' >"$bin/unshare"
	chmod +x "$bin/unshare"
	echo "Linux version 6.18.0 (gcc)" >"$proc/version"
	for kv; do
		if [ "${kv%%=*}" = version ]; then
			echo "${kv#*=}" >"$proc/version"
		else
			echo "${kv#*=}" >"$proc/sys/${kv%%=*}"
		fi
	done
	PATH="$bin:$PATH" KIT_PROC="$proc" run --separate-stderr "$CHECK"
}

@test "userns-check: where unshare works, says yes (exit 0)" {
	command -v unshare >/dev/null || skip_needs "unshare (util-linux)" "sudo apt-get install util-linux, then make test TESTS=$(test_file)"
	unshare --user --map-root-user --net --mount true 2>/dev/null ||
		skip_needs "user namespaces ($("$CHECK" | tail -1))" "make test TESTS=$(test_file) on a machine that allows them"
	run "$CHECK"
	[ "$status" -eq 0 ]
	[[ "$output" == "yes: "* ]]
}

@test "userns-check: kernel.unprivileged_userns_clone=0 (Debian's switch) is named, with the sysctl that allows it" {
	refused kernel/unprivileged_userns_clone=0
	[ "$status" -eq 1 ]
	[[ "$output" == "no: "*"kernel.unprivileged_userns_clone=0"*"sudo sysctl kernel.unprivileged_userns_clone=1"* ]]
}

@test "userns-check: Ubuntu's AppArmor restriction is named, with the sysctl" {
	refused kernel/apparmor_restrict_unprivileged_userns=1
	[ "$status" -eq 1 ]
	[[ "$output" == "no: AppArmor restricts user namespaces (Ubuntu 23.10 and later"*"sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"* ]]
}

@test "userns-check: user.max_user_namespaces=0 is named, with the sysctl" {
	refused user/max_user_namespaces=0
	[ "$status" -eq 1 ]
	[[ "$output" == "no: "*"user.max_user_namespaces=0"*"sudo sysctl user.max_user_namespaces="* ]]
}

@test "userns-check: WSL 1 is named, with the way to WSL 2" {
	refused "version=Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)"
	[ "$status" -eq 1 ]
	[[ "$output" == "no: this is WSL 1"*"wsl --set-version"* ]]
}

@test "userns-check: any other refusal gives unshare's own reason" {
	refused
	[ "$status" -eq 1 ]
	[[ "$output" == "no: unshare --user --map-root-user --net failed: unshare: unshare failed: Operation not permitted"* ]]
}

@test "userns-check on macOS: no namespaces there; sudo and the README's macOS commands" {
	PATH="$KIT_ROOT/tests/stubs/macos:$PATH" run "$CHECK"
	[ "$status" -eq 1 ]
	[[ "$output" == "no: macOS has no network namespaces"*"sudo"* ]]
}

@test "private: refused, it says why in one line and runs nothing (exit 1)" {
	[ "$(id -u)" != 0 ] || skip_needs "a normal user (root needs no user namespace)" "make test TESTS=$(test_file) as a normal user"
	local bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	printf '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n' >"$bin/unshare"
	chmod +x "$bin/unshare"
	PATH="$bin:$PATH" run --separate-stderr "$PRIVATE" touch "$BATS_TEST_TMPDIR/ran"
	[ "$status" -eq 1 ]
	one_stderr_line "^private: no private network for a normal user here: no: "
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "private: only lo, and up; our own uid; a port below 1024 still needs root" {
	command -v unshare >/dev/null && "$CHECK" >/dev/null || skip_needs "user namespaces ($("$CHECK" | tail -1))" "sudo make test TESTS=$(test_file)"
	# shellcheck disable=SC2016 # for the inner bash
	run "$PRIVATE" bash -c 'ip -br link; id -u; echo "private=$KIT_PRIVATE"'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^lo\ +(UNKNOWN|UP)\  ]]
	[ "${lines[1]}" = "$(id -u)" ]
	[ "${lines[2]}" = private=1 ]
	[ "${#lines[@]}" -eq 3 ]
	if [ "$(id -u)" != 0 ]; then
		run "$PRIVATE" "$BIN/tcpserver1" -p 80
		[ "$status" -eq 1 ]
		[[ "$output" == *"Permission denied (EACCES) (ports below 1024 need root)"* ]]
	fi
}

@test "private: tcpdump captures there, as whoever runs the test" {
	command -v tcpdump >/dev/null || skip_needs tcpdump "sudo apt-get install tcpdump, then make test TESTS=$(test_file)"
	"$CHECK" >/dev/null || skip_needs "user namespaces ($("$CHECK" | tail -1))" "sudo make test TESTS=$(test_file)"
	# shellcheck disable=SC2016 # for the inner bash
	# capture two packets, the datagram and the ICMP answer; every wait
	# with a deadline (5 s), and the capture killed if it overstays
	run "$PRIVATE" bash -c '
		"$1/scripts/capture" -c 2 udp >"$0" 2>&1 & cap=$!
		for i in $(seq 100); do grep -q "listening on" "$0" && break; sleep 0.05; done
		"$2/udpclient" -t 1 -m hello 127.0.0.1 >/dev/null 2>&1
		for i in $(seq 100); do kill -0 $cap 2>/dev/null || break; sleep 0.05; done
		kill $cap 2>/dev/null
		cat "$0"' "$BATS_TEST_TMPDIR/cap.out" "$KIT_ROOT" "$BIN"
	[[ "$output" == *"127.0.0.1.12122: "*"UDP, length 5"* ]]
	[[ "$output" == *"ICMP 127.0.0.1 udp port 12122 unreachable"* ]]
}

@test "private tmux, with a tmux server of the user's already running: its own server, inside the private network, and a line that says so" {
	command -v tmux >/dev/null || skip_needs tmux "sudo apt-get install tmux, then make test TESTS=$(test_file)"
	[ "$(id -u)" = 0 ] || "$CHECK" >/dev/null || skip_needs "user namespaces ($("$CHECK" | tail -1))" "sudo make test TESTS=$(test_file)"
	# the user's tmux server: a stand-in on a socket directory of the test's
	export TMUX_TMPDIR=$BATS_TEST_TMPDIR/tmux
	mkdir -m 700 "$TMUX_TMPDIR"
	unset TMUX TMUX_PANE
	tmux new-session -d -s mine sleep 600
	run --separate-stderr "$PRIVATE" tmux new-session -d -s inner sleep 600
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "private: a tmux server of yours runs outside this network: this tmux gets a server of its own inside it (tmux -L kit-private-"*")" ]]
	local sock=${stderr##*tmux -L }
	sock=${sock%)}
	# the user's server did not get the session; the private one runs in
	# a network other than ours
	[ "$(tmux list-sessions -F '#{session_name}')" = mine ]
	[ "$(tmux -L "$sock" list-sessions -F '#{session_name}')" = inner ]
	local pid
	pid=$(tmux -L "$sock" list-sessions -F '#{pid}')
	[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
	tmux -L "$sock" kill-server
	# no server of the user's: tmux as typed, no line
	tmux kill-server
	run --separate-stderr "$PRIVATE" tmux new-session -d -s inner sleep 600
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	pid=$(tmux list-sessions -F '#{pid}')
	[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}
