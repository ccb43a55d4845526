# The sockets lab kit. `make` builds the seven programs next to their
# sources; each also builds alone: cc -o tcpserver1 tcpserver1.c
CC ?= cc
CFLAGS ?= -std=c11 -Wall -Wextra -Wpedantic -O2 -g -D_FORTIFY_SOURCE=2

PROGRAMS = udpclient udpserver tcpclient tcpserver1 tcpserver2 tcpserver3 multi

.PHONY: all test clean

all: $(PROGRAMS)

%: %.c
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# The test suite (bats); TESTS=tests/udp.bats runs one file.
TESTS ?= tests/*.bats
test: all
	tests/run $(TESTS)

clean:
	rm -f $(PROGRAMS)
	rm -rf build tests/out
