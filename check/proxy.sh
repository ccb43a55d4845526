# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # shares variables with check/run.sh and scripts/check
# check/proxy.sh: the proxy checks of scripts/check -P (sourced by
# check/run.sh): the kit's origin (check/origin.c) behind the proxy, and
# what a proxy must do, each check a function proxy_NAME that sets V (pass,
# fail, skip) and E (the evidence). fds, children, threads and restart are
# the shared ones in check/run.sh, fed by proxy_traffic and proxy_hold.
# The clients are check/checkpeer's HTTP actions: they send absolute-URI
# requests to the proxy and never connect to the host a URI names.

CHECKS_PROXY="fetch request errors split-request slow-response concurrent many fds children threads reset restart"
OPTIONAL_PROXY="cache"
oport="" origin_port="" origin_pid="" origin80_pid="" via_pid="" refused="" port80="" why80=""
FRESH_PROXY="a fresh client's fetch through it completed"

# start_origin NAME PORT CMD...: start CMD (stdout and stderr in
# $WORK/NAME.log) and wait until PORT on 127.0.0.1 accepts (3 s). Sets
# STARTED (its pid), or START_ERR.
start_origin() {
	local name=$1 p=$2 pid end
	shift 2
	"$@" </dev/null >>"$WORK/$name.log" 2>&1 3>&- 4>&- 7>&- &
	pid=$!
	end=$(($(now_ms) + 3000))
	while [ "$(now_ms)" -lt "$end" ] && alive "$pid"; do
		if "$peer" -t 500 127.0.0.1 "$p" ready >/dev/null 2>&1; then
			STARTED=$pid
			return 0
		fi
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	START_ERR="the kit's origin ($name) did not answer on port $p: $(tail -1 "$WORK/$name.log" | tr -cd '[:print:]')"
	return 1
}
stop_pid() { # stop_pid PID: it and its children, KILL, reaped
	[ -n "$1" ] || return 0
	# shellcheck disable=SC2046 # a list of PIDs
	kill -KILL $(tree "$1") 2>/dev/null
	wait "$1" 2>/dev/null
}
stop_origins() {
	stop_pid "$origin_pid"
	stop_pid "$origin80_pid"
	stop_pid "$via_pid"
	origin_pid="" origin80_pid="" via_pid=""
}

# start_origins: the origin on a free port; a port where nothing listens
# (a refused origin); where the check has a network of its own, the origin
# on port 80 too (for "no port means 80": as a normal user the namespace's
# net.ipv4.ip_unprivileged_port_start is lowered to 80, in it only).
# KIT_CHECK_ORIGIN_VIA (the kit's tests): a command with {port} and
# {origin}, a relay put between the proxy and the origin.
start_origins() {
	local a run=()
	origin_port=$(free_port) || {
		START_ERR="no free port for the origin"
		return 1
	}
	start_origin origin "$origin_port" "$top/check/origin" -q -p "$origin_port" || return 1
	origin_pid=$STARTED oport=$origin_port
	refused=$(free_port) || refused=$((origin_port + 1))
	if [ -n "${KIT_CHECK_ORIGIN_VIA:-}" ]; then
		oport=$(free_port)
		read -ra run <<<"$KIT_CHECK_ORIGIN_VIA"
		for a in "${!run[@]}"; do
			run[a]=${run[a]//\{port\}/$oport}
			run[a]=${run[a]//\{origin\}/$origin_port}
		done
		start_origin via "$oport" "${run[@]}" || return 1
		via_pid=$STARTED
	fi
	if [ "$own_ns" != 1 ]; then
		why80="not tried: port 80 here is not the check's to take ($where)"
	elif [ "$(id -u)" != 0 ] && ! echo 80 2>/dev/null >/proc/sys/net/ipv4/ip_unprivileged_port_start; then
		why80="not tried: could not lower net.ipv4.ip_unprivileged_port_start to 80 in the check's network namespace"
	elif start_origin origin80 80 "$top/check/origin" -q -p 80; then
		origin80_pid=$STARTED port80=80
	else
		why80="not tried: $START_ERR"
	fi
	return 0
}

proxy_probe() { run_peer 5 hprobe; }
proxy_hold() { echo hhold; }
# proxy_traffic: 50 fetches at once (what the server has then is the
# reference: a pool is fine), then 200 one after the other.
proxy_traffic() {
	local first
	run_peer 20 hmany 50 || return
	first=$PEER_OUT
	REF_TH=$(count_threads "$spid") REF_TH_AT="after 50 fetches at once" REF_CH_AT="after 50 fetches at once"
	read -r REF_CH _ <<<"$(children_of "$spid")"
	run_peer 40 hchurn 200
	local rc=$?
	PEER_OUT="$first; then $PEER_OUT"
	return $rc
}

judge() { # judge RC: V from a checkpeer's exit status, E its line
	if [ "$1" = 0 ]; then V=pass; else V=fail; fi
	E=$PEER_OUT
}
proxy_fetch() {
	run_peer 60 fetch
	judge $?
}
proxy_request() {
	run_peer 25 request ${port80:+80}
	judge $?
	[ $V = fail ] || [ -n "$port80" ] || E="$E; no port means 80: $why80"
}
proxy_errors() {
	run_peer 60 errors "$refused"
	judge $?
}
proxy_split_request() {
	run_peer 10 split
	judge $?
}
proxy_slow_response() {
	run_peer 15 slow
	judge $?
}
proxy_concurrent() {
	run_peer 10 hconcurrent
	judge $?
}
proxy_many() {
	run_peer 20 hmany 50
	judge $?
}
proxy_reset() {
	run_peer 15 hreset
	after "$PEER_OUT"
}
# cache (only when named): a fetch, the origin stopped, the same fetch:
# the same bytes must come back. -C URL first.
proxy_cache() {
	local one two
	if [ -n "$cache_url" ] && ! run_peer 10 get "$cache_url"; then
		V=fail E="-C $cache_url: $PEER_OUT"
		return
	fi
	run_peer 10 get /index.html
	one=$PEER_OUT
	stop_pid "$origin_pid"
	origin_pid=""
	run_peer 10 get /index.html
	two=$PEER_OUT
	start_origin origin "$origin_port" "$top/check/origin" -q -p "$origin_port" && origin_pid=$STARTED
	if [[ $one == '"HTTP/1.'?' 200 '* ]] && [ "$one" = "$two" ]; then
		V=pass E="fetched /index.html ($one), stopped the origin, fetched it again: the same, from the proxy's cache"
	else
		V=fail E="fetched /index.html ($one), stopped the origin, fetched it again: $two: not served from a cache"
	fi
}

proxy_readme() { # proxy_readme CHECK: what to read when it fails
	echo "README \"Check your proxy\", row $1"
}
