"""`python -m ci.topology`: the topology for shell scripts, and the generated examples.

    python -m ci.topology local-services       "name port package" per service, upstreams first
    python -m ci.topology local-env NAME       NAME=VALUE lines for one service run locally
    python -m ci.topology databases            every service's database (ci/stack/stack.sh)
    python -m ci.topology examples [--check]   examples/microservices/ from the chart

Used by ci/stack/shop.sh (local-services, local-env), ci/stack/stack.sh (databases) and by
whoever changes the topology or the chart (examples; tests/chart/test_examples.py fails
while they are out of date).
"""

from __future__ import annotations

import argparse
import sys

from . import Topology, load_topology
from .chart import EXAMPLES_DIR, build_examples, find_helm, stale_examples


def write_examples(topology: Topology, *, check: bool) -> int:
    helm = find_helm()
    if helm is None:
        print("helm is missing: run make tools", file=sys.stderr)
        return 2
    files = build_examples(helm, topology)
    stale = stale_examples(files)
    if check:
        if stale:
            print(f"out of date: {', '.join(stale)}; run python -m ci.topology examples")
        return 1 if stale else 0
    for name in stale:
        (EXAMPLES_DIR / name).write_text(files[name])
        print(f"wrote {EXAMPLES_DIR / name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    topology = load_topology()
    parser = argparse.ArgumentParser(
        prog="python -m ci.topology",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("local-services", help="name port package, upstreams first")
    commands.add_parser("databases", help="every service's database, one per line")
    local_env = commands.add_parser("local-env", help="NAME=VALUE lines for one local service")
    local_env.add_argument("service", choices=list(topology.services))
    examples = commands.add_parser("examples", help="write examples/microservices/")
    examples.add_argument("--check", action="store_true", help="only compare; 1 when stale")
    args = parser.parse_args(argv)

    if args.command == "local-services":
        print("\n".join(f"{s.name} {s.local_port} {s.package}" for s in topology.start_order()))
    elif args.command == "databases":
        print("\n".join(sorted(s.database for s in topology.services.values())))
    elif args.command == "local-env":
        ports = {name: s.local_port for name, s in topology.services.items()}
        env = topology.local_env(args.service, lambda up: f"http://127.0.0.1:{ports[up]}")
        print("\n".join(f"{key}={value}" for key, value in env.items()))
    else:
        return write_examples(topology, check=args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
