#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output and $status come from bats' run
# scripts/check against the broken servers of tests/fixtures/servers (see
# its README): each must fail exactly the check it was written for, and
# pass or skip every other one. In make test each fixture meets its own
# check (about 30 s in all); with KIT_FULL=1 (.ci/run) every check runs
# against every fixture and all but its own must pass or skip (about 110 s).

load helper
bats_require_minimum_version 1.5.0

# KIT_CHECK=PATH: another scripts/check (one being written elsewhere)
CHECK=${KIT_CHECK:-$KIT_ROOT/scripts/check}
SERVERS=$KIT_ROOT/tests/fixtures/servers

setup_file() {
	make -s -C "$KIT_ROOT" fixtures >&2
}

# fails_only FIXTURE CHECK [CHECKS]: scripts/check against FIXTURE, with
# CHECKS (default: CHECK alone), or with KIT_FULL=1 all its checks: CHECK
# fails, every other check passes or skips (its TAP output is shown
# when the test fails). The whole run's deadline is 170 s (-T; 60 by
# default) for a busy machine, and timeout stops a checker that hangs.
# The fixture starts through a shell that writes down its PID and execs
# it (the PID stays), so that teardown can stop a server that a checker
# stopped by timeout had no time to stop.
# shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
fails_only() {
	local checks=${3:-$2} least=1
	[ -z "${KIT_FULL:-}" ] || checks=all least=13
	run --separate-stderr timeout -k 10 200 "$CHECK" -T 170 -f tap -k "$checks" \
		bash -c 'echo $$ >>"$0" && exec "$@"' "$BATS_TEST_TMPDIR/pids" "$SERVERS/$1" '{port}'
	printf '%s\n' "$output" "$stderr" "(exit status $status)"
	[ "$status" -eq 1 ]
	# every check reported, once
	[ "$(grep -cE '^(not )?ok [0-9]+ - ' <<<"$output")" -eq "$(sed -n 's/^1\.\.//p' <<<"$output")" ]
	[ "$(grep -cE '^(not )?ok [0-9]+ - ' <<<"$output")" -ge "$least" ]
	local failed
	failed=$(sed -nE 's/^not ok [0-9]+ - ([a-z-]+) .*/\1/p' <<<"$output" | paste -sd, -)
	[ "$failed" = "$2" ] || {
		echo "$1: failed: '$failed', expected '$2' only" >&2
		return 1
	}
}

# Any fixture still running (a PID the wrapper wrote that still runs one
# of them) goes with the test's own processes: TERM, then KILL.
teardown() {
	local pid
	while read -r pid; do
		[[ "$(ps -o args= -p "$pid" 2>/dev/null)" == "$SERVERS/"* ]] && KIT_PIDS+=("$pid")
	done < <(cat "$BATS_TEST_TMPDIR/pids" 2>/dev/null)
	kit_teardown
}

@test "first-recv (echoes only its first recv()): fails echo (KIT_FULL=1: echo only)" {
	fails_only first-recv echo
}

@test "iterative (one client at a time): fails concurrent (KIT_FULL=1: concurrent only)" {
	fails_only iterative concurrent concurrent,many,slow-reader
	# and says why many and slow-reader were not tried
	grep -qE '^ok [0-9]+ - many # SKIP serves one client at a time' <<<"$output"
	grep -qE '^ok [0-9]+ - slow-reader # SKIP serves one client at a time' <<<"$output"
}

@test "fdsetsize (select() past FD_SETSIZE: abort): fails many (KIT_FULL=1: many only)" {
	fails_only fdsetsize many
	grep -qE '^not ok [0-9]+ - many .*SIGABRT' <<<"$output"
}

@test "reset-exit (exits when a first recv() fails): fails reset (KIT_FULL=1: reset only)" {
	fails_only reset-exit reset
}

@test "spin (keeps a socket that ended mid-line: 100% CPU): fails vanish (KIT_FULL=1: vanish only)" {
	fails_only spin vanish
}

@test "half-close (drops the unterminated rest at EOF): fails half-close (KIT_FULL=1: half-close only)" {
	fails_only half-close half-close
}

@test "slow-reader (blocking send()): fails slow-reader (KIT_FULL=1: slow-reader only)" {
	fails_only slow-reader slow-reader
}

@test "long-line (exits on a line over 64 KiB): fails junk (KIT_FULL=1: junk only)" {
	fails_only long-line junk
}

@test "sigpipe (SIGPIPE not ignored): fails sigpipe (KIT_FULL=1: sigpipe only)" {
	fails_only sigpipe sigpipe
	grep -qE '^not ok [0-9]+ - sigpipe .*SIGPIPE' <<<"$output"
}

@test "fd-leak (no close() when recv()/send() fails): fails fds (KIT_FULL=1: fds only)" {
	fails_only fd-leak fds
}

@test "zombies (never waits for its children): fails children (KIT_FULL=1: children only)" {
	fails_only zombies children
}

@test "no-reuseaddr (no SO_REUSEADDR): fails restart (KIT_FULL=1: restart only)" {
	fails_only no-reuseaddr restart
}
