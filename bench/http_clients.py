"""What a library HTTP client would cost the alert path: lanner's small client (http.client, persistent
connection, proxies from the environment) against urllib3 and requests, posting the same 1 KiB JSON alert
to a keep-alive HTTP responder in another process on loopback.

Prints, per client: import time (a fresh interpreter, median of 3), client CPU microseconds per request and
requests/s over N requests on one connection. Usage: python bench/http_clients.py [N] (default 3000).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RESPONDER = r'''
import asyncio, sys
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
async def handle(r, w):
    try:
        while True:
            head = await r.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if n:
                await r.readexactly(n)
            w.write(RESP)
    except (asyncio.IncompleteReadError, ConnectionError):
        w.close()
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(s.sockets[0].getsockname()[1], flush=True)
    await s.serve_forever()
asyncio.run(main())
'''

IMPORTS = {"lanner": "import lanner.outputs.httpclient", "urllib3": "import urllib3", "requests": "import requests"}
BODY = b'{"output":"' + b"x" * 1000 + b'"}'


def import_ms(stmt: str) -> float:
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {stmt}; "
                              "print(time.perf_counter()-t)"], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout) * 1000)
    return statistics.median(runs)


def clients(url: str):
    from lanner.outputs.httpclient import HttpClient
    c = HttpClient(connect_timeout=5, timeout=5)
    yield "lanner", lambda: c.request("POST", url, BODY, {"Content-Type": "application/json"}).status
    import urllib3
    pool = urllib3.PoolManager()
    yield "urllib3", lambda: pool.request("POST", url, body=BODY, headers={"Content-Type": "application/json"}).status
    import requests
    s = requests.Session()     # honours HTTPS_PROXY/NO_PROXY itself
    yield "requests", lambda: s.post(url, data=BODY, headers={"Content-Type": "application/json"}).status_code


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    srv = subprocess.Popen([sys.executable, "-c", RESPONDER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = f"http://127.0.0.1:{port}/alerts"
        print(f"{n} POSTs of {len(BODY)} bytes, one keep-alive connection, responder in another process")
        for name, post in clients(url):
            for _ in range(50):
                assert post() == 200
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                post()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            print(f"{name:9s} import {import_ms(IMPORTS[name]):6.1f} ms   {cpu / n * 1e6:6.1f} us CPU/request   "
                  f"{n / wall:7.0f} requests/s")
    finally:
        srv.terminate()


if __name__ == "__main__":
    main()
