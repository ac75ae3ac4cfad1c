"""Passive authentication of card images and of LDS files read earlier (``cardkit verify-files``).

A folder is recognised by what it holds: a card image (``manifest.json``, its hashes checked
first), a folder of LDS files (``EF.SOD.bin``, ``DG1.bin`` … or any names: files are identified by
their tags), or a folder of such folders (a prepared batch), verified one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardkit.encoding import tlv
from cardkit.errors import CardkitError
from cardkit.lds import files
from cardkit.lds.com import Com
from cardkit.lds.decode import identify
from cardkit.lds.sod import Sod
from cardkit.pki.passive import passive_authentication
from cardkit.pki.policy import VerificationPolicy
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile
from cardkit.report import Check, Report, Status
from cardkit.services.card_image import MANIFEST, CardImageError, read_card_image
from cardkit.services.denylist import DenyList
from cardkit.services.verify import (
    content_checks,
    profile_checks,
    resolve_policy,
    resolve_profile,
)


@dataclass(frozen=True)
class FolderReport:
    path: Path
    report: Report


def _whole_tlv(data: bytes) -> bool:
    """Whether ``data`` is one BER-TLV and nothing else (EF.CardAccess may be zero-padded)."""
    try:
        tlv.decode_single(data.rstrip(b"\x00") if data[:1] == b"\x31" else data)
    except CardkitError:
        return False
    return True


def _lds_files(folder: Path) -> list[tuple[files.FileSpec, bytes, bool]]:
    """Every file of ``folder`` that starts like an LDS file, whatever its name (cardkit's
    ``DG1.bin``, JMRTD's ``DG1``/``COM``/``SOD`` dumps …): (spec, bytes, is one whole TLV)."""
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix in (".json", ".sealed"):
            continue
        try:
            data = path.read_bytes()
            spec = identify(data)
        except (OSError, CardkitError):
            continue  # not an LDS file: ignored, as `lds dump` reports such files
        found.append((spec, data, _whole_tlv(data)))
    return found


def _load_lds_folder(folder: Path) -> dict[files.FileSpec, bytes]:
    found: dict[files.FileSpec, bytes] = {}
    whole: set[files.FileSpec] = set()
    for spec, data, is_whole in _lds_files(folder):
        # A stray file whose first byte looks like a tag (a note starting with "a" = DG1's 61)
        # must not replace the real file; a damaged real file is still kept, so that its hash
        # fails rather than the data group silently going missing.
        if spec not in found or (is_whole and spec not in whole):
            found[spec] = data
        if is_whole:
            whole.add(spec)
    return found


def _com_groups(lds: dict[files.FileSpec, bytes]) -> tuple[list[int] | None, Check | None]:
    data = lds.get(files.COM)
    if data is None:
        return None, None
    try:
        return list(Com.from_bytes(data).data_groups), None
    except CardkitError as exc:
        return None, Check("com.parse", "EF.COM decodes", Status.FAIL, str(exc), "9303-10 §4.6.1")


def verify_folder(
    folder: Path,
    trust: TrustStore,
    at: datetime,
    *,
    qr: str | None = None,
    deny_list: DenyList | None = None,
    policy: VerificationPolicy | None = None,
    profile: Profile | str | None = None,
    require_crl: bool = False,
) -> Report:
    """Every check on one card image or LDS folder: passive authentication under the policy,
    the content checks of :func:`cardkit.services.verify.content_checks` and the profile's
    promises that files can show (its data groups); never raises on bad content. ``profile``
    and ``policy`` are resolved as :func:`cardkit.services.verify.verify_card` does."""
    checks: list[Check] = []
    lds: dict[files.FileSpec, bytes]
    if (folder / MANIFEST).exists():
        try:
            image = read_card_image(folder)
        except CardImageError as exc:
            checks.append(
                Check("image.manifest", "Files match the manifest", Status.FAIL, str(exc))
            )
            lds = _load_lds_folder(folder)
        else:
            checks.append(
                Check("image.manifest", "Files match the manifest", Status.PASS, "all hashes match")
            )
            lds = dict(image.files)
    else:
        lds = _load_lds_folder(folder)
    com, com_check = _com_groups(lds)
    if com_check is not None:
        checks.append(com_check)
    sod = lds.get(files.SOD, b"")
    groups = {spec.dg: data for spec, data in lds.items() if spec.dg is not None}
    chosen, given = resolve_profile(profile, groups)
    rules = resolve_policy(policy, chosen, require_crl=require_crl)
    checks.extend(
        passive_authentication(sod, groups, trust, at=at, com_data_groups=com, policy=rules)
    )
    # The card-level checks `cardkit verify` runs after reading a chip (DG13 vs DG1, expiry,
    # deny list, the profile): the same code, on the files of the image.
    checks.extend(
        content_checks(groups, today=at.date(), qr=qr, deny_list=deny_list, profile=chosen)
    )
    checks.extend(profile_checks(chosen, given, groups, _signed_groups(sod)))
    return Report(tuple(checks))


def _signed_groups(sod: bytes) -> tuple[int, ...] | None:
    try:
        return tuple(Sod.from_bytes(sod).lds_security_object.hashes)
    except Exception:  # hostile bytes: sod.parse reports them
        return None


def _holds_card(folder: Path) -> bool:
    if (folder / MANIFEST).exists():
        return True
    # An EF.SOD (even a damaged one: its checks will say so) or any well-formed LDS file.
    return any(spec == files.SOD or is_whole for spec, _data, is_whole in _lds_files(folder))


def card_folders(path: Path) -> Iterator[Path]:
    """``path`` itself when it holds a card (a manifest, or LDS files under any names), else its
    sub-folders that do (a prepared batch)."""
    if _holds_card(path):
        yield path
        return
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _holds_card(sub):
            yield sub


def verify_files(
    path: Path,
    trust: TrustStore,
    at: datetime,
    *,
    deny_list: DenyList | None = None,
    policy: VerificationPolicy | None = None,
    profile: Profile | str | None = None,
    require_crl: bool = False,
) -> list[FolderReport]:
    return [
        FolderReport(
            folder,
            verify_folder(
                folder,
                trust,
                at,
                deny_list=deny_list,
                policy=policy,
                profile=profile,
                require_crl=require_crl,
            ),
        )
        for folder in card_folders(path)
    ]
