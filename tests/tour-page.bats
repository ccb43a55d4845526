#!/usr/bin/env bats
# scripts/tour -o DIR: the tour as a page an instructor opens in a browser
# or puts on a course site. The tour runs once for the whole file (T1 and
# T3, each with a capture, and T5), and a headless Chromium loads the page
# once: every step there, each ladder drawn as SVG, no broken link; its
# screenshot is kept in tests/out/tour-page.png.

# shellcheck disable=SC2154 # bats' run sets stderr and lines
load helper
load ladder_helper
bats_require_minimum_version 1.5.0

TOUR="$KIT_ROOT/scripts/tour"
STEPS=(T1 T3 T5)

setup_file() {
	export PAGE="$BATS_FILE_TMPDIR/page"
	# the tour's own waits have deadlines; this is the one for all of it
	timeout 120 "$TOUR" -o "$PAGE" "${STEPS[@]}" >"$BATS_FILE_TMPDIR/tour.out" 2>&1 </dev/null
	echo "$?" >"$BATS_FILE_TMPDIR/tour.rc"
}

# captured: the tour could capture packets (root or scripts/private, tcpdump)
captured() { grep -q 'packets captured with tcpdump' "$BATS_FILE_TMPDIR/tour.out"; }

@test "tour -o without a folder is a usage error; a folder it cannot write, exit 1" {
	run --separate-stderr "$TOUR" -o
	[ "$status" -eq 2 ]
	one_stderr_line '^tour: option -o needs a folder'
	touch "$BATS_TEST_TMPDIR/file"
	run --separate-stderr "$TOUR" -o "$BATS_TEST_TMPDIR/file/page" T1
	[ "$status" -eq 1 ]
	[[ "${stderr_lines[-1]}" == "tour: cannot write the page in $BATS_TEST_TMPDIR/file/page" ]]
	[ -z "$output" ]
	[ ! -e "$BATS_TEST_TMPDIR/file/page" ]
}

@test "tour -o DIR T1 T3 T5: the steps as without -o, then where the page is; the folder holds the page and the pcaps" {
	[ "$(cat "$BATS_FILE_TMPDIR/tour.rc")" -eq 0 ] || {
		cat "$BATS_FILE_TMPDIR/tour.out" >&2
		return 1
	}
	mapfile -t lines <"$BATS_FILE_TMPDIR/tour.out"
	[ "${lines[-1]}" = "tour: the page: $PAGE/index.html (open it in a browser; the folder is all it needs)" ]
	[[ "${lines[-2]}" == "tour: 3 steps: 3 seen, 0 not seen, 0 skipped ("* ]]
	[ -s "$PAGE/index.html" ]
	captured || skip_needs "packet captures (root or scripts/private, and tcpdump) for the pcaps" "make test TESTS=$(test_file)"
	[ "$(cd "$PAGE" && echo *)" = "T1-t1.pcap T3-t3.pcap index.html" ]
	# the pcaps are the captures the steps showed: T1's SYN and RST, T3's handshake
	[ "$(tcpdump -n -r "$PAGE/T1-t1.pcap" 2>/dev/null | grep -c 'Flags \[')" -eq 2 ]
	[ "$(tcpdump -n -r "$PAGE/T3-t3.pcap" 2>/dev/null | grep -c 'Flags \[')" -eq 3 ]
	grep -q '^\$ sudo scripts/capture -c 3 -w t3.pcap -o t3.txt tcp$\|^\$ scripts/capture -c 3 -w t3.pcap -o t3.txt tcp$' "$BATS_FILE_TMPDIR/tour.out"
}

@test "the page: each step's id, title, lecture text, commands, evidence and verdict; each capture's ladder as SVG, the same as its text ladder" {
	local html="$PAGE/index.html" id title n=0 svg
	[ -s "$html" ]
	[ "$(grep -o '<section id="[A-Z0-9]*"' "$html" | tr '\n' ' ')" = '<section id="T1" <section id="T3" <section id="T5" ' ]
	for id in "${STEPS[@]}"; do
		title=$("$TOUR" -h | sed -n "s/^  $id  *//p" | sed -e 's/&/\&amp;/g' -e 's/"/\&quot;/g')
		[ -n "$title" ]
		grep -qF "<h2>$id: $title</h2>" "$html"
	done
	grep -q '<p class="lecture">TCP asks first.' "$html"
	grep -q '^<pre class="commands">\$ \./tcpserver1$' "$html"
	grep -q '^<pre class="evidence"><b>\$ \./tcpserver1</b>$' "$html"
	[ "$(grep -c '^<p class="verdict">SEEN: ' "$html")" -eq 3 ]
	captured || skip_needs "packet captures (root or scripts/private, and tcpdump) for the ladders" "make test TESTS=$(test_file)"
	need_xmllint
	# each inline SVG: well-formed, and the ladder of its pcap
	awk -v d="$BATS_TEST_TMPDIR" '/^<svg / { f = d "/svg" ++n ".svg" } f { print > f } /^<\/svg>/ { f = "" }' "$html"
	for svg in 1:T1-t1.pcap 2:T3-t3.pcap; do
		n=$((n + 1))
		"$LADDER" -s "$PAGE/${svg#*:}" >"$BATS_TEST_TMPDIR/text$n.txt"
		xmllint --noout "$BATS_TEST_TMPDIR/svg${svg%%:*}.svg"
		diff <(text_arrows "$BATS_TEST_TMPDIR/text$n.txt") <(svg_arrows "$BATS_TEST_TMPDIR/svg${svg%%:*}.svg")
	done
	[ ! -e "$BATS_TEST_TMPDIR/svg3.svg" ]
	grep -q '>SYN_SENT</text>' "$BATS_TEST_TMPDIR/svg2.svg"
}

@test "Chromium renders the page: every step, each SVG with its arrows, no broken link (screenshot: tests/out/tour-page.png)" {
	local chromium
	chromium=$(command -v chromium || command -v chromium-browser) ||
		skip_needs "chromium (a headless browser)" "sudo apt-get install chromium, then make test TESTS=$(test_file)"
	[ -s "$PAGE/index.html" ]
	local dom="$BATS_TEST_TMPDIR/dom.html" png="$KIT_ROOT/tests/out/tour-page.png" ref
	browse() { # browse ARGS...: one headless Chromium run, a minute at most
		HOME=$BATS_TEST_TMPDIR timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
			--user-data-dir="$BATS_TEST_TMPDIR/profile" "$@" "file://$PAGE/index.html" 2>"$BATS_TEST_TMPDIR/chromium.err"
	}
	browse --dump-dom >"$dom" || {
		tail -5 "$BATS_TEST_TMPDIR/chromium.err" >&2
		return 1
	}
	# the document Chromium built: every step's section, in order
	[ "$(grep -o '<section id="[A-Z0-9]*" class="step seen"' "$dom" | cut -d'"' -f2 | tr '\n' ' ')" = "T1 T3 T5 " ]
	grep -q '<h1>The sockets lab kit: the walkthrough, as Linux ran it</h1>' "$dom"
	# no broken link: every #id is an element, every file is in the folder, nothing outside
	grep -oE '(href|src)="[^"]*"' "$dom" | cut -d'"' -f2 | sort -u >"$BATS_TEST_TMPDIR/refs"
	[ -s "$BATS_TEST_TMPDIR/refs" ]
	while read -r ref; do
		case $ref in
		'#'*) grep -q "id=\"${ref#\#}\"" "$dom" ;;
		*:* | /* | *..*) false ;;
		*) [ -s "$PAGE/$ref" ] ;;
		esac || {
			echo "broken link: $ref" >&2
			return 1
		}
	done <"$BATS_TEST_TMPDIR/refs"
	if captured; then
		# two SVGs (T1, T3), with 2 and 3 arrows, each a line and its labels
		[ "$(grep -c '<svg ' "$dom")" -eq 2 ]
		[ "$(grep -c '<g class="arrow"' "$dom")" -eq 5 ]
		[ "$(grep -c '<line x1="[0-9]*" y1="[0-9]*" x2="[0-9]*" y2="[0-9]*" stroke="#[0-9a-f]*" stroke-width="2" marker-end=' "$dom")" -eq 5 ]
		[ "$(grep -oE 'href="T[0-9]+-[a-z0-9]+\.pcap"' "$dom" | sort -u | wc -l)" -eq 2 ]
	fi
	# the picture of it, kept as an artifact
	mkdir -p "$KIT_ROOT/tests/out"
	rm -f "$png"
	browse --window-size=1000,3000 --screenshot="$png" >/dev/null
	[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	[ "$(wc -c <"$png")" -gt 20000 ]
}
