"""The local stack's SMTP sink: accepts every message on loopback and stores it as
one file in a Maildir (aiosmtpd's Mailbox handler), so tests can count the files in
<maildir>/new. Started in the background by ci/stack/stack.sh (make stack-up):

    python ci/stack/smtp_sink.py --host 127.0.0.1 --port 12525 --maildir DIR
"""

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def main() -> int:
    parser = argparse.ArgumentParser(description="SMTP sink writing every message to a Maildir")
    parser.add_argument(
        "--host", action="append", help="address to listen on (repeatable; default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=12525)
    parser.add_argument("--maildir", required=True, help="Maildir to write to (created if missing)")
    args = parser.parse_args()
    # mailbox.Maildir makes new/, cur/ and tmp/ only when the directory itself is new.
    for sub in ("new", "cur", "tmp"):
        Path(args.maildir, sub).mkdir(parents=True, exist_ok=True)

    hosts = args.host or ["127.0.0.1"]
    controllers = [
        Controller(Mailbox(args.maildir), hostname=host, port=args.port) for host in hosts
    ]
    for controller in controllers:
        try:
            controller.start()
        except Exception as exc:
            print(
                f"smtp sink: cannot listen on {controller.hostname}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"smtp sink: listening on {hosts} port {args.port}, Maildir {args.maildir}", flush=True)
    stop.wait()
    for controller in controllers:
        controller.stop()
    print("smtp sink: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
