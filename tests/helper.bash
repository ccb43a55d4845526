# shellcheck shell=bash
# Shared by every tests/*.bats file: `load helper` at the top. The
# primitives (start_bg, start_server, with_input/feed_open, wait_until,
# free_port, tcp_state, not, ...) are in scripts/lib.sh, shared with the
# tour; this file adds what belongs to bats. Every process a test starts
# through start_bg/start_server is killed by PID in teardown, also when the
# test fails. Binaries come from $KIT_BIN (default: the top of the kit), so
# the same tests run against sanitizer, clang and musl builds.

KIT_ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
# shellcheck disable=SC2034 # used by scripts/lib.sh
KIT_WORK=$BATS_TEST_TMPDIR
# shellcheck source=scripts/lib.sh
source "$KIT_ROOT/scripts/lib.sh"

# Print something for the failure report (bats shows it only on failure).
note() { printf '# %s\n' "$*" >&3; }

# prog NAME ARGS...: run one of the kit's programs with the fds bats keeps
# open (3, 4) closed, so its first socket is fd 3, as a student sees it.
prog() { "$BIN/$1" "${@:2}" 3>&- 4>&-; }

# need_capture: skip unless this test can capture packets in a private
# network namespace (root, ip netns, tcpdump). private_ns: make one for this
# test and set KIT_NS, so that start_bg, start_server and kss (ss) run
# inside it; teardown deletes it. In there the walkthrough's own ports are
# free and a capture sees only the test's packets.
need_capture() {
	need_netns
	command -v tcpdump >/dev/null ||
		skip_needs "tcpdump" "sudo apt-get install tcpdump, then make test TESTS=$(test_file)"
}
private_ns() {
	need_netns
	ns_create "kit$$-$BATS_TEST_NUMBER-$RANDOM"
}
need_netns() {
	command -v ip >/dev/null || skip_needs "ip (iproute2)" "sudo apt-get install iproute2, then make test TESTS=$(test_file)"
	can_netns && return 0
	if [ "$(id -u)" != 0 ] && "$KIT_ROOT/scripts/userns-check" >/dev/null 2>&1; then
		skip_needs "a private network, which tests/run makes for a normal user" "make test TESTS=$(test_file)"
	fi
	skip_needs "a private network namespace: $(ns_why)" "sudo make test TESTS=$(test_file)"
}

# skip_needs WHAT COMMAND: skip this test, in one line that says what it
# would have shown (its name), what it needs, and the command that runs it.
skip_needs() { skip "needs $1 to show this; run: $2"; }
test_file() { echo "${BATS_TEST_FILENAME#"$KIT_ROOT"/}"; }

kit_teardown() {
	stop_all
	[ -z "${KIT_NS:-}" ] || ns_delete "$KIT_NS"
}
teardown() { kit_teardown; }

# usage_errors REGEX CMD [ARGS...] -- "WORDS"...: CMD ARGS followed by each
# word list is a usage error: exit 2, one line on stderr matching REGEX,
# nothing on stdout.
# shellcheck disable=SC2154 # $status and $output come from bats' run
usage_errors() {
	local re=$1 cmd=() words
	shift
	while [ "$1" != -- ]; do
		cmd+=("$1")
		shift
	done
	shift
	for words in "$@"; do
		# shellcheck disable=SC2086 # each case is a word list on purpose
		run --separate-stderr "${cmd[@]}" $words
		[ "$status" -eq 2 ] || {
			echo "${cmd[*]} $words: exit $status, expected 2" >&2
			return 1
		}
		one_stderr_line "$re"
		[ -z "$output" ] || {
			echo "${cmd[*]} $words: a usage error printed on stdout: $output" >&2
			return 1
		}
	done
}

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
