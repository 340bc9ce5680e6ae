"""An aiohttp session to the Kubernetes API, from kopf's own login.

kopf already finds the credentials (in-cluster service account, or the
kubeconfig named by KUBECONFIG); this turns its ConnectionInfo into an aiohttp
session with the right TLS context and auth header. Written by hand instead of
using kubernetes_asyncio because that client costs about 60 MB of resident
memory and ~2 s of start-up (kopf imports it whenever it is installed), a third
of the operator's 150 MB budget, for the five REST calls apply.py makes.
Used by apply.KubeApi.connect.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import kopf

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass
class Connection:
    session: aiohttp.ClientSession
    server: str
    token: str | None
    token_path: Path | None

    def headers(self) -> dict[str, str]:
        token = self.token
        if self.token_path is not None:  # bound tokens rotate: read the file each time
            token = self.token_path.read_text().strip()
        return {"Authorization": f"Bearer {token}"} if token else {}


async def connect() -> Connection:
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no KUBECONFIG")
    context = _ssl_context(info)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context, limit=64),
        timeout=aiohttp.ClientTimeout(total=60),
    )
    in_cluster = _in_cluster() and info.token is not None
    return Connection(
        session=session,
        server=info.server.rstrip("/"),
        token=info.token,
        token_path=SERVICE_ACCOUNT_TOKEN if in_cluster else None,
    )


def _in_cluster() -> bool:
    return SERVICE_ACCOUNT_TOKEN.exists()


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context(
        cafile=str(info.ca_path) if info.ca_path else None,
        cadata=_pem(info.ca_data) if info.ca_data else None,
    )
    certificate = _file(info.certificate_path, info.certificate_data)
    key = _file(info.private_key_path, info.private_key_data)
    if certificate and key:
        context.load_cert_chain(certificate, key)
    return context


def _pem(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return raw.decode() if raw.lstrip().startswith(b"-----") else base64.b64decode(raw).decode()


def _file(path: object, data: str | bytes | None) -> str | None:
    if path:
        return str(path)
    if not data:
        return None
    handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
    with handle:
        handle.write(_pem(data))
    return handle.name
