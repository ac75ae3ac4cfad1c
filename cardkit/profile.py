"""Card profiles: what a card of a given issuing programme carries and how (profiles/*.toml).

A profile is data, not code: which data groups, which access control, the photo's size and
format, the expiry rule, the lengths the chip and the card face can hold. It is validated on load
so that a typo fails before the first card, with the file and key named in the error.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cardkit.errors import ProfileError

if TYPE_CHECKING:
    from cardkit.layout.model import Layout

ImageFormat = Literal["jpeg", "jpeg2000"]
AaAlgorithm = Literal["ECDSA", "RSA", "none"]
ExpiryRuleName = Literal["vn-renewal-ages", "fixed-years"]
MrzLayout = Literal["vn-cccd", "icao"]

_PACE_PASSWORDS = {"CAN", "MRZ"}
_PACE_MAPPINGS = {"GM", "IM", "CAM"}
_CURVES = {
    "secp256r1", "secp384r1", "secp521r1",
    "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
}  # fmt: skip


@dataclass(frozen=True)
class DocumentSettings:
    """What goes into the MRZ header and EF.COM."""

    document_code: str  # "ID" for the CCCD, "I<" for a generic TD1 card
    issuing_state: str  # ICAO 9303-3 three-letter code, e.g. "VNM"
    mrz_layout: MrzLayout  # "vn-cccd": DOMAIN.md §3; "icao": plain 9303-5 TD1
    lds_version: str  # EF.COM tag 5F01, four digits "aabb" (9303-10 §4.6.1)
    unicode_version: str  # EF.COM tag 5F36, six digits "aabbcc"
    issuing_authority: str  # DG12 tag 5F19 and the card face's issuer line


@dataclass(frozen=True)
class LdsSettings:
    data_groups: tuple[int, ...]  # always written
    optional_data_groups: tuple[int, ...]  # written when the record has the data (e.g. DG3)


@dataclass(frozen=True)
class AccessSettings:
    bac: bool
    pace_passwords: tuple[str, ...]  # subset of {"CAN", "MRZ"}; empty: no PACE
    pace_mapping: str  # "GM", "IM" or "CAM"
    pace_curve: str
    chip_authentication: bool
    chip_authentication_curve: str
    active_authentication: AaAlgorithm
    active_authentication_curve: str
    rsa_bits: int  # for RSA active authentication
    #: EAC terminal authentication (TR-03110-1 TA v1): the chip gets the issuing state's CVCA
    #: as its trust point and DG14 announces TA; DG3/DG4 are read only after it.
    terminal_authentication: bool = False


@dataclass(frozen=True)
class PhotoSettings:
    format: ImageFormat
    width: int  # pixels, after scaling and cropping to this aspect ratio
    height: int
    max_bytes: int  # the encoded image must fit this (chip memory)
    quality: int  # JPEG quality, or a JPEG2000 quality layer target (dB) when format is jpeg2000


@dataclass(frozen=True)
class ExpirySettings:
    """How a card's expiry date follows from the date of birth and date of issue.

    ``vn-renewal-ages``: Law on Citizen Identification 2014 art. 21 (DOMAIN.md §2): valid until
    the next renewal age's birthday; issued within ``grace_years`` before one, until the
    following one; issued from ``no_expiry_from_age`` on, no expiry. ``fixed-years``: issue date
    plus ``years``. ``mrz_no_expiry`` is the YYMMDD the MRZ carries for a card that never expires.
    """

    rule: ExpiryRuleName
    renewal_ages: tuple[int, ...]
    grace_years: int
    no_expiry_from_age: int | None
    years: int
    mrz_no_expiry: str


@dataclass(frozen=True)
class Limits:
    """Longest values (in characters) the chip's DG13 and the card face can carry."""

    full_name: int
    place_of_origin: int
    place_of_residence: int
    identifying_marks: int
    other_text: int  # ethnicity, religion, parents, spouse


@dataclass(frozen=True)
class VerificationSettings:
    """How cards of this profile are verified: the algorithm policy's name
    (:mod:`cardkit.pki.policy`: ``default`` or ``legacy``) and whether a current CRL is
    required for a VALID verdict."""

    policy: str = "default"
    require_crl: bool = False


#: The personalization command sets cardkit writes (cardkit.applet.dialect).
AppletDialect = Literal["cardkit", "jmrtd"]


@dataclass(frozen=True)
class AppletSettings:
    """The chip applet cards of this profile are written to: its command ``dialect``
    (``cardkit``: cardkit's applet and emulator; ``jmrtd``: JMRTD's original passport applet)."""

    dialect: AppletDialect = "cardkit"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    document: DocumentSettings
    lds: LdsSettings
    access: AccessSettings
    photo: PhotoSettings
    expiry: ExpirySettings
    limits: Limits
    source: Path | None = None
    #: The [layout] table as read; :attr:`layout` parses it (at load, unless the profile was
    #: only loaded to be matched against a card: inference needs no card face).
    layout_table: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    verification: VerificationSettings = VerificationSettings()
    applet: AppletSettings = AppletSettings()

    @functools.cached_property
    def layout(self) -> Layout | None:
        """The card face ([layout]); None: the profile cannot print. ProfileError when the
        table is malformed."""
        if self.layout_table is None:
            return None
        from cardkit.layout.model import parse_layout

        return parse_layout(dict(self.layout_table), str(self.source) if self.source else "profile")


def profile_dirs() -> list[Path]:
    """Where profiles are looked up by name: $CARDKIT_PROFILES, ./profiles, the repo's profiles/."""
    dirs: list[Path] = []
    if env := os.environ.get("CARDKIT_PROFILES"):
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.append(Path.cwd() / "profiles")
    dirs.append(Path(__file__).resolve().parent.parent / "profiles")
    return dirs


def _profile_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix:
        return path
    for d in profile_dirs():
        candidate = d / f"{path.name}.toml"
        if candidate.is_file():
            return candidate
    names = sorted({p.stem for d in profile_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise ProfileError(
        f"no profile named {str(name_or_path)!r}; available: "
        + (", ".join(names) if names else "none")
        + " (in "
        + ", ".join(dict.fromkeys(str(d.resolve()) for d in profile_dirs()))
        + ")"
    )


def _profile_data(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The TOML tables of the profile at ``path``; with ``[profile] extends = "NAME"`` the named
    profile's tables first, each table of this file replacing the base's key by key (one card
    on two applets shares everything but [access], [lds], [applet])."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    head = data.get("profile")
    base_name = head.pop("extends", None) if isinstance(head, dict) else None
    if base_name is None:
        return data
    if not isinstance(base_name, str) or not base_name:
        raise ProfileError(f"{path} [profile]: extends names another profile")
    base_path = _profile_path(base_name).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ProfileError(f"{path} [profile]: extends {base_name!r} in a loop")
    merged = _profile_data(base_path, (*seen, path.resolve()))
    for table, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(table), dict) and table != "layout":
            merged[table] = {**merged[table], **value}
        else:
            merged[table] = value
    return merged


def load_profile(name_or_path: str | Path, *, lazy_layout: bool = False) -> Profile:
    """Load a profile by file path or by name (``vn-cccd-2021``) from :func:`profile_dirs`."""
    path = _profile_path(name_or_path)
    return parse_profile(_profile_data(path), source=path, lazy_layout=lazy_layout)


class _Section:
    """Typed access to one TOML table, naming file and key in every error."""

    def __init__(self, data: dict[str, Any], where: str, name: str) -> None:
        raw = data.get(name)
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: missing table [{name}]")
        self.data = raw
        self.where = f"{where} [{name}]"
        self.used: set[str] = set()

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise ProfileError(f"{self.where}: missing key {key!r}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise ProfileError(f"{self.where}: {key!r} has the wrong type ({type(value).__name__})")
        return value

    def text(self, key: str, choices: set[str] | None = None, default: Any = ...) -> Any:
        value = self._get(key, str, default)
        if choices is not None and value not in choices:
            raise ProfileError(
                f"{self.where}: {key!r} is {value!r}; expected one of {', '.join(sorted(choices))}"
            )
        return value

    def optional_number(self, key: str, lo: int, hi: int) -> int | None:
        value = self._get(key, int, None)
        if value is not None and not lo <= value <= hi:
            raise ProfileError(f"{self.where}: {key!r} = {value} is outside {lo}..{hi}")
        return None if value is None else int(value)

    def number(self, key: str, lo: int, hi: int, default: Any = ...) -> int:
        if key in self.data:
            value = self.optional_number(key, lo, hi)
            assert value is not None  # present keys are never None in TOML
            return value
        return int(self._get(key, int, default))

    def flag(self, key: str, default: Any = ...) -> bool:
        return bool(self._get(key, bool, default))

    def numbers(self, key: str, lo: int, hi: int, default: Any = ...) -> tuple[int, ...]:
        value = self._get(key, list, default)
        if not all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value):
            raise ProfileError(f"{self.where}: {key!r} must list whole numbers in {lo}..{hi}")
        return tuple(value)

    def texts(self, key: str, choices: set[str], default: Any = ...) -> tuple[str, ...]:
        value = self._get(key, list, default)
        bad = [v for v in value if v not in choices]
        if bad:
            raise ProfileError(
                f"{self.where}: {key!r} has {bad!r}; allowed: {', '.join(sorted(choices))}"
            )
        return tuple(value)

    def done(self) -> None:
        unknown = set(self.data) - self.used
        if unknown:
            raise ProfileError(f"{self.where}: unknown key(s) {', '.join(sorted(unknown))}")


def parse_profile(
    data: dict[str, Any], source: Path | None = None, *, lazy_layout: bool = False
) -> Profile:
    """Validate a decoded TOML document and build the :class:`Profile`; with ``lazy_layout``
    its [layout] is parsed (and checked) only when first used."""
    where = str(source) if source else "profile"
    unknown_tables = set(data) - {
        "profile", "document", "lds", "access", "photo", "expiry", "limits", "layout",
        "verification", "applet",
    }  # fmt: skip
    if unknown_tables:
        raise ProfileError(f"{where}: unknown table(s) {', '.join(sorted(unknown_tables))}")

    head = _Section(data, where, "profile")
    name = head.text("name")
    description = head.text("description", default="")
    head.done()

    d = _Section(data, where, "document")
    document = DocumentSettings(
        document_code=d.text("document_code"),
        issuing_state=d.text("issuing_state"),
        mrz_layout=d.text("mrz_layout", {"vn-cccd", "icao"}),
        lds_version=d.text("lds_version", default="0108"),
        unicode_version=d.text("unicode_version", default="040000"),
        issuing_authority=d.text("issuing_authority", default=""),
    )
    d.done()
    if not (len(document.document_code) == 2 and document.document_code[0] in "IAC"):
        raise ProfileError(f"{where} [document]: a TD1 document code is I, A or C plus one letter")
    if not (len(document.issuing_state) == 3 and document.issuing_state.isalpha()):
        raise ProfileError(f"{where} [document]: issuing_state must be a 3-letter code")
    if not (len(document.lds_version) == 4 and document.lds_version.isdigit()):
        raise ProfileError(f"{where} [document]: lds_version must be 4 digits such as '0108'")
    if not (len(document.unicode_version) == 6 and document.unicode_version.isdigit()):
        raise ProfileError(f"{where} [document]: unicode_version must be 6 digits such as '040000'")

    s = _Section(data, where, "lds")
    lds = LdsSettings(
        data_groups=s.numbers("data_groups", 1, 16),
        optional_data_groups=s.numbers("optional_data_groups", 1, 16, default=[]),
    )
    s.done()
    if 1 not in lds.data_groups or 2 not in lds.data_groups:
        raise ProfileError(f"{where} [lds]: DG1 and DG2 are mandatory (9303-10 §4.6)")
    if set(lds.data_groups) & set(lds.optional_data_groups):
        raise ProfileError(f"{where} [lds]: a DG is listed as both mandatory and optional")

    a = _Section(data, where, "access")
    access = AccessSettings(
        bac=a.flag("bac"),
        pace_passwords=a.texts("pace_passwords", _PACE_PASSWORDS, default=[]),
        pace_mapping=a.text("pace_mapping", _PACE_MAPPINGS, default="GM"),
        pace_curve=a.text("pace_curve", _CURVES, default="brainpoolP256r1"),
        chip_authentication=a.flag("chip_authentication", default=False),
        chip_authentication_curve=a.text("chip_authentication_curve", _CURVES, default="secp256r1"),
        active_authentication=a.text("active_authentication", {"ECDSA", "RSA", "none"}),
        active_authentication_curve=a.text(
            "active_authentication_curve", _CURVES, default="secp256r1"
        ),
        rsa_bits=a.number("rsa_bits", 1024, 4096, default=2048),
        terminal_authentication=a.flag("terminal_authentication", default=False),
    )
    a.done()
    if access.terminal_authentication and not access.chip_authentication:
        raise ProfileError(
            f"{where} [access]: terminal authentication (EAC1) runs after chip authentication"
        )
    if not access.bac and not access.pace_passwords:
        raise ProfileError(f"{where} [access]: enable BAC or at least one PACE password")
    if access.chip_authentication and 14 not in lds.data_groups:
        raise ProfileError(f"{where}: chip authentication needs DG14 in [lds] data_groups")
    if access.active_authentication != "none" and 15 not in lds.data_groups:
        raise ProfileError(f"{where}: active authentication needs DG15 in [lds] data_groups")

    p = _Section(data, where, "photo")
    photo = PhotoSettings(
        format=p.text("format", {"jpeg", "jpeg2000"}),
        width=p.number("width", 90, 2000),
        height=p.number("height", 120, 2000),
        max_bytes=p.number("max_bytes", 2000, 200_000),
        quality=p.number("quality", 1, 100, default=85),
    )
    p.done()

    e = _Section(data, where, "expiry")
    expiry = ExpirySettings(
        rule=e.text("rule", {"vn-renewal-ages", "fixed-years"}),
        renewal_ages=e.numbers("renewal_ages", 1, 150, default=[]),
        grace_years=e.number("grace_years", 0, 10, default=0),
        no_expiry_from_age=e.optional_number("no_expiry_from_age", 1, 150),
        years=e.number("years", 1, 30, default=10),
        mrz_no_expiry=e.text("mrz_no_expiry", default="<<<<<<"),
    )
    e.done()
    if expiry.rule == "vn-renewal-ages" and not expiry.renewal_ages:
        raise ProfileError(f"{where} [expiry]: rule vn-renewal-ages needs renewal_ages")
    if list(expiry.renewal_ages) != sorted(set(expiry.renewal_ages)):
        raise ProfileError(f"{where} [expiry]: renewal_ages must be increasing")
    if len(expiry.mrz_no_expiry) != 6:
        raise ProfileError(f"{where} [expiry]: mrz_no_expiry is six characters (YYMMDD or '<')")

    li = _Section(data, where, "limits")
    limits = Limits(
        full_name=li.number("full_name", 10, 200),
        place_of_origin=li.number("place_of_origin", 10, 500),
        place_of_residence=li.number("place_of_residence", 10, 500),
        identifying_marks=li.number("identifying_marks", 10, 500),
        other_text=li.number("other_text", 10, 500),
    )
    li.done()

    # Optional: a profile without [layout] still prepares and verifies cards, it cannot print.
    layout = data.get("layout")
    if layout is not None and not isinstance(layout, dict):
        raise ProfileError(f"{where}: [layout] must be a table")

    verification = VerificationSettings()
    if "verification" in data:
        v = _Section(data, where, "verification")
        verification = VerificationSettings(
            policy=v.text("policy", {"default", "legacy"}, default="default"),
            require_crl=v.flag("require_crl", default=False),
        )
        v.done()

    applet = AppletSettings()
    if "applet" in data:
        ap = _Section(data, where, "applet")
        dialect = ap.text("dialect", {"cardkit", "jmrtd"}, default="cardkit")
        applet = AppletSettings("jmrtd" if dialect == "jmrtd" else "cardkit")
        ap.done()

    profile = Profile(
        name, description, document, lds, access, photo, expiry, limits, source, layout,
        verification, applet,
    )  # fmt: skip
    if not lazy_layout:
        _ = profile.layout  # validated with the rest
    return profile


def installed_profiles() -> tuple[Profile, ...]:
    """Every profile found in :func:`profile_dirs` (the first of each name wins), by name.
    A profile file that does not load is skipped: inference must not fail on a stray file.
    Parsed once per set of files (path, size, modification time): a checkpoint infers the
    profile of every card."""
    files: list[tuple[Path, int, int]] = []
    for directory in profile_dirs():
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                files.append((path, stat.st_size, stat.st_mtime_ns))
    return _parsed_profiles(tuple(files))


@functools.lru_cache(maxsize=4)
def _parsed_profiles(files: tuple[tuple[Path, int, int], ...]) -> tuple[Profile, ...]:
    found: dict[str, Profile] = {}
    for path, _size, _mtime in files:
        try:
            profile = load_profile(path, lazy_layout=True)  # matching needs no card face
        except ProfileError:
            continue
        found.setdefault(profile.name, profile)
    return tuple(found[name] for name in sorted(found))


def profile_for_document(
    issuing_state: str,
    document_code: str,
    data_groups: Collection[int] | None = None,
    active_authentication: AaAlgorithm | None = None,
) -> Profile | None:
    """The installed profile for a document of ``issuing_state`` (ICAO 9303-3 code, e.g.
    ``VNM``) and ``document_code`` (e.g. ``ID``, ``I<``): the one whose [document] has both —
    when several do (one card on two applets: vn-cccd-2021, vn-cccd-jmrtd), the only one that
    the card's ``data_groups`` and ``active_authentication`` algorithm (DG15's key) fit, else
    the first by name (so a card that fits none is held to it and fails where it differs); else
    the only one of that state whose code has the same document type letter; else None."""
    profiles = installed_profiles()
    exact = [
        p
        for p in profiles
        if p.document.issuing_state == issuing_state and p.document.document_code == document_code
    ]
    if len(exact) > 1 and data_groups is not None:
        present = set(data_groups)
        fitting = [
            p
            for p in exact
            if set(p.lds.data_groups) <= present
            and present <= set(p.lds.data_groups) | set(p.lds.optional_data_groups)
            and (active_authentication or "none") == p.access.active_authentication
        ]
        if len(fitting) == 1:
            return fitting[0]
    if exact:
        return exact[0]
    same_type = [
        p
        for p in profiles
        if p.document.issuing_state == issuing_state
        and p.document.document_code[:1] == document_code[:1]
    ]
    return same_type[0] if len(same_type) == 1 else None
