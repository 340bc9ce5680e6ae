"""Gateway benchmark: the ShopMesh gateway (JWT verification and Redis rate limiting on)
next to nginx as a plain reverse proxy to the same upstream, and a direct call, in one run.

Load comes from wrk on loopback, bounded in time. Two phases per target:
- throughput: `wrk -t2 -c32` for BENCH_GW_SECONDS -> requests/s;
- latency: one connection (`wrk -t1 -c1`) -> p50 / p99, so that "added latency" is the
  proxy's own cost and not queueing.
Printed: gateway / nginx throughput (goal >= 0.5) and gateway - direct p50 / p99 (goal:
p99 at most 2 ms added). nginx runs one worker process, like the gateway's one uvicorn
worker. The request is GET /api/orders/{id} with a bearer token: the gateway verifies the
ES256 JWT (cached after the first), checks two Redis rate-limit windows (user and IP),
forwards, and checks the order's owner.

Run by `make bench-gateway` (BENCH_GW_SECONDS). Needs the stack (Redis, PostgreSQL for the
gateway's API-key table) and Debian's nginx and wrk (the target installs them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "shop"))

from shop_processes import POSTGRES_URL, REDIS_URL, free_port  # noqa: E402

from shopmesh_common.testing import fresh_database  # noqa: E402

SECONDS = int(os.environ.get("BENCH_GW_SECONDS", "10"))
NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream shop {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError(url)


def wrk(url: str, *, threads: int, connections: int, token: str) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk --latency."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{SECONDS}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, ms("50%"), ms("99%")


def token_and_jwks() -> tuple[str, bytes, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "bench", "alg": "ES256", "use": "sig"})
    subject = str(uuid.uuid4())
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "https://shopmesh.local/users",
            "aud": "shopmesh",
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        },
        key,
        algorithm="ES256",
        headers={"kid": "bench"},
    )
    return token, json.dumps({"keys": [jwk]}).encode(), subject


async def main() -> None:
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin"):
            raise SystemExit(f"{tool} is missing: run `make bench-gateway` (installs it)")
    token, jwks, subject = token_and_jwks()
    work = Path(tempfile.mkdtemp(prefix="shopmesh-bench-gw-"))
    (work / "jwks.json").write_bytes(jwks)
    up_port, nginx_port, gw_port = free_port(), free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    async with fresh_database("shopmesh_gateway", prefix="benchgw") as gateway_db:
        try:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(REPO / "bench" / "bench_upstream.py"),
                        str(up_port),
                        str(work / "jwks.json"),
                        subject,
                    ]
                )
            )
            (work / "nginx.conf").write_text(
                NGINX_CONF.format(prefix=work, upstream=up_port, port=nginx_port)
            )
            procs.append(
                subprocess.Popen(
                    [
                        shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
                        or "nginx",
                        "-p",
                        str(work),
                        "-c",
                        str(work / "nginx.conf"),
                        "-g",
                        "daemon off;",
                    ]
                )
            )
            upstream = f"http://127.0.0.1:{up_port}"
            limits = {
                "default": {
                    "per_user": {"limit": 1_000_000, "window_seconds": 60},
                    "per_ip": {"limit": 1_000_000, "window_seconds": 60},
                }
            }
            env = {
                **os.environ,
                "SHOPMESH_POSTGRES_URL": POSTGRES_URL,
                "SHOPMESH_DATABASE": gateway_db.rsplit("/", 1)[1],
                "SHOPMESH_REDIS_URL": REDIS_URL,
                "SHOPMESH_USERS_URL": upstream,
                "SHOPMESH_ORDERS_URL": upstream,
                "SHOPMESH_INVENTORY_URL": upstream,
                "SHOPMESH_ORDER_HISTORY_URL": upstream,
                "SHOPMESH_RATE_LIMITS": json.dumps(limits),
                "SHOPMESH_LOG_LEVEL": "WARNING",
            }
            env.pop("SHOPMESH_SERVICE_TOKEN_SECRET", None)
            env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "shopmesh_gateway.main:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(gw_port),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                        "--loop",
                        "uvloop",
                        "--http",
                        "httptools",
                    ],
                    env=env,
                )
            )
            order = uuid.uuid4()
            targets = {
                "direct": f"{upstream}/orders/{order}",
                "nginx": f"http://127.0.0.1:{nginx_port}/orders/{order}",
                "gateway": f"http://127.0.0.1:{gw_port}/api/orders/{order}",
            }
            wait_http(targets["direct"])
            wait_http(targets["nginx"])
            wait_http(f"http://127.0.0.1:{gw_port}/health/ready", timeout=60)
            results = {}
            for name, url in targets.items():
                rps, _, _ = await asyncio.to_thread(
                    wrk, url, threads=2, connections=32, token=token
                )
                _, p50, p99 = await asyncio.to_thread(
                    wrk, url, threads=1, connections=1, token=token
                )
                results[name] = (rps, p50, p99)
                print(
                    f"  {name:8s} {rps:9,.0f} req/s   "
                    f"one connection: p50 {p50:.2f} ms  p99 {p99:.2f} ms"
                )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)
            shutil.rmtree(work, ignore_errors=True)
    g, n, d = results["gateway"], results["nginx"], results["direct"]
    print(f"gateway / nginx throughput = {g[0] / n[0]:.2f} (goal >= 0.5)")
    print(
        f"gateway added latency over direct: p50 +{g[1] - d[1]:.2f} ms, "
        f"p99 +{g[2] - d[2]:.2f} ms (goal <= 2 ms); nginx adds p99 +{n[2] - d[2]:.2f} ms"
    )


if __name__ == "__main__":
    print(f"gateway vs nginx vs direct, GET /api/orders/{{id}} with a JWT, {SECONDS}s per phase")
    asyncio.run(main())
