"""Vault management: ``create-vault``, ``delete-vault``, ``list-vaults``.

Each is one store call; the CLI formats the result (``for-humans``, ``mtmsg``, ``json``).
"""

from __future__ import annotations

from glacierlib.config import Settings
from glacierlib.operations._store import store_for
from glacierlib.progress import ProgressCallback, ignore_progress
from glacierlib.storage import VaultInfo

__all__ = ["create_vault", "delete_vault", "list_vaults"]


def create_vault(settings: Settings, name: str,
                 on_event: ProgressCallback = ignore_progress) -> str:
    """Create ``name`` (creating an existing vault succeeds, as on Glacier); return it."""
    with store_for(settings, on_event) as store:
        store.create_vault(name)
    return name


def delete_vault(settings: Settings, name: str,
                 on_event: ProgressCallback = ignore_progress) -> str:
    """Delete ``name``; Glacier refuses a vault that held archives at its last inventory."""
    with store_for(settings, on_event) as store:
        store.delete_vault(name)
    return name


def list_vaults(settings: Settings,
                on_event: ProgressCallback = ignore_progress) -> tuple[VaultInfo, ...]:
    """Every vault of the account in the region, in the service's order (all pages)."""
    with store_for(settings, on_event) as store:
        return tuple(store.list_vaults())
