#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $status, $lines come from bats' run
# make bare: the lessons without the narration (bare/NAME.c, lab.h beside
# them) do the same work as the full programs: the same exit statuses, the
# same bytes to each client, the same scripts/check verdicts; each bare
# program builds alone there, strict, and is no larger than its budget.
# And the sizes the README promises of the full files and of lab.h; the
# errno names of lab.h's err_text().

load helper
bats_require_minimum_version 1.5.0

PROGRAMS="udpclient udpserver tcpclient tcpserver1 tcpserver2 tcpserver3 multi"

# The bare programs are built by make (make test builds bare/ first).
BARE=$KIT_ROOT/bare
need_bare() {
	local p
	for p in $PROGRAMS; do
		[ -x "$BARE/$p" ] || skip "needs make bare to show that bare/$p does the full program's work; run: make bare && make test TESTS=tests/bare.bats"
	done
}

# code_lines FILE: lines that are not blank and not only a comment.
code_lines() {
	awk '{ code = 0; s = $0
		while (s != "") {
			if (inc) { k = index(s, "*/"); if (!k) { s = ""; break }; s = substr(s, k + 2); inc = 0; continue }
			if (substr(s, 1, 2) == "/*") { inc = 1; s = substr(s, 3); continue }
			if (substr(s, 1, 2) == "//") break
			if (substr(s, 1, 1) !~ /[ \t]/) code = 1
			s = substr(s, 2) }
		n += code } END { print n + 0 }' "$1"
}

@test "bare: scripts/bare writes what make bare builds, and fails on a narration call inside an expression" {
	need_bare
	run sh "$KIT_ROOT/scripts/bare" "$BATS_TEST_TMPDIR/b" "$KIT_ROOT/tcpserver1.c"
	[ "$status" -eq 0 ]
	[[ $output == *"tcpserver1.c: "*" code lines" ]]
	cmp "$BATS_TEST_TMPDIR/b/tcpserver1.c" "$BARE/tcpserver1.c"
	cmp "$BATS_TEST_TMPDIR/b/lab.h" "$KIT_ROOT/lab.h"
	# the rule: a narration call is a statement of its own, inside braces
	sed 's/^\( *\)after_listen(\(.*\));/\1if (1) after_listen(\2);/' "$KIT_ROOT/tcpserver1.c" >"$BATS_TEST_TMPDIR/tcpserver1.c"
	run ! cmp -s "$BATS_TEST_TMPDIR/tcpserver1.c" "$KIT_ROOT/tcpserver1.c"
	run sh "$KIT_ROOT/scripts/bare" "$BATS_TEST_TMPDIR/c" "$BATS_TEST_TMPDIR/tcpserver1.c"
	[ "$status" -ne 0 ]
	[[ $output == *"tcpserver1.c:"*"after_listen()"*"statement of its own"* ]]
}

@test "bare: each bare program has no narration left and builds alone in bare/ with the strict flags" {
	need_bare
	for p in $PROGRAMS; do
		run grep -nE '\<(before_[a-z0-9_]+|after_[a-z0-9_]+|[a-z0-9_]+_failed)\(' "$BARE/$p.c"
		if [ -n "$output" ] && grep -qv '^[0-9]*: *[/ ]\*' <<<"$output"; then
			echo "bare/$p.c still calls narration: $output"
			return 1
		fi
		run ! grep -n 'The lesson ends here' "$BARE/$p.c"
		run ! grep -nE "^ *case .[Sq].:|lab\.(step|quiet)" "$BARE/$p.c"
		# -S is no option of a bare program (nor -q of a bare server)
		run "$BARE/$p" -S
		[ "$status" -eq 2 ]
		[[ $output == *"unknown option -S"* ]]
		(cd "$BARE" && cc -std=c11 -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L -o "$BATS_TEST_TMPDIR/$p" "$p.c")
	done
}

@test "bare: sizes in code lines within the budgets (udpserver 120, udpclient 170, tcpserver1 130, tcpserver2 170, tcpserver3 280, multi 240, tcpclient 300)" {
	need_bare
	local p n bad=0
	for p in udpserver:120 udpclient:170 tcpserver1:130 tcpserver2:170 tcpserver3:280 multi:240 tcpclient:300; do
		n=$(code_lines "$BARE/${p%%:*}.c")
		echo "bare/${p%%:*}.c: $n code lines (budget ${p#*:})"
		[ "$n" -le "${p#*:}" ] || bad=1
	done
	[ "$bad" -eq 0 ]
}

@test "bare: full sizes: each program at most 700 lines (tcpclient 850), 4300 together, main() within its first 110 lines (tcpclient 140), lab.h at most 700, no lab.h function defined in a program" {
	local p n max total=0 at bad=0
	for p in $PROGRAMS; do
		n=$(wc -l <"$KIT_ROOT/$p.c")
		max=700 && [ "$p" != tcpclient ] || max=850
		at=$(grep -n '^int main' "$KIT_ROOT/$p.c" | cut -d: -f1)
		echo "$p.c: $n lines (at most $max), main() at line $at"
		[ "$n" -le "$max" ] || bad=1
		[ "$at" -le $((max == 850 ? 140 : 110)) ] || bad=1
		total=$((total + n))
	done
	echo "together: $total lines (at most 4300); lab.h: $(wc -l <"$KIT_ROOT/lab.h") (at most 700)"
	[ "$total" -le 4300 ] && [ "$(wc -l <"$KIT_ROOT/lab.h")" -le 700 ] || bad=1
	# lab.h's functions, by name; none is defined again in a program
	local f
	# shellcheck disable=SC2013 # one name a word
	for f in $(sed -n 's/^\(_Noreturn \)\{0,1\}static inline [a-z_ ]*[ *]\([a-z_0-9]*\)(.*/\2/p' "$KIT_ROOT/lab.h"); do
		for p in $PROGRAMS; do
			if grep -qE "^(_Noreturn )?static [a-z_ ]*[ *]$f\(" "$KIT_ROOT/$p.c"; then
				echo "$p.c defines $f(), which lab.h holds"
				bad=1
			fi
		done
	done
	[ "$bad" -eq 0 ]
}

@test "bare: lab.h's err_text() names every errno of its list (aliases as the name they share)" {
	local names
	names=$(grep -o 'LAB_E(E[A-Z0-9]*)' "$KIT_ROOT/lab.h" | sed 's/LAB_E(\(.*\))/\1/')
	[ "$(wc -w <<<"$names")" -ge 50 ]
	{
		echo '#include "lab.h"'
		echo 'int main(void) {'
		for n in $names; do
			printf '    printf("%%d %s %%s\\n", %s, err_text(%s));\n' "$n" "$n" "$n"
		done
		echo '    return 0; }'
	} >"$BATS_TEST_TMPDIR/e.c"
	cc -std=c11 -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L -I"$KIT_ROOT" -o "$BATS_TEST_TMPDIR/e" "$BATS_TEST_TMPDIR/e.c"
	run "$BATS_TEST_TMPDIR/e"
	[ "$status" -eq 0 ]
	local line value name shown bad=0
	while read -r value name line; do
		[[ $line == *"($name)" ]] && continue
		# an alias (EWOULDBLOCK = EAGAIN here) prints the name it shares
		shown=${line##*(}
		shown=${shown%)}
		if grep -q "^$value $shown " <<<"$output" && [[ $shown == E* ]]; then continue; fi
		echo "err_text($name) = $line"
		bad=1
	done <<<"$output"
	[ "$bad" -eq 0 ]
	# and the ones tcpclient meets on a non-blocking connect()
	grep -q ' EINPROGRESS .*(EINPROGRESS)$' <<<"$output"
	grep -q ' EALREADY .*(EALREADY)$' <<<"$output"
}

# same_status ARGS...: full and bare exit with the same status for PROG ARGS.
same_status() {
	local p=$1 full bare
	shift
	full=0 && "$BIN/$p" "$@" </dev/null >/dev/null 2>&1 3>&- 4>&- || full=$?
	bare=0 && "$BARE/$p" "$@" </dev/null >/dev/null 2>&1 3>&- 4>&- || bare=$?
	[ "$full" -eq "$bare" ] || {
		echo "$p $*: full exits $full, bare $bare"
		return 1
	}
}

@test "bare: the same exit statuses as the full programs (help, usage errors, refused, unresolvable, port in use)" {
	need_bare
	local p dead busy
	dead=$(free_port)
	busy=$(free_port)
	start_server tcpserver3 "$busy"
	for p in $PROGRAMS; do
		same_status "$p" -h
		same_status "$p" -Z
		same_status "$p" --nope
	done
	for p in udpserver tcpserver1 tcpserver2 tcpserver3 multi; do
		same_status "$p" -p 0
		same_status "$p" -p 70000
		same_status "$p" -a no-such-host.invalid -p "$dead"
	done
	for p in tcpserver1 tcpserver2 tcpserver3 multi; do
		same_status "$p" -p "$busy"
	done
	same_status tcpclient -m x -t 2 127.0.0.1 "$dead"
	same_status tcpclient -m x no-such-host.invalid "$dead"
	same_status udpclient -m x no-such-host.invalid "$dead"
	same_status udpclient -m x -t 0.3 127.0.0.1 "$dead"
}

@test "bare: each client receives the same bytes from a bare server as from the full one, and the bare clients print the replies" {
	need_bare
	local port p pid kind dir out_full out_bare
	for p in tcpserver1 tcpserver2 tcpserver3 multi; do
		for kind in full bare; do
			port=$(free_port)
			if [ "$kind" = full ]; then dir=$BIN; else dir=$BARE; fi
			start_bg "$p-$kind" "$dir/$p" -r -p "$port"
			pid=$LAST_PID
			wait_until 5 tcp_listening "$port"
			# bytes on the wire: what a plain client gets back
			printf -v "out_$kind" '%s' "$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"hello \x00\xff junk\r\n")
got = b""
while len(got) < 15:
    b = s.recv(100)
    if not b:
        break
    got += b
print(got.hex())' "$port")"
			# the bare client against the full server: it prints the reply
			if [ "$kind" = full ]; then
				run "$BARE/tcpclient" -m "one" -m "two" -t 5 127.0.0.1 "$port"
				[ "$status" -eq 0 ] || [ "$p" = tcpserver1 ] || [ "$p" = tcpserver2 ]
				[[ $output == *'reply: 4 bytes, the same as we sent: "one\n"'* ]]
			fi
			kill_tree "$pid"
			wait "$pid" 2>/dev/null || true
		done
		[ -n "$out_full" ]
		[ "$out_full" = "$out_bare" ]
	done
	port=$(free_port)
	start_bg udpserver "$BARE/udpserver" -p "$port"
	wait_until 5 udp_bound "$port"
	run "$BARE/udpclient" -m "ping" -t 5 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ $output == *'"ping" (same as sent)'* ]]
	run "$BIN/udpclient" -m "ping" -t 5 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	[[ $output == *ping* ]]
}

# The full servers' verdicts for these checks: tcpserver3 and multi pass
# every one (tests/check.bats); tcpserver1 fails concurrent (the same) and
# echo (one recv() per client, README T11: 10 MB does not come back).
@test "bare: scripts/check gives a bare server the full server's verdicts (tcpserver3, multi, tcpserver1, udpserver)" {
	need_bare
	local p verdicts expected
	for p in tcpserver3 multi tcpserver1; do
		expected="echo pass:concurrent pass:reset pass:junk pass:fds pass"
		[ "$p" != tcpserver1 ] || expected="echo FAIL:concurrent FAIL:reset pass:junk pass:fds pass"
		run "$KIT_ROOT/scripts/check" -T 60 -k echo,concurrent,reset,junk,fds "$BARE/$p" -r -p '{port}' 3>&-
		verdicts=$(grep -E '^[a-z-]+ +(pass|FAIL|skip)' <<<"$output" | awk '{print $1, $2}' | paste -sd: -)
		echo "$p: bare: $verdicts, expected: $expected"
		[ "$verdicts" = "$expected" ]
	done
	run "$KIT_ROOT/scripts/check" -T 60 -u -k echo,junk "$BARE/udpserver" -p '{port}' 3>&-
	[ "$status" -eq 0 ]
}

@test "bare: scripts/bare writes the same files with BWK awk (macOS's awk) as with this machine's awk" {
	need_bare
	command -v original-awk >/dev/null || skip_needs "original-awk (BWK awk, as on macOS)" "sudo apt-get install original-awk, then make test TESTS=$(test_file)"
	mkdir "$BATS_TEST_TMPDIR/awk"
	ln -s "$(command -v original-awk)" "$BATS_TEST_TMPDIR/awk/awk"
	local p
	for p in $PROGRAMS; do
		PATH="$BATS_TEST_TMPDIR/awk:$PATH" sh "$KIT_ROOT/scripts/bare" "$BATS_TEST_TMPDIR/b" "$KIT_ROOT/$p.c" >/dev/null
		cmp "$BATS_TEST_TMPDIR/b/$p.c" "$BARE/$p.c"
	done
}
