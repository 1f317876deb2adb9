"""The provisioning file for a batch of NTAG 424 DNA chips: per chip, its keys and the Secure Dynamic Messaging (SDM)
settings that make it mirror a SUN message into its URL (NXP NT4H2421Gx datasheet, ChangeFileSettings; AN12196).

Two formats of the same content: JSON (`thingstead-sun-provisioning/1`, one document) and CSV (one row per chip).
docs/nfc.md. Each row carries the keys the chip has now (`current_key*`: the factory's all-zero keys for a new
chip, `current_keys` "factory"; the keys it was programmed with for a replacement, "replaced", shown this once
more) and its new keys (`key*`). What a programming tool does with a row:

1. Authenticate (AuthenticateEV2First) with `current_key0_app_master`; for a replacement whose
   `unconfirmed_key0_app_master` is set, try that if the first fails (the chip was programmed from the previous
   replacement's file and never tapped since; then use the `unconfirmed_key*` as the current keys below);
2. ChangeKey 1 (SDM meta read) and 2 (SDM file read) to the row's keys (ChangeKey of a key other than 0 sends the
   new key XOR the current one: hence `current_key1*`/`current_key2*`), then key 0 (application master) last;
3. WriteData of `ndef_file_hex` to the NDEF file (02), from offset 0;
4. ChangeFileSettings of file 02 with `change_file_settings_hex` as its command data (sent in full
   communication mode: the command is MACed and encrypted under the session of key 0).

Until the first verified tap under the new keys the server still accepts taps under the current ones (so a
replacement breaks nothing before the chip is programmed); that tap destroys them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from core import csvsafe
from tags import ndef, sun
from tags.nfc import KeySet, ProvisionedTag

FORMAT = "thingstead-sun-provisioning/1"
FORMATS = ("json", "csv")
# What an NTAG 424 DNA leaves the factory with: every application key all zero (datasheet, "Key management").
FACTORY_KEYS = KeySet(bytes(sun.KEY_BYTES), bytes(sun.KEY_BYTES), bytes(sun.KEY_BYTES))
PICC_PLACEHOLDER = "0" * sun.PICC_HEX
CMAC_PLACEHOLDER = "0" * sun.CMAC_HEX

# File 02 settings (datasheet, section "ChangeFileSettings"):
FILE_NO = 2
# FileOption: bit 6 SDM and mirroring enabled; bits 1-0 communication mode plain (a phone reads it unauthenticated).
FILE_OPTION = 0x40
# AccessRights, as sent: Read&Write key 0, Change key 0 | Read free (E), Write key 0.
ACCESS_RIGHTS = "00E0"
# SDMOptions: bit 7 UID mirror, bit 6 SDMReadCtr mirror, bit 0 ASCII encoding (no SDMENCFileData).
SDM_OPTIONS = 0xC1
META_READ_KEY_NO, FILE_READ_KEY_NO, CTR_RET_KEY_NO = 1, 2, 1
# SDMAccessRights, as sent: RFU (F) | SDMCtrRet, SDMMetaRead | SDMFileRead.
SDM_ACCESS_RIGHTS = f"F{CTR_RET_KEY_NO:X}{META_READ_KEY_NO:X}{FILE_READ_KEY_NO:X}"


@dataclass(frozen=True)
class ChipSettings:
    url: str  # with zero placeholders where the chip mirrors its values
    ndef_file: bytes
    picc_data_offset: int
    mac_input_offset: int
    mac_offset: int

    @property
    def change_file_settings(self) -> bytes:
        # FileOption, AccessRights, SDMOptions, SDMAccessRights, then the 3-byte little-endian offsets:
        # PICCDataOffset, SDMMACInputOffset, SDMMACOffset (no SDMENCFileData: the MAC input is empty).
        return (
            bytes([FILE_OPTION])
            + bytes.fromhex(ACCESS_RIGHTS)
            + bytes([SDM_OPTIONS])
            + bytes.fromhex(SDM_ACCESS_RIGHTS)
            + b"".join(o.to_bytes(3, "little") for o in (self.picc_data_offset, self.mac_input_offset, self.mac_offset))
        )


def chip_settings(tag_url: str) -> ChipSettings:
    """The NDEF file and SDM offsets for a tag URL: `<url>?picc_data=<32 zeros>&cmac=<16 zeros>`."""
    url = f"{tag_url}?picc_data={PICC_PLACEHOLDER}&cmac={CMAC_PLACEHOLDER}"
    file = ndef.type4_file(ndef.uri_message(url))
    mac_offset = ndef.offset_after(file, "&cmac=")
    return ChipSettings(
        url=url,
        ndef_file=file,
        picc_data_offset=ndef.offset_after(file, "?picc_data="),
        mac_input_offset=mac_offset,  # empty MAC input: it ends where it starts
        mac_offset=mac_offset,
    )


def _row(item: ProvisionedTag) -> dict[str, object]:
    tag = item.tag
    settings = chip_settings(tag.url)
    chip = item.chip_keys or FACTORY_KEYS
    unconfirmed = item.unconfirmed_keys
    return {
        "code": tag.display_code,
        "label": tag.label,
        "batch": tag.batch,
        "url": settings.url,
        "ndef_file_hex": settings.ndef_file.hex().upper(),
        "key0_app_master": item.master_key.hex().upper(),
        "key1_sdm_meta_read": item.meta_read_key.hex().upper(),
        "key2_sdm_file_read": item.file_read_key.hex().upper(),
        "key1_kcv": sun.key_check_value(item.meta_read_key),
        "key2_kcv": sun.key_check_value(item.file_read_key),
        "current_keys": "replaced" if item.chip_keys else "factory",
        "current_key0_app_master": chip.master_key.hex().upper(),
        "current_key1_sdm_meta_read": chip.meta_read_key.hex().upper(),
        "current_key2_sdm_file_read": chip.file_read_key.hex().upper(),
        "unconfirmed_key0_app_master": unconfirmed.master_key.hex().upper() if unconfirmed else "",
        "unconfirmed_key1_sdm_meta_read": unconfirmed.meta_read_key.hex().upper() if unconfirmed else "",
        "unconfirmed_key2_sdm_file_read": unconfirmed.file_read_key.hex().upper() if unconfirmed else "",
        "file_no": FILE_NO,
        "file_option": f"{FILE_OPTION:02X}",
        "access_rights": ACCESS_RIGHTS,
        "sdm_options": f"{SDM_OPTIONS:02X}",
        "sdm_access_rights": SDM_ACCESS_RIGHTS,
        "picc_data_offset": settings.picc_data_offset,
        "sdm_mac_input_offset": settings.mac_input_offset,
        "sdm_mac_offset": settings.mac_offset,
        "change_file_settings_hex": settings.change_file_settings.hex().upper(),
    }


def as_json(items: Iterable[ProvisionedTag]) -> bytes:
    document = {
        "format": FORMAT,
        "generated_at": timezone.now().isoformat(),
        "chip": "NTAG 424 DNA",
        "keys": {"0": "application master", "1": "SDM meta read (PICCData)", "2": "SDM file read (SDMMAC)"},
        "current_keys": "what the chip has now: authenticate and ChangeKey with these (factory: all zero)",
        "tags": [_row(item) for item in items],
    }
    return json.dumps(document, indent=2).encode()


def as_csv(items: Iterable[ProvisionedTag]) -> bytes:
    rows = [_row(item) for item in items]
    out = io.StringIO()
    # A label or batch name a spreadsheet would run as a formula gets the guard every CSV has (core.csvsafe).
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow(list(rows[0]) if rows else ["code"])
    writer.writerows(row.values() for row in rows)
    return out.getvalue().encode()


def render(items: list[ProvisionedTag], fmt: str) -> tuple[bytes, str]:
    """The file's bytes and its content type."""
    if fmt == "csv":
        return as_csv(items), "text/csv; charset=utf-8"
    return as_json(items), "application/json"
