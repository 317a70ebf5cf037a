#!/usr/bin/env python3
"""Slow-connection probe for paygate's listeners (README "Listeners, timeouts and limits").

Opens N connections to the HTTP port that send half a request head and then one byte a
second (and, with --grpc, connections to the gRPC port that never send the HTTP/2 preface),
then, while they are held, times /healthz and /readyz on fresh connections and reports the
server's resident memory and how many of the slow connections it has closed.

    python3 deploy/probes/slow_connections.py --http 127.0.0.1:8080 --grpc 127.0.0.1:50051 \
        --count 5000 --pid $(pgrep -n paygate) --hold 15

Standard library only. Raise the probe's own `ulimit -n` above --count.
"""

import argparse
import resource
import selectors
import socket
import time


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def fds(pid):
    import os
    return len(os.listdir(f"/proc/{pid}/fd")) if pid else None


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def get(http, path, timeout=5.0):
    started = time.monotonic()
    try:
        with socket.create_connection(http, timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        status = data.split(b" ", 2)[1].decode() if data else "no answer"
    except OSError as e:
        status = f"error: {e.__class__.__name__}"
    return status, (time.monotonic() - started) * 1000


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--http", type=addr, required=True)
    p.add_argument("--grpc", type=addr)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--pid", type=int)
    p.add_argument("--hold", type=float, default=15.0, help="seconds to keep trickling")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    print(f"before: rss {rss_kib(a.pid)} KiB, fds {fds(a.pid)}")
    sel = selectors.DefaultSelector()
    conns = []
    failed = 0
    for i in range(a.count):
        grpc = a.grpc and i % 5 == 4
        try:
            s = socket.create_connection(a.grpc if grpc else a.http, timeout=2)
            s.setblocking(False)
            if not grpc:
                s.send(b"POST /webhooks/mock/default HTTP/1.1\r\nHost: probe\r\n")
            conns.append((s, grpc))
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            failed += 1
    print(f"opened {len(conns)} slow connections ({failed} failed to connect)")
    time.sleep(1)
    print(f"held: rss {rss_kib(a.pid)} KiB, fds {fds(a.pid)}")
    for path in ["/healthz", "/readyz", "/healthz"]:
        status, ms = get(a.http, path)
        print(f"  {path}: {status} in {ms:.1f} ms")

    closed = set()
    started = time.monotonic()
    while time.monotonic() - started < a.hold:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            try:
                if s.recv(4096) == b"":
                    raise OSError
            except BlockingIOError:
                continue
            except OSError:
                closed.add(s)
                sel.unregister(s)
        for s, grpc in conns:
            if s not in closed and not grpc:
                try:
                    s.send(b"X")
                except OSError:
                    closed.add(s)
                    try:
                        sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
        elapsed = time.monotonic() - started
        print(f"t+{elapsed:4.1f}s closed by server {len(closed)}/{len(conns)}, "
              f"rss {rss_kib(a.pid)} KiB, fds {fds(a.pid)}")
    for path in ["/healthz", "/readyz"]:
        status, ms = get(a.http, path)
        print(f"after: {path}: {status} in {ms:.1f} ms")
    for s, _ in conns:
        s.close()
    time.sleep(1)
    print(f"released: rss {rss_kib(a.pid)} KiB, fds {fds(a.pid)}")


if __name__ == "__main__":
    main()
