"""The admin API of the gateway: API keys for machine clients (partners, jobs).

`POST /admin/api-keys {name, scopes}` -> 201 `{id, name, scopes, prefix, created_at, key}`:
the key is shown this once (only its SHA-256 is stored); `GET /admin/api-keys` lists
keys without secrets; `DELETE /admin/api-keys/{id}` revokes (204; 404 if unknown).
Every route needs the admin bearer token (api.deps.require_admin); answers are no-store.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from shopmesh_common.problems import Problem

from ..domain.api_keys import ApiKeyRecord
from ..domain.schemas import ApiKeyIn
from .body import read_json
from .deps import AdminOnly, GatewayDep
from .edge import add_response_header

router = APIRouter(prefix="/admin/api-keys", tags=["admin"], dependencies=[AdminOnly])


def _public(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "scopes": list(record.scopes),
        "created_at": record.created_at.isoformat(),
        "revoked_at": None if record.revoked_at is None else record.revoked_at.isoformat(),
    }


@router.post("", status_code=201)
async def issue_api_key(request: Request, gw: GatewayDep) -> dict[str, Any]:
    """Issue a key scoped to route names (domain.routes.API_KEY_SCOPES)."""
    add_response_header(request.scope, "Cache-Control", "no-store")
    body = await read_json(request, ApiKeyIn, max_bytes=gw.max_body_bytes)
    record, secret = await gw.api_keys.issue(name=body.name, scopes=body.scopes)
    return {**_public(record), "key": secret}


@router.get("")
async def list_api_keys(request: Request, gw: GatewayDep) -> list[dict[str, Any]]:
    """Every key, revoked ones included; never a secret."""
    add_response_header(request.scope, "Cache-Control", "no-store")
    return [_public(record) for record in await gw.api_keys.list_keys()]


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: uuid.UUID, gw: GatewayDep) -> Response:
    """Revoke a key: from now on it gets 401 (other replicas: within api_key_cache_seconds)."""
    if not await gw.api_keys.revoke(key_id):
        raise Problem(404, f"no API key {key_id}", type_="api-key-not-found")
    return Response(status_code=204)
