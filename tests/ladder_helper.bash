# shellcheck shell=bash
# Reading ladders in tests (tests/ladder.bats, tests/tour-page.bats): the
# arrows of a text ladder and of an SVG one, in one form, to compare them.
# `load ladder_helper` after `load helper`.

LADDER="$KIT_ROOT/scripts/ladder"

# text_arrows FILE: each arrow of a text ladder (-s or not) as
# "DIR|FLAGS|NUMBERS|LEFT STATE|RIGHT STATE", DIR > (left to right) or <
# (the states: of a two-column ladder).
text_arrows() {
	awk 'function trim(s) { gsub(/^ +| +$/, "", s); return s }
	/->\||\|<-/ {
		d = index($0, "->|") ? ">" : "<"
		match($0, /\|<?-[^|]*\|/)
		i = RSTART; j = RSTART + RLENGTH - 1
		body = substr($0, i + 1, j - i - 1)
		gsub(/[<>]/, "", body); sub(/^-+ /, "", body); sub(/ -+$/, "", body)
		print d "|" body "|" det "|" trim(substr($0, 9, i - 9)) "|" trim(substr($0, j + 1))
		det = ""
		next
	}
	{ s = $0; gsub(/\|/, "", s); det = trim(s) }' "$1"
}

# svg_arrows FILE: the same, read from an SVG ladder with xmllint (XPath).
svg_arrows() {
	local n i g dir
	n=$(xmllint --xpath 'count(//*[local-name()="g"][@class="arrow"])' "$1") || return 1
	for ((i = 1; i <= n; i++)); do
		g="(//*[local-name()=\"g\"][@class=\"arrow\"])[$i]"
		dir=$(xmllint --xpath "string($g/@data-dir)" "$1")
		case $dir in right) dir='>' ;; left) dir='<' ;; esac
		printf '%s|%s|%s|%s|%s\n' "$dir" \
			"$(xmllint --xpath "string($g/*[@class=\"flags\"])" "$1")" \
			"$(xmllint --xpath "string($g/*[@class=\"detail\"])" "$1")" \
			"$(xmllint --xpath "string($g/*[@data-side=\"left\"])" "$1")" \
			"$(xmllint --xpath "string($g/*[@data-side=\"right\"])" "$1")"
	done
}
need_xmllint() {
	command -v xmllint >/dev/null ||
		skip_needs "xmllint (to check the SVG)" "sudo apt-get install libxml2-utils, then make test TESTS=$(test_file)"
}

# svg_like_text [-s] FILE: ladder --svg of FILE is well-formed XML and has
# the arrows of the text ladder, in the same order, with the same labels,
# numbers (and states).
svg_like_text() {
	local t=$BATS_TEST_TMPDIR/svg.$$.$RANDOM
	"$LADDER" "$@" >"$t.txt"
	"$LADDER" --svg "$@" >"$t.svg"
	xmllint --noout "$t.svg"
	text_arrows "$t.txt" >"$t.text-arrows"
	svg_arrows "$t.svg" >"$t.svg-arrows"
	[ -s "$t.text-arrows" ]
	diff -u "$t.text-arrows" "$t.svg-arrows"
}
