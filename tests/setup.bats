#!/usr/bin/env bats
# shellcheck disable=SC2154 # $output, $stderr, $stderr_lines come from bats' run
# scripts/setup: one list of packages, printed with what each group is for
# before anything is installed. -n installs nothing, so these tests run
# anywhere; SETUP_SYSTEM picks the package manager whose list is shown.

load helper
bats_require_minimum_version 1.5.0

SETUP="$KIT_ROOT/scripts/setup"

# the command line setup would run (without the sudo a normal user gets)
planned() { sed -n 's/^setup: \$ \(sudo \)\{0,1\}//p' <<<"$output"; }

@test "setup -n on Debian: every group with its purpose, then one apt-get line" {
	SETUP_SYSTEM=apt run --separate-stderr "$SETUP" -n
	[ "$status" -eq 0 ]
	for g in build look capture lab test clients; do
		[[ "$output" == *"setup: $g "* ]] || {
			echo "no group $g" >&2
			return 1
		}
	done
	[[ "$output" != *"setup: checks "* ]]
	[[ "$output" == *"tcpdump"* && "$output" == *"bats python3 netbase"* ]]
	# what is installed already is left out, or nothing is left to install
	[[ "$(planned)" == "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "* ]] ||
		[[ "$output" == *"all of it is installed already"* ]]
}

@test "setup -n all adds the checks; Fedora and macOS have their own names" {
	SETUP_SYSTEM=dnf run --separate-stderr "$SETUP" -n all
	[ "$status" -eq 0 ]
	[[ "$output" == *"setup: checks "* ]]
	[[ "$(planned)" == "dnf install -y gcc make lsof iproute net-tools procps-ng tcpdump "*"ShellCheck musl-gcc valgrind" ]]
	# tinyproxy's package starts a service: setup says so, and how to stop it
	[[ "$output" == *"tinyproxy package starts a system service"*"sudo systemctl disable --now tinyproxy"* ]]
	SETUP_SYSTEM=brew run --separate-stderr "$SETUP" -n all
	[ "$status" -eq 0 ]
	[ "$(planned)" = "brew install tmux telnet socat llvm cppcheck shellcheck" ]
	[[ "$output" == *"the suite needs Linux"* ]]
}

@test "setup: usage errors exit 2 with one line on stderr" {
	usage_errors '^setup: ' "$SETUP" -n -- "-x" "everything" "all more"
}

@test "the README's install table lists what setup installs, group by group" {
	local system col g readme
	for system in apt dnf brew; do
		case $system in apt) col=3 ;; dnf) col=4 ;; brew) col=5 ;; esac
		SETUP_SYSTEM=$system run --separate-stderr "$SETUP" -n all
		for g in build look capture lab test clients checks; do
			# the README row whose first cell starts with `GROUP`, its cell for SYSTEM
			readme=$(awk -F' [|] ' -v g="| \`$g\`" -v c="$col" 'index($0, g) == 1 { print $(c - 1) }' "$KIT_ROOT/README.md")
			want=$(sed -n "/^setup: $g /{n;s/^ *//;p;}" <<<"$output")
			case $want in
			"(built in)" | "(none: "*) [[ "$readme" != \`* ]] ;;
			*) [ "$readme" = "\`$want\`" ] || [[ "$readme" == "\`$want\` "* ]] ;;
			esac || {
				echo "$system $g: README says '$readme', setup installs '$want'" >&2
				return 1
			}
		done
	done
}

@test "setup as a normal user on a machine without sudo: one line that says what to install and that it needs root or an administrator" {
	# every command of this machine but sudo, and an id that says uid 1000
	local bin=$BATS_TEST_TMPDIR/bin f
	mkdir "$bin"
	for f in /usr/bin/* /usr/sbin/* /bin/* /sbin/*; do
		case ${f##*/} in sudo | id | dpkg-query) continue ;; esac
		[ -e "$bin/${f##*/}" ] || ln -s "$f" "$bin/${f##*/}"
	done
	printf '#!/bin/sh\necho 1000\n' >"$bin/id"
	# dpkg-query: nothing is installed, so there is something to install
	printf '#!/bin/sh\nexit 1\n' >"$bin/dpkg-query"
	chmod +x "$bin/id" "$bin/dpkg-query"
	SETUP_SYSTEM=apt PATH=$bin run --separate-stderr "$bin/bash" "$SETUP"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "setup: installing needs root, and there is no sudo here: ask an administrator (or root) to run: env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "*tcpdump* ]]
	[[ $stderr != *"command not found"* ]]
}
