#!/usr/bin/env python3
"""Cold-start init of function binaries: spawn to the first GET .../runtime/invocation/next.

Each binary is started as Lambda would start it (AWS_LAMBDA_RUNTIME_API pointing at a listener
of this script), with the `test` configuration, and timed from spawn to its first poll for an
event; then it is killed. Rounds alternate between binaries so that machine noise spreads evenly.

  scripts/bench-init.py --rounds 15 floor=target/release/hello_floor greeter=target/release/greeter ...

Prints one Markdown row per binary: median, min and max in milliseconds, and the file size.
"""

import argparse
import http.server
import os
import socketserver
import statistics
import subprocess
import threading
import time


class Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(arrived):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            if self.path.endswith("/runtime/invocation/next"):
                arrived.set()
            time.sleep(5)  # hold the poll; the process is killed before it returns

        def do_POST(self):  # noqa: N802
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def one(path, env):
    arrived = threading.Event()
    server = Listener(("127.0.0.1", 0), make_handler(arrived))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.perf_counter()
    process = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = arrived.wait(10)
    elapsed = (time.perf_counter() - started) * 1000
    process.kill()
    process.wait()
    server.shutdown()
    server.server_close()
    if not ok:
        raise SystemExit(f"{path}: no /next within 10 s")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("binaries", nargs="+", help="NAME=PATH")
    args = parser.parse_args()
    pairs = [b.split("=", 1) for b in args.binaries]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REDLINE_ENV": "test",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_REGION": "us-east-1",
    }
    times = {name: [] for name, _ in pairs}
    for _ in range(args.rounds):
        for name, path in pairs:
            times[name].append(one(path, env))
    print("| binary | size (bytes) | init, median [min, max] (ms) |")
    print("|---|---|---|")
    for name, path in pairs:
        t = sorted(times[name])
        size = os.path.getsize(path)
        print(f"| {name} | {size:,} | {statistics.median(t):.1f} [{t[0]:.1f}, {t[-1]:.1f}] |")


if __name__ == "__main__":
    main()
