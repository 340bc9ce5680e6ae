"""FastAPI dependencies of the users routes: the use cases stored on app.state by main."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service_layer.accounts import Accounts
from ..service_layer.keyring import KeyRing


def get_accounts(request: Request) -> Accounts:
    """The account use cases."""
    accounts: Accounts = request.app.state.accounts
    return accounts


def get_keyring(request: Request) -> KeyRing:
    """The signing key ring."""
    keyring: KeyRing = request.app.state.keyring
    return keyring


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
