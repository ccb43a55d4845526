#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $status come from bats' run
# scripts/check -P, proved with a real proxy and with flaw injectors: Debian's
# tinyproxy gets its own verdicts (every check passes but errors: it
# forwards POST, HEAD and PUT, and takes a request with no version or a
# header without a colon); each injector (tests/fixtures/proxy/relay.c, a
# relay with a fixed upstream, in front of tinyproxy or of the origin)
# fails its own check and passes another. Also: the origin by itself, the
# usage errors, -c, cache, the loopback fallback, the model report.
# Nothing in the kit parses an absolute URI and connects to the host it
# names: tinyproxy is the proxy.

load helper
bats_require_minimum_version 1.5.0

PROXY=$KIT_ROOT/tests/fixtures/proxy
TP=$PROXY/tinyproxy.sh

setup_file() {
	make -s -C "$KIT_ROOT" fixtures >&2
}
need_tinyproxy() {
	command -v tinyproxy >/dev/null ||
		skip_needs "tinyproxy (a real proxy, Debian's)" "sudo apt-get install tinyproxy, then make test TESTS=$(test_file)"
}
# check ARGS: scripts/check with a deadline of its own and one from outside
# (timeout stops a checker that hangs); tinyproxy and relay PIDs go to a
# file, for teardown, and their config files into the test's own TMPDIR.
check() {
	TMPDIR=$BATS_TEST_TMPDIR TINYPROXY_PIDS=$BATS_TEST_TMPDIR/pids timeout -k 5 100 "$KIT_ROOT/scripts/check" "$@" 3>&- 4>&-
}
show() { printf '# %s\n' "${lines[@]}" >&3; }
# verdict CHECK VERDICT [REGEX]: the table line of CHECK says VERDICT (and REGEX)
verdict() {
	grep -qE "^$1 +$2 +.*${3:-}" <<<"$output" || {
		echo "expected $1: $2 ${3:-} in:" >&2
		echo "$output" >&2
		return 1
	}
}
# Whatever tinyproxy or relay a checker left running (it should leave none).
teardown() {
	local pid
	while read -r pid; do
		[[ "$(ps -o args= -p "$pid" 2>/dev/null)" == *tinyproxy* || "$(ps -o args= -p "$pid" 2>/dev/null)" == *relay* ]] &&
			KIT_PIDS+=("$pid")
	done < <(cat "$BATS_TEST_TMPDIR/pids" 2>/dev/null)
	kit_teardown
}
# no_leftovers: every tinyproxy and relay the checker ran is gone
no_leftovers() {
	local pid
	while read -r pid; do
		wait_until 3 gone "$pid"
	done < <(cat "$BATS_TEST_TMPDIR/pids" 2>/dev/null)
}

# get PORT REQUEST: what the server at 127.0.0.1 PORT answers (5 s at
# most, or GET_SECS)
get() {
	# shellcheck disable=SC2016 # for the inner bash
	timeout "${GET_SECS:-5}" bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$0" && printf "%b" "$1" >&5 && cat <&5' "$1" "$2"
}

# injector FLAW OWN OTHER [REGEX]: tinyproxy behind the relay with FLAW: OWN
# fails (its evidence matching REGEX), OTHER passes
injector() {
	need_tinyproxy
	run --separate-stderr check -P -k "$2,$3" "$TP" -f "$1" '{port}'
	show
	[ "$status" -eq 1 ]
	verdict "$2" FAIL "${4:-}"
	verdict "$3" pass
	no_leftovers
}

@test "check -P: usage errors are one line and exit status 2" {
	usage_errors '^check: ' "$KIT_ROOT/scripts/check" -- \
		"-u -P true {port}" "-C http://x/ true {port}" "-P -k nope true {port}" \
		"-P -C ftp://x/ true {port}" "-P -k echo true {port}" "-k fetch true {port}"
	run --separate-stderr "$KIT_ROOT/scripts/check" -h
	[ "$status" -eq 0 ]
	[[ $output == *"-P "*"an HTTP proxy"* ]]
}

@test "origin: bodies and behaviours by path; an absolute URI gets 400 (it is not a proxy)" {
	port=$(free_port)
	start_bg origin "$KIT_ROOT/scripts/origin" -p "$port"
	wait_until 10 tcp_listening "$port"
	run get "$port" 'GET /text HTTP/1.0\r\n\r\n'
	[[ ${lines[0]} == "HTTP/1.0 200 OK"* ]]
	[[ $output == *"Content-Length: 2000"* && $output == *"Hello from the kit's origin"* ]]
	run get "$port" 'GET /reflect?x=1 HTTP/1.0\r\nHost: here\r\nX-Mine: yes\r\n\r\n'
	[[ $output == *$'\r\n\r\nGET /reflect?x=1 HTTP/1.0\r\nHost: here\r\nX-Mine: yes\r\n'* ]]
	get "$port" 'GET /binary HTTP/1.0\r\n\r\n' >"$BATS_TEST_TMPDIR/binary"
	# 4096 B of body after the head, with NULs and 0xff in it
	[ "$(sed '1,/^\r$/d' "$BATS_TEST_TMPDIR/binary" | head -c 4096 | od -An -tx1 | grep -c ' 00 ')" -gt 0 ]
	run get "$port" 'GET http://127.0.0.1/text HTTP/1.0\r\n\r\n'
	[[ ${lines[0]} == "HTTP/1.0 400 Bad Request"* && $output == *"not origin-form"* ]]
	run get "$port" 'GET /nothing HTTP/1.0\r\n\r\n'
	[[ ${lines[0]} == "HTTP/1.0 404 Not Found"* ]]
	# silent: no answer within 1 s, the connection still open
	GET_SECS=1 run get "$port" 'GET /silent HTTP/1.0\r\n\r\n'
	[ "$status" -eq 124 ]
	[ -z "$output" ]
}

@test "tinyproxy's verdicts: every check passes but errors (it forwards POST, HEAD, PUT); under 30 s" {
	need_tinyproxy
	SECONDS=0
	run --separate-stderr check -P "$TP" '{port}'
	show
	[ "$status" -eq 1 ]
	for c in fetch request split-request slow-response concurrent many fds children threads reset restart; do
		verdict "$c" pass
	done
	verdict errors FAIL 'no HTTP version: .*a header without a colon got "HTTP/1.0 200 OK", want 400; POST got "HTTP/1.0 200 OK" \(forwarded to the origin\), want 501; HEAD got .*PUT got "HTTP/1.0 200 OK" \(forwarded to the origin\), want 501$'
	grep -q '^check: 11 passed, 1 failed, 0 skipped' <<<"$output"
	grep -qE '^model +a thread per client: 1[0-9] threads at 10 clients' <<<"$output"
	note "a full -P run against tinyproxy: $SECONDS s"
	[ "$SECONDS" -lt 30 ]
	no_leftovers
}

@test "injector iterative (one client at a time) in front of tinyproxy: concurrent fails" {
	injector iterative concurrent fetch 'serves one client at a time: blocked on the origin'
}
@test "injector nulcut (a response cut at its first NUL) in front of tinyproxy: fetch fails" {
	injector nulcut fetch split-request '/binary .*cut where the body has a NUL byte'
}
@test "injector firstrecv (only the first recv() of a request) in front of tinyproxy: split-request fails" {
	injector firstrecv split-request fetch 'GET in 3 pieces, 300 ms apart: no complete response head'
}
@test "injector sigpipe (SIGPIPE not ignored) in front of tinyproxy: reset fails" {
	injector sigpipe reset fetch 'then the server died: killed by signal 13 \(SIGPIPE\)'
}
@test "injector fdleak (a client's socket never closed) in front of tinyproxy: fds fails" {
	injector fdleak fds threads 'open fds: [0-9]+ before .* after .*the server leaks a socket'
}
@test "injector nohost (the Host header dropped) between tinyproxy and the origin: request fails" {
	need_tinyproxy
	KIT_CHECK_ORIGIN_VIA="$PROXY/relay -f nohost {port} 127.0.0.1 {origin}" \
		run --separate-stderr check -P -k request,fetch "$TP" '{port}'
	show
	[ "$status" -eq 1 ]
	verdict request FAIL 'the origin received no Host header, want Host: 127\.0\.0\.1:[0-9]+$'
	verdict fetch pass
	# and the same relay without its flaw changes nothing
	KIT_CHECK_ORIGIN_VIA="$PROXY/relay -f none {port} 127.0.0.1 {origin}" \
		run --separate-stderr check -P -k request "$TP" '{port}'
	[ "$status" -eq 0 ]
	verdict request pass
}

# The whole table, every injector: tinyproxy's verdicts but its own check
# (about 90 s: not in make test; KIT_FULL=1 runs it).
@test "every injector, every check: tinyproxy's verdicts, but its own check fails (KIT_FULL=1)" {
	need_tinyproxy
	[ -n "${KIT_FULL:-}" ] ||
		skip_needs "KIT_FULL=1 (about 90 s)" "KIT_FULL=1 make test TESTS=$(test_file)"
	local flaw own failed
	for flaw in iterative:concurrent nulcut:fetch firstrecv:split-request sigpipe:reset fdleak:fds nohost:request; do
		own=${flaw#*:} flaw=${flaw%:*}
		if [ "$flaw" = nohost ]; then
			KIT_CHECK_ORIGIN_VIA="$PROXY/relay -f nohost {port} 127.0.0.1 {origin}" \
				run --separate-stderr check -P -f tap "$TP" '{port}'
		else
			run --separate-stderr check -P -f tap "$TP" -f "$flaw" '{port}'
		fi
		show
		[ "$status" -eq 1 ]
		[ "$(grep -c '^ok [0-9]* - ' <<<"$output")" -eq 10 ]
		failed=$(sed -nE 's/^not ok [0-9]+ - ([a-z-]+) .*/\1/p' <<<"$output" | sort | paste -sd, -)
		[ "$failed" = "$(printf '%s\n' errors "$own" | sort | paste -sd, -)" ] || {
			echo "$flaw: failed '$failed', expected errors and $own" >&2
			return 1
		}
	done
	no_leftovers
}

@test "check -P -c: a proxy running already: the checks that need no process; cache (no cache in tinyproxy) fails" {
	need_tinyproxy
	port=$(free_port)
	start_bg tinyproxy env TMPDIR="$BATS_TEST_TMPDIR" "$TP" "$port"
	wait_until 10 tcp_listening "$port"
	run --separate-stderr check -P -k fetch,fds,cache -c 127.0.0.1 "$port"
	show
	[ "$status" -eq 1 ]
	verdict fetch pass
	verdict fds skip "needs the server's process"
	verdict cache FAIL 'fetched /index.html \("HTTP/1.0 200 OK", [0-9]+ B, fnv [0-9a-f]+\), stopped the origin, fetched it again: .*not served from a cache'
	alive "$LAST_PID" # -c never stops it
}

@test "check -P where no namespace can be made (unshare fails): loopback with free ports, and it says so" {
	need_tinyproxy
	PATH="$KIT_ROOT/tests/stubs/no-namespaces:$PATH" run --separate-stderr env -u KIT_PRIVATE \
		TMPDIR="$BATS_TEST_TMPDIR" TINYPROXY_PIDS="$BATS_TEST_TMPDIR/pids" "$KIT_ROOT/scripts/check" -P -k fetch,request,concurrent "$TP" '{port}'
	show
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == *"on this machine's loopback with free ports (no private network here: "* ]]
	verdict fetch pass
	verdict concurrent pass
	verdict request pass 'the origin received .*; no port means 80: not tried: port 80 here is not the check.s to take'
	no_leftovers
}

@test "model (reported, not judged): an event loop, a process per client, one at a time; JSON field, TAP comment" {
	run --separate-stderr "$KIT_ROOT/scripts/check" -k model -f json "$BIN/tcpserver3" -r -q -p '{port}'
	[ "$status" -eq 0 ]
	python3 -m json.tool <<<"$output" >/dev/null
	grep -qF '"model": "an event loop (' <<<"$output"
	grep -qF '"failed": 0' <<<"$output"
	run --separate-stderr "$KIT_ROOT/scripts/check" -k model -f tap "$BIN/multi" -r -q -p '{port}'
	[ "$status" -eq 0 ]
	grep -qE '^# model: a process per client: 1[0-9] children at 10 clients' <<<"$output"
	run --separate-stderr "$KIT_ROOT/scripts/check" -k model "$BIN/tcpserver1" -q -p '{port}'
	[ "$status" -eq 0 ]
	grep -qE '^model +one client at a time' <<<"$output"
}

@test "advice in the student's language: a Python server killed by an exception, one whose thread dies, a C server killed by SIGPIPE" {
	# a beginner's Python echo server: one client at a time, no try/except
	cat >"$BATS_TEST_TMPDIR/naive.py" <<'PY'
import socket, sys, threading
def serve(c):
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
while True:
    c, _ = s.accept()
    if sys.argv[2] == "threads":
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    else:
        serve(c)
PY
	run --separate-stderr check -k reset,sigpipe python3 "$BATS_TEST_TMPDIR/naive.py" '{port}' one
	show
	[ "$status" -eq 1 ]
	verdict reset FAIL 'died: ConnectionResetError; '
	verdict sigpipe FAIL 'died: [A-Za-z]+Error, see reset; '
	grep -qE '^ +advice: a Python exception ended the server .*catch it per client' <<<"$output"
	not grep -q 'SIG_IGN' <<<"$output"
	# a thread per client: the server lives, the thread's traceback is quoted
	run --separate-stderr check -k reset python3 "$BATS_TEST_TMPDIR/naive.py" '{port}' threads
	show
	[ "$status" -eq 0 ]
	verdict reset pass 'its log shows a new Python traceback \(a thread that served a client died\?\): "ConnectionResetError: '
	# C: killed by SIGPIPE, and the advice is C's
	make -s -C "$KIT_ROOT" fixtures >&2
	run --separate-stderr check -k sigpipe -f json "$KIT_ROOT/tests/fixtures/servers/sigpipe" '{port}'
	[ "$status" -eq 1 ]
	grep -qF '"evidence": "died: killed by signal 13 (SIGPIPE); ' <<<"$output"
	grep -qF '"advice": "C: signal(SIGPIPE, SIG_IGN) once in main()' <<<"$output"
}

@test "advice for 'Connection reset by peer': a server that closes with the request unread (RST, not FIN) is sent to N9" {
	# not a proxy: it reads one byte of the request and closes, the rest unread
	# shellcheck disable=SC2016 # python, not shell
	run check -P -k fetch python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(1)
    c.close()' '{port}'
	show
	[ "$status" -eq 1 ]
	verdict fetch FAIL 'Connection reset by peer'
	[[ $output == *"advice: Connection reset by peer: the server (or the one behind it) probably called close() while bytes it had not read were still waiting"*"README N9"* ]]
}

@test "check -f gradescope: results.json, a test a check (-W weighs one), skips worth nothing, the model a 0-point test" {
	need_tinyproxy
	port=$(free_port)
	start_bg tinyproxy env TMPDIR="$BATS_TEST_TMPDIR" "$TP" "$port"
	wait_until 10 tcp_listening "$port"
	# (not errors: with -c, tinyproxy runs here, and nosuchhost.invalid
	# would be a real DNS query)
	run --separate-stderr check -P -k fetch,fds,cache,model -W cache=3 -f gradescope -c 127.0.0.1 "$port"
	[ "$status" -eq 1 ]
	# shellcheck disable=SC2016 # python
	run python3 -c 'import json, sys
r = json.loads(sys.argv[1])
t = {x["name"]: x for x in r["tests"]}
assert r["score"] == 1, r["score"]
assert (t["fetch"]["score"], t["fetch"]["max_score"], t["fetch"]["status"]) == (1, 1, "passed")
assert (t["cache"]["score"], t["cache"]["max_score"], t["cache"]["status"]) == (0, 3, "failed")
assert "not served from a cache" in t["cache"]["output"] and "read: README" in t["cache"]["output"]
assert (t["fds"]["max_score"], t["fds"]["output"][:8]) == (0, "skipped:")
m = t["model (reported, not judged)"]
assert (m["max_score"], m["output"]) == (0, "unknown with -c (it needs the server'"'"'s process)"), m
print("ok")' "$output"
	[ "$output" = ok ]
	usage_errors '^check: ' "$KIT_ROOT/scripts/check" -P -- "-W fetch true {port}" "-W nope=1 true {port}"
}
