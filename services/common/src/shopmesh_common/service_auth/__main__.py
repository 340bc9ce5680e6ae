"""`python -m shopmesh_common.service_auth --caller admin --audience inventory`: prints a
service token, for curl and scripts that call a service of the local stack directly."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from .tokens import ServiceAuthSettings, mint_token


def main(argv: list[str] | None = None) -> None:
    """Print a service token (`python -m shopmesh_common.service_auth --help`)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--caller", required=True, help="who calls (iss, sub)")
    parser.add_argument("--audience", required=True, help="the service called (aud)")
    parser.add_argument("--ttl", type=int, default=60, help="seconds (at most 300)")
    parser.add_argument("--secret-file", type=Path, help="default: SHOPMESH_SERVICE_TOKEN_SECRET")
    args = parser.parse_args(argv)
    secret = (
        args.secret_file.read_text().strip()
        if args.secret_file
        else os.environ.get("SHOPMESH_SERVICE_TOKEN_SECRET", "")
    )
    settings = ServiceAuthSettings(service_token_secret=secret, service_token_ttl_seconds=args.ttl)
    if settings.secret is None:
        parser.error("no secret: set SHOPMESH_SERVICE_TOKEN_SECRET or pass --secret-file")
    print(
        mint_token(
            secret=settings.secret,
            caller=args.caller,
            audience=args.audience,
            ttl_seconds=settings.service_token_ttl_seconds,
            now=time.time(),
        )
    )


if __name__ == "__main__":
    main()
