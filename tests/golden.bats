#!/usr/bin/env bats
# What a user sees, byte for byte: each program's output for a fixed set of
# runs (help, usage errors, runtime failures, step mode, one exchange),
# recorded by tests/golden/record in tests/golden/PROG.txt. A change to what
# the programs print shows here as a diff; when it is meant, re-record:
#   tests/golden/record PROG >tests/golden/PROG.txt
# and say so in the commit.

load helper

golden() {
	KIT_BIN=$BIN "$KIT_ROOT/tests/golden/record" "$1" >"$BATS_TEST_TMPDIR/$1.txt"
	diff -u "$KIT_ROOT/tests/golden/$1.txt" "$BATS_TEST_TMPDIR/$1.txt"
}

@test "golden: udpclient prints what tests/golden/udpclient.txt recorded" { golden udpclient; }
@test "golden: udpserver prints what tests/golden/udpserver.txt recorded" { golden udpserver; }
@test "golden: tcpclient prints what tests/golden/tcpclient.txt recorded" { golden tcpclient; }
@test "golden: tcpserver1 prints what tests/golden/tcpserver1.txt recorded" { golden tcpserver1; }
@test "golden: tcpserver2 prints what tests/golden/tcpserver2.txt recorded" { golden tcpserver2; }
@test "golden: tcpserver3 prints what tests/golden/tcpserver3.txt recorded" { golden tcpserver3; }
@test "golden: multi prints what tests/golden/multi.txt recorded" { golden multi; }
