"""The SMTP adapter: renders an `OutgoingEmail` as a MIME message and sends it (aiosmtplib).

Used by `main.create_app` as the `Mailer` of the service layer. `build_message` is pure so
the headers that make re-sends recognisable (Message-ID, X-ShopMesh-Order-Id) are unit
tested without a server.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from ..domain.model import OutgoingEmail

ORDER_ID_HEADER = "X-ShopMesh-Order-Id"


def build_message(email: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The MIME message for `email`, with its stable Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((email.recipient_name, email.recipient))
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = email.message_id
    message[ORDER_ID_HEADER] = email.order_id
    message.set_content(email.body)
    return message


class SmtpMailer:
    """Sends over SMTP to one relay host (the stack's sink, or a real relay)."""

    def __init__(self, *, host: str, port: int, sender: str, timeout_seconds: float) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout_seconds

    async def send(self, email: OutgoingEmail) -> None:
        """Return once the server accepted the message for the recipient; raise otherwise."""
        message = build_message(email, sender=self._sender)
        # aiosmtplib's timeout is per command; the overall deadline is what keeps a send
        # shorter than the row's lease (settings.send_lease_seconds).
        async with asyncio.timeout(self._timeout):
            await aiosmtplib.send(
                message, hostname=self._host, port=self._port, timeout=self._timeout
            )
