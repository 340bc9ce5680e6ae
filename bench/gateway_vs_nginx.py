"""Gateway benchmark: the ShopMesh gateway (JWT verification and Redis rate limiting on)
next to nginx as a plain reverse proxy to the same upstream, and a direct call, in one run.

Load comes from wrk on loopback, bounded in time. Two phases per target:
- throughput: `wrk -t2 -c32` for BENCH_GW_SECONDS -> requests/s;
- latency: one connection (`wrk -t1 -c1`) -> p50 / p99, so that "added latency" is the
  proxy's own cost and not queueing.
Printed: gateway / nginx throughput (goal >= 0.5) and gateway - direct p50 / p99 (goal:
p99 at most 2 ms added). nginx runs as many worker processes as the gateway has uvicorn
workers (one, unless BENCH_GW_WORKERS says otherwise). The request is GET
/api/orders/{id} with a bearer token: the gateway verifies the ES256 JWT (cached after the
first), checks two Redis rate-limit windows (user and IP) in one round trip, forwards, and
checks the order's owner.

The machine is shared and noisy, so every phase runs BENCH_GW_REPEAT times (default 3),
the targets taking turns, and the median of each figure is printed. Options (reporting
only; what is measured stays the same):
- BENCH_GW_WORKERS=1,2: one comparison per count, nginx `worker_processes` = gateway
  `--workers` (2 workers on this 2-core machine is a deployment choice; compare like with
  like);
- BENCH_GW_TRACED=1: also a gateway exporting traces (OTEL_EXPORTER_OTLP_ENDPOINT, the
  stack's collector unless set), printed on its own line and ratio.

Run by `make bench-gateway` (BENCH_GW_SECONDS, BENCH_GW_REPEAT, BENCH_GW_WORKERS,
BENCH_GW_TRACED). Needs the stack (Redis, PostgreSQL for the gateway's API-key table, the
collector for the traced run) and Debian's nginx and wrk (the target installs them).
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
REPEAT = int(os.environ.get("BENCH_GW_REPEAT", "3"))
WORKERS = [int(n) for n in os.environ.get("BENCH_GW_WORKERS", "1").split(",")]
TRACED = os.environ.get("BENCH_GW_TRACED", "").lower() in ("1", "true", "yes")
COLLECTOR = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://127.0.0.1:14318"
NGINX_CONF = """
worker_processes {workers};
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


def nginx_binary() -> str:
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin") or "nginx"


def start_gateway(
    *, port: int, workers: int, env: dict[str, str], traced: bool
) -> subprocess.Popen[bytes]:
    """A gateway on `port`, exporting traces to the collector when `traced`."""
    env = dict(env)
    if traced:
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=COLLECTOR,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_SERVICE_NAME="gateway-bench",
        )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "shopmesh_gateway.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


async def measure(targets: dict[str, str], token: str) -> dict[str, tuple[float, float, float]]:
    """(requests/s, p50 ms, p99 ms) per target: medians of REPEAT rounds, targets in turn."""
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
    for _ in range(REPEAT):
        for name, url in targets.items():
            rps, _, _ = await asyncio.to_thread(wrk, url, threads=2, connections=32, token=token)
            _, p50, p99 = await asyncio.to_thread(wrk, url, threads=1, connections=1, token=token)
            samples[name].append((rps, p50, p99))
    return {
        name: (
            median([s[0] for s in runs]),
            median([s[1] for s in runs]),
            median([s[2] for s in runs]),
        )
        for name, runs in samples.items()
    }


def report(results: dict[str, tuple[float, float, float]], workers: int) -> None:
    print(f"nginx worker_processes {workers}, gateway uvicorn workers {workers}:")
    for name, (rps, p50, p99) in results.items():
        print(
            f"  {name:13s} {rps:9,.0f} req/s   one connection: p50 {p50:.2f} ms  p99 {p99:.2f} ms"
        )
    n, d = results["nginx"], results["direct"]
    for name in ("gateway", "gateway+otel"):
        if name not in results:
            continue
        g = results[name]
        goal = "goal >= 0.5" if name == "gateway" else "traces exported, for reference"
        print(f"  {name} / nginx throughput = {g[0] / n[0]:.2f} ({goal})")
        print(
            f"  {name} added latency over direct: p50 +{g[1] - d[1]:.2f} ms, "
            f"p99 +{g[2] - d[2]:.2f} ms (goal <= 2 ms)"
        )
    print(f"  nginx adds p99 +{n[2] - d[2]:.2f} ms")


async def main() -> None:
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin"):
            raise SystemExit(f"{tool} is missing: run `make bench-gateway` (installs it)")
    token, jwks, subject = token_and_jwks()
    work = Path(tempfile.mkdtemp(prefix="shopmesh-bench-gw-"))
    (work / "jwks.json").write_bytes(jwks)
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    order = uuid.uuid4()
    async with fresh_database("shopmesh_gateway", prefix="benchgw") as gateway_db:
        upstream_proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "bench_upstream.py"),
                str(up_port),
                str(work / "jwks.json"),
                subject,
            ]
        )
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
        try:
            wait_http(f"{upstream}/orders/{order}")
            for round_number, workers in enumerate(WORKERS):
                if round_number:
                    env["SHOPMESH_RUN_MIGRATIONS"] = "false"  # done by the first gateway
                nginx_port, gw_port, traced_port = free_port(), free_port(), free_port()
                (work / "nginx.conf").write_text(
                    NGINX_CONF.format(
                        prefix=work, upstream=up_port, port=nginx_port, workers=workers
                    )
                )
                procs = [
                    subprocess.Popen(
                        [
                            nginx_binary(),
                            "-p",
                            str(work),
                            "-c",
                            str(work / "nginx.conf"),
                            "-g",
                            "daemon off;",
                        ]
                    ),
                    start_gateway(port=gw_port, workers=workers, env=env, traced=False),
                ]
                targets = {
                    "direct": f"{upstream}/orders/{order}",
                    "nginx": f"http://127.0.0.1:{nginx_port}/orders/{order}",
                    "gateway": f"http://127.0.0.1:{gw_port}/api/orders/{order}",
                }
                try:
                    wait_http(targets["nginx"])
                    wait_http(f"http://127.0.0.1:{gw_port}/health/ready", timeout=60)
                    if TRACED:
                        env["SHOPMESH_RUN_MIGRATIONS"] = "false"
                        procs.append(
                            start_gateway(port=traced_port, workers=workers, env=env, traced=True)
                        )
                        targets["gateway+otel"] = (
                            f"http://127.0.0.1:{traced_port}/api/orders/{order}"
                        )
                        wait_http(f"http://127.0.0.1:{traced_port}/health/ready", timeout=60)
                    report(await measure(targets, token), workers)
                finally:
                    for proc in procs:
                        proc.terminate()
                    for proc in procs:
                        proc.wait(10)
        finally:
            upstream_proc.terminate()
            upstream_proc.wait(10)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(
        "gateway vs nginx vs direct, GET /api/orders/{id} with a JWT: "
        f"{SECONDS} s per phase, median of {REPEAT} rounds"
    )
    asyncio.run(main())
