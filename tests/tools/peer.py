#!/usr/bin/env python3
"""Clients that misbehave on purpose, for tests/faults.bats.

    peer.py PORT reset          connect, send, reset (SO_LINGER 0) before the reply
    peer.py PORT vanish         connect, send 1 MB, close without reading a byte
    peer.py PORT noread SECS    send for SECS without ever reading; report bytes sent
    peer.py PORT echo N         N concurrent clients, one message each; all must echo
    peer.py PORT bytes MB       stream MB megabytes of random bytes, read the echo,
                                compare (one connection, a reader thread)
    peer.py PORT fdflood N      hold N connections open; report how many the server
                                serves (echo) and how many it closed at once
    peer.py PORT connflood N    N non-blocking connects as fast as possible, then close all
    peer.py PORT churn N        N clients one after another: connect, echo, close

Every wait has a timeout; exit status 0 means the server behaved.
"""
import hashlib
import os
import resource
import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
# Each report line reaches the test at once, through a pipe or a file too,
# whatever PYTHONUNBUFFERED the caller has.
sys.stdout.reconfigure(line_buffering=True)


def connect(port, timeout=5):
    return socket.create_connection((HOST, port), timeout=timeout)


def echo_once(sock, msg):
    sock.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = sock.recv(len(msg) - len(got))
        if not chunk:
            raise RuntimeError("server closed after %d of %d bytes" % (len(got), len(msg)))
        got += chunk
    if got != msg:
        raise RuntimeError("echo differs")


def reset(port):
    s = connect(port)
    s.sendall(b"about to reset\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("reset sent")


def vanish(port):
    s = connect(port)
    try:
        s.sendall(os.urandom(1 << 20))
    except OSError as e:  # the server may reset us first: that is its right
        print("send stopped: %s" % e)
    s.close()
    print("vanished")


def noread(port, secs):
    s = connect(port)
    s.setblocking(False)
    sent, start = 0, time.time()
    while time.time() - start < float(secs):
        try:
            sent += s.send(b"x" * 65536)
        except BlockingIOError:
            select.select([], [s], [], 0.1)
    print("sent %d bytes without reading" % sent)
    # keep the connection open until killed
    while True:
        time.sleep(1)


def echo(port, n):
    clients = [connect(port) for _ in range(int(n))]
    for i, c in enumerate(clients):
        echo_once(c, b"client %d\n" % i)
    for c in clients:
        c.close()
    print("%s clients echoed" % n)


def stream(port, mb):
    total = int(mb) << 20
    s = connect(port, timeout=30)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    got = [0]

    def reader():
        while got[0] < total:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got_hash.update(chunk)
            got[0] += len(chunk)

    t = threading.Thread(target=reader)
    t.start()
    left = total
    while left > 0:
        block = os.urandom(min(left, 1 << 20))
        sent_hash.update(block)
        s.sendall(block)
        left -= len(block)
    t.join(60)
    s.close()
    if got[0] != total or got_hash.digest() != sent_hash.digest():
        print("MISMATCH: sent %d, got %d" % (total, got[0]))
        sys.exit(1)
    print("%s MB identical (sha256 %s)" % (mb, sent_hash.hexdigest()[:16]))


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def fdflood(port, n):
    raise_fd_limit()
    socks = []
    for i in range(int(n)):
        socks.append(connect(port))
    time.sleep(0.5)  # a claim about a moment: the server has had time to close extras
    closed = served = 0
    for i, s in enumerate(socks):
        p = select.poll()  # select() cannot take fds >= 1024 either
        p.register(s, select.POLLIN)
        if p.poll(0) and s.recv(1) == b"":
            closed += 1
            continue
        echo_once(s, b"fd flood %d\n" % i)
        served += 1
    print("served %d closed %d" % (served, closed))
    for s in socks:
        s.close()


def connflood(port, n):
    raise_fd_limit()
    socks = []
    for _ in range(int(n)):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((HOST, port))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(1)
    for s in socks:
        s.close()
    print("%s connects" % n)


def churn(port, n):
    for i in range(int(n)):
        c = connect(port)
        echo_once(c, b"churn %d\n" % i)
        c.close()
    print("%s clients came and went" % n)


def main():
    port, what, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    {"reset": reset, "vanish": vanish, "noread": noread, "echo": echo,
     "bytes": stream, "fdflood": fdflood, "connflood": connflood,
     "churn": churn}[what](port, *args)


if __name__ == "__main__":
    main()
