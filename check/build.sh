# shellcheck shell=bash
# shellcheck disable=SC2154 # $top: the kit, set by the sourcing script
# check/build.sh: build NAME: check/NAME from check/NAME.c (and check.h),
# with cc, when it is missing or older than its sources: scripts/check
# builds the clients (checkpeer) and the origin, scripts/origin the origin;
# no set-up for a student. Into a file of our own, then renamed: two
# checks at once both work. $top: the kit; messages start with
# ${KIT_BUILD_AS:-check}.
build() {
	local bin=$top/check/$1 src=$top/check/$1.c out
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$top/check/check.h" -nt "$bin" ]; then
		out=$("${CC:-cc}" -std=c11 -O2 -o "$bin.$$" "$src" 2>&1 && mv -f "$bin.$$" "$bin") || {
			rm -f "$bin.$$"
			echo "${KIT_BUILD_AS:-check}: could not build check/$1 (${CC:-cc} -o check/$1 check/$1.c): $(head -1 <<<"$out")" >&2
			exit 1
		}
	fi
}
