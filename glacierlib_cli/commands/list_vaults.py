"""``mtglacier list-vaults``: ``--format for-humans`` (default), ``mtmsg`` or ``json``.

``mtmsg`` is mt-aws-glacier's machine format, kept byte for byte (TAB-separated, the five
fields per vault in its order, an empty string for null, then the summary lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.storage import VaultInfo
    from glacierlib_cli.output import Ui

NAME = "list-vaults"
SUMMARY = "list the vaults of the account"
OPTIONS = ("format",)
REQUIRED: tuple[str, ...] = ()


def _mtmsg(vaults: tuple[VaultInfo, ...]) -> list[str]:
    lines = []
    for v in vaults:
        fields = (("SizeInBytes", str(v.size_in_bytes)), ("CreationDate", v.creation_date),
                  ("VaultName", v.name), ("NumberOfArchives", str(v.number_of_archives)),
                  ("LastInventoryDate", v.last_inventory_date or ""))
        lines += [f"MTMSG\tVAULT_LIST\t{v.arn}\t{field}\t{value}" for field, value in fields]
    lines.append("MTMSG\tVAULTS_SUMMARY\ttotal_number_of_archives\t"
                 f"{sum(v.number_of_archives for v in vaults)}")
    lines.append("MTMSG\tVAULTS_SUMMARY\ttotal_size_of_archives\t"
                 f"{sum(v.size_in_bytes for v in vaults)}")
    return lines


def _for_humans(vaults: tuple[VaultInfo, ...]) -> list[str]:
    lines = []
    for v in vaults:
        lines.append(f"Vault {v.name} ({v.arn})")
        lines.append(f"Archives: {v.number_of_archives}, Size: {v.size_in_bytes}")
        lines.append(f"Created: {v.creation_date}")
        lines.append(f"Last inventory generation date: {v.last_inventory_date}"
                     if v.last_inventory_date else "Never had inventory generation")
        lines.append("")
    lines.append(f"Total vaults: {len(vaults)}")
    lines.append(f"Total archives: {sum(v.number_of_archives for v in vaults)}")
    lines.append(f"Total size: {sum(v.size_in_bytes for v in vaults)}")
    return lines


def _json(vaults: tuple[VaultInfo, ...]) -> list[dict[str, object]]:
    return [{"VaultName": v.name, "VaultARN": v.arn, "CreationDate": v.creation_date,
            "LastInventoryDate": v.last_inventory_date,
            "NumberOfArchives": v.number_of_archives, "SizeInBytes": v.size_in_bytes}
           for v in vaults]


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.vaults import list_vaults

    vaults = list_vaults(settings, on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(
            ui, exit_code=0, counts={"vaults": len(vaults),
                                     "archives": sum(v.number_of_archives for v in vaults)},
            bytes={"stored": sum(v.size_in_bytes for v in vaults)}, VaultList=_json(vaults)))
        return 0
    formatter = {"mtmsg": _mtmsg}.get(settings.format, _for_humans)
    for line in formatter(vaults):
        ui.out(line)
    return 0
