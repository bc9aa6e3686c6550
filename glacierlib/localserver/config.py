"""Settings of the local Glacier server: defaults are strict and fast.

Every behaviour the Glacier documentation leaves open (or that real AWS changed over time) is a
field here, so a test can pin the variant it relies on; the defaults follow the recommendations
of the reference (strict tree-hash rule, 5 minute signature skew, no job delay).
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_SECRET_KEY",
    "ServerConfig",
]

#: The fixed test key pair: AWS's own documentation example, so the two official SigV4 vectors
#: verify against a server started with default settings.
DEFAULT_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
DEFAULT_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 - public test key
DEFAULT_ACCOUNT_ID = "123456789012"

DAY = 86400.0


def _key_pairs(value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        value = tuple(value.items())
    pairs = tuple((str(k), str(s)) for k, s in value)  # type: ignore[attr-defined]
    if not pairs:
        raise ValueError("at least one key pair is required")
    return pairs


def _check_account(_instance: object, _attribute: object, value: str) -> None:
    if len(value) != 12 or not value.isdigit():
        raise ValueError("account_id must be 12 digits")


@attrs.frozen
class ServerConfig:
    """Everything the server can be told; ``attrs.evolve`` it for variants.

    Times are seconds of the simulated clock. Job delays default to zero so tests and
    ``--local`` never wait; set them to hours to rehearse the real service's pace.
    """

    region: str = "us-east-1"
    account_id: str = attrs.field(default=DEFAULT_ACCOUNT_ID, validator=_check_account)
    #: Accepted (access key, secret key) pairs; a dict is accepted too.
    key_pairs: tuple[tuple[str, str], ...] = attrs.field(
        default=((DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY),), converter=_key_pairs, repr=False
    )
    check_signatures: bool = True
    #: Largest allowed distance between X-Amz-Date and the real wall clock; None disables.
    max_clock_skew: float | None = 300.0
    expedited_delay: float = 0.0
    standard_delay: float = 0.0
    bulk_delay: float = 0.0
    inventory_delay: float = 0.0
    #: Interval of automatic inventory snapshots (AWS: about daily).
    inventory_interval: float = DAY
    #: What an inventory job on a never-inventoried vault does: fail it or return no archives.
    no_inventory: Literal["fail", "empty"] = "fail"
    job_output_ttl: float = DAY
    upload_ttl: float = DAY
    #: How long a completed upload answers a repeated Complete with the same archive id, and an
    #: aborted one accepts a second Abort.
    upload_grace: float = 3600.0
    #: "tree": x-amz-sha256-tree-hash on job output only for tree-hash aligned ranges (AWS
    #: documented rule); "megabyte": for every megabyte aligned range (botocore's wording).
    tree_hash_rule: Literal["tree", "megabyte"] = "tree"
    #: True: absent fields are JSON null (doc style); False: omitted (seen from real AWS).
    emit_nulls: bool = True
    csv_line_end: Literal["\n", "\r\n"] = "\n"
    #: Out-of-range list limits: clamp to the allowed range or answer 400.
    limit_policy: Literal["clamp", "reject"] = "clamp"
    #: Whether in-progress multipart uploads make DeleteVault fail (undocumented).
    uploads_block_delete: bool = False
    #: Per-archive overhead added to SizeInBytes (AWS: "includes per-archive overhead").
    archive_overhead: int = 0
    #: Answer every call with NoLongerSupportedException (the 2025 new-customer cut-off).
    no_longer_supported: bool = False
    #: Status of InsufficientCapacityException faults (API reference 503, model 400).
    insufficient_capacity_status: int = 503
    #: fsync disk storage metadata and bodies (slower; only matters for power loss).
    fsync: bool = False
    #: Serve the control plane (``/_local/...``, guarded by a per-run token); ``--local``
    #: runs turn it off, since nothing in them uses it.
    control_plane: bool = True
    max_vaults: int = 1000
    max_tags: int = 50

    def with_job_delay(self, seconds: float) -> ServerConfig:
        """The same settings with every job (all tiers and inventory) taking ``seconds``."""
        if seconds < 0:
            raise ValueError("a job delay cannot be negative")
        return attrs.evolve(
            self,
            expedited_delay=seconds,
            standard_delay=seconds,
            bulk_delay=seconds,
            inventory_delay=seconds,
        )
