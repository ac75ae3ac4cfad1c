"""`cardkit eac`: run the state's CV PKI of Extended Access Control (BSI TR-03110-3).

The CV PKI lives in ``KEYS/eac`` beside the X.509 PKI of `cardkit pki` (the same keys folder, the
same audit log): see :mod:`cardkit.services.eac_admin` for the folder layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import click

from cardkit.cli.render import echo_json
from cardkit.errors import PkiError
from cardkit.pki.cvc import Certificate, CertificateRequest
from cardkit.pki.secrets import read_secret
from cardkit.services import eac_admin
from cardkit.services.eac_admin import EacPki, Issued

#: Shortest key password `eac init` accepts without --weak-password-ok (as `pki init`).
MIN_PASSWORD_LENGTH = 12

_KEYS_OPTION = click.option(
    "--keys",
    "keys_dir",
    default="keys",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The keys folder; the CV PKI is its eac/ folder.",
)
_SECRET_OPTION = click.option(
    "--password-from",
    "password_from",
    metavar="SPEC",
    help="Where the key password or HSM PIN comes from: prompt, env:VAR, file:PATH or stdin "
    "(default: as eac.toml says). Never the password itself.",
)
_DAYS_OPTION = click.option(
    "--days",
    type=int,
    help="Validity in days (defaults: CVCA 1095, DV 90, inspection system 3; "
    "at most 1098, 93 and 31).",
)
_KEY_SPEC_OPTION = click.option(
    "--key-spec",
    help="Key to generate, e.g. ec:brainpoolP256r1 or rsa:3072 (default: the CVCA's). DV and "
    "inspection-system keys must be on the CVCA's curve.",
)


def _open(keys_dir: Path, password_from: str | None) -> EacPki:
    secret = read_secret(password_from, "key password") if password_from else None
    return EacPki.open(keys_dir, secret)


def _rights_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--dg4/--no-dg4", "read_dg4", default=True, show_default=True,
        help="Read access to DG4 (iris).",
    )(func)  # fmt: skip
    return click.option(
        "--dg3/--no-dg3", "read_dg3", default=True, show_default=True,
        help="Read access to DG3 (fingerprints).",
    )(func)  # fmt: skip


def _request_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--require-outer",
        is_flag=True,
        help="Refuse a request without an outer signature (a renewal, a foreign DV).",
    )(func)
    func = click.option(
        "--outer-cert",
        "outer_certs",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The certificate of the request's outer signer, when it is not in the folder "
        "(repeatable).",
    )(func)
    return click.option(
        "--request",
        "request_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Certify this request (its inner signature, and the outer one when wrapped, are "
        "checked) instead of a new key.",
    )(func)


def _load_request(path: Path | None) -> CertificateRequest | None:
    if path is None:
        return None
    return CertificateRequest.from_bytes(path.read_bytes())


def _load_certs(paths: tuple[Path, ...]) -> list[Certificate]:
    return [Certificate.from_bytes(p.read_bytes()) for p in paths]


def _line(label: str, cert: Certificate, path: Path) -> str:
    rights = [dg for dg, ok in (("DG3", cert.chat.read_dg3), ("DG4", cert.chat.read_dg4)) if ok]
    return (
        f"  {label:<5} {cert.chr}  CAR {cert.car}  {cert.role.label}, read "
        f"{'+'.join(rights) or 'nothing'}, {cert.effective.isoformat()} to "
        f"{cert.expiration.isoformat()}  {path}"
    )


def _report(label: str, issued: Issued, out: Path | None) -> None:
    click.echo(_line(label, issued.certificate, issued.path))
    if issued.key_ref is not None:
        click.echo(f"        key {issued.key_ref}")
    for note in issued.notes:
        click.echo(f"        {note}")
    if out is not None:
        out.write_bytes(issued.certificate.raw)
        click.echo(f"        written to {out}")


@click.group()
def eac() -> None:
    """The CV PKI of Extended Access Control (TR-03110-3): CVCA, Document Verifiers and
    inspection systems, whose certificates open DG3 (fingerprints) and DG4 (iris)."""


@eac.command()
@_KEYS_OPTION
@click.option("--country", default="VN", show_default=True, help="ISO 3166 alpha-2 code.")
@click.option(
    "--store",
    default="file",
    show_default=True,
    help="Key store: file (encrypted PEM), p12, jks, or pkcs11:token=LABEL (an HSM).",
)
@click.option(
    "--curve",
    default="brainpoolP256r1",
    show_default=True,
    help="Curve of the CVCA's key, whose domain parameters every DV and IS key inherits.",
)
@click.option("--key-spec", help="Instead of --curve: e.g. rsa:3072 for an RSA CV PKI.")
@click.option(
    "--password-from",
    "password_from",
    metavar="SPEC",
    help="Where the password (or PIN) comes from: prompt, env:VAR, file:PATH or stdin "
    "(default: the keys folder's pki.toml, else prompt). Recorded in eac.toml.",
)
@click.option(
    "--weak-password-ok",
    is_flag=True,
    help=f"Accept a key password shorter than {MIN_PASSWORD_LENGTH} characters (tests only).",
)
def init(
    keys_dir: Path,
    country: str,
    store: str,
    curve: str,
    key_spec: str | None,
    password_from: str | None,
    weak_password_ok: bool,
) -> None:
    """Create the CV PKI: a CVCA (self-signed, read DG3+DG4, with its domain parameters), a
    domestic DV signed by it and an inspection system signed by the DV (read DG3+DG4).
    Keys are stored encrypted (mode 0600) or generated on the token."""
    confirm = True
    if password_from is None:
        password_from = _pki_secret_spec(keys_dir)
        confirm = password_from == "prompt"
    secret = read_secret(password_from, "new key password" if confirm else "key password",
                         confirm=confirm)  # fmt: skip
    if (
        not store.startswith("pkcs11:")
        and len(secret) < MIN_PASSWORD_LENGTH
        and not weak_password_ok
    ):
        raise click.UsageError(
            f"the key password has {len(secret)} characters; use at least "
            f"{MIN_PASSWORD_LENGTH} (or --weak-password-ok for a throw-away test PKI)"
        )
    result = eac_admin.init_eac(
        keys_dir,
        country=country,
        secret_spec=password_from,
        secret=secret,
        now=eac_admin.today_utc(),
        store=store,
        key_spec=key_spec or f"ec:{curve}",
    )
    echo_created(result, store, password_from)


def echo_created(result: EacPki, store: str, password_from: str) -> None:
    """The lines `eac init` (and `pki init`, which creates the CV PKI too) print."""
    config = result.config
    click.echo(
        f"CV PKI created in {config.folder}/ (keys in {store}, password from {password_from})"
    )
    names: tuple[tuple[str, Literal["cvca", "dv", "is"]], ...] = (
        ("CVCA", "cvca"), ("DV", "dv"), ("IS", "is"),
    )  # fmt: skip
    for label, name in names:
        click.echo(_line(label, result.certificate(name), config.path(name)))
    click.echo(f"  trust point for the chips: {config.path('cvca')}")


def _pki_secret_spec(keys_dir: Path) -> str:
    from cardkit.services.pki_admin import CONFIG, load_config

    if (keys_dir / CONFIG).exists():
        try:
            return load_config(keys_dir).secret
        except PkiError:
            pass
    return "prompt"


@eac.command("issue-dv")
@_KEYS_OPTION
@_SECRET_OPTION
@click.option("--foreign", is_flag=True, help="A foreign DV (role DV foreign) instead of domestic.")
@_request_options
@_KEY_SPEC_OPTION
@_DAYS_OPTION
@_rights_options
@click.option("--mnemonic", help="Holder mnemonic of a new key's CHR (default DV, DVF).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write it here.")
def issue_dv(
    keys_dir: Path,
    password_from: str | None,
    foreign: bool,
    request_file: Path | None,
    outer_certs: tuple[Path, ...],
    require_outer: bool,
    key_spec: str | None,
    days: int | None,
    read_dg3: bool,
    read_dg4: bool,
    mnemonic: str | None,
    out: Path | None,
) -> None:
    """Issue a Document Verifier certificate signed by the current CVCA, for a new key (a
    domestic one becomes the current DV) or from a certificate request."""
    handle = _open(keys_dir, password_from)
    issued = handle.issue_dv(
        eac_admin.today_utc(),
        foreign=foreign,
        request=_load_request(request_file),
        outer_certificates=_load_certs(outer_certs),
        require_outer=require_outer,
        key_spec=key_spec,
        days=days,
        read_dg3=read_dg3,
        read_dg4=read_dg4,
        mnemonic=mnemonic,
    )
    click.echo("issued")
    _report("DV", issued, out)


@eac.command("issue-is")
@_KEYS_OPTION
@_SECRET_OPTION
@_request_options
@_KEY_SPEC_OPTION
@_DAYS_OPTION
@_rights_options
@click.option("--mnemonic", help="Holder mnemonic of a new key's CHR (default IS).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write it here.")
def issue_is(
    keys_dir: Path,
    password_from: str | None,
    request_file: Path | None,
    outer_certs: tuple[Path, ...],
    require_outer: bool,
    key_spec: str | None,
    days: int | None,
    read_dg3: bool,
    read_dg4: bool,
    mnemonic: str | None,
    out: Path | None,
) -> None:
    """Issue an inspection-system certificate signed by the current DV (short-lived: days),
    for a new key (it becomes the current IS) or from a certificate request."""
    handle = _open(keys_dir, password_from)
    issued = handle.issue_is(
        eac_admin.today_utc(),
        request=_load_request(request_file),
        outer_certificates=_load_certs(outer_certs),
        require_outer=require_outer,
        key_spec=key_spec,
        days=days,
        read_dg3=read_dg3,
        read_dg4=read_dg4,
        mnemonic=mnemonic,
    )
    click.echo("issued")
    _report("IS", issued, out)


@eac.command()
@_KEYS_OPTION
@_SECRET_OPTION
@click.option("--curve", help="Curve of the new CVCA key (default: the current one's).")
@click.option("--key-spec", help="Instead of --curve: e.g. rsa:3072.")
@_DAYS_OPTION
def link(
    keys_dir: Path,
    password_from: str | None,
    curve: str | None,
    key_spec: str | None,
    days: int | None,
) -> None:
    """CVCA rollover: a new CVCA key, its self-signed certificate and a link certificate
    signed by the old CVCA (CAR = the old CHR), which updates the chips' trust point."""
    handle = _open(keys_dir, password_from)
    spec = key_spec or (f"ec:{curve}" if curve else None)
    result = handle.link(eac_admin.today_utc(), key_spec=spec, days=days)
    click.echo(f"CVCA rollover {result.previous.chr} -> {result.cvca.certificate.chr}")
    _report("CVCA", result.cvca, None)
    _report("link", result.link, None)
    click.echo("  issue a new DV (eac issue-dv) under the new CVCA before the old one expires")


@eac.command()
@_KEYS_OPTION
@_SECRET_OPTION
@click.option("--role", type=click.Choice(["dv", "is"]), required=True, help="What the key is for.")
@click.option("--foreign", is_flag=True, help="A foreign DV's request (mnemonic DVF).")
@click.option("--key", "key_ref", metavar="KEYREF", help="An existing key instead of a new one.")
@_KEY_SPEC_OPTION
@click.option("--chr", help="The holder reference asked for (default: the next of the role).")
@click.option("--car", help="The recommended CAR (default: the current CVCA, or DV for an IS).")
@click.option(
    "--outer",
    type=click.Choice(["cvca", "dv", "is"]),
    help="Wrap and sign the request with this current certificate's key (an authenticated "
    "request: a renewal, or a DV's request to a foreign CVCA).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def request(
    keys_dir: Path,
    password_from: str | None,
    role: str,
    foreign: bool,
    key_ref: str | None,
    key_spec: str | None,
    chr: str | None,
    car: str | None,
    outer: str | None,
    out: Path,
) -> None:
    """Write a certificate request (TR-03110-3 C.2) for a new or an existing key, signed with
    it (proof of possession) and optionally outer-signed by a current certificate's key."""
    handle = _open(keys_dir, password_from)
    result = handle.request(
        eac_admin.today_utc(),
        role=cast(Literal["dv", "is"], role),
        key=key_ref,
        key_spec=key_spec,
        chr=chr,
        car=car,
        outer=cast(Literal["cvca", "dv", "is"] | None, outer),
        foreign=foreign,
    )
    out.write_bytes(result.request.raw)
    req = result.request
    wrapped = f", outer signature by {req.outer_car}" if req.outer_car is not None else ""
    click.echo(
        f"request for {req.body.chr} (CAR {req.body.car or '-'}{wrapped}) written to {out}; "
        f"key {result.key_ref}"
    )


@eac.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also look for the issuer in this keys folder's eac/ (default: keys, if present).",
)
@click.option("--json", "as_json", is_flag=True)
def show(file: Path, keys_dir: Path | None, as_json: bool) -> None:
    """Show a CV certificate or certificate request: CAR, CHR, role, rights, dates, key, and
    whether its signature verifies against its issuer when the issuer is in the folder."""
    search = []
    keys = keys_dir if keys_dir is not None else Path("keys")
    if eac_admin.eac_folder(keys).is_dir():
        search.append(eac_admin.eac_folder(keys))
    decoded = eac_admin.read_cv_file(file, search)
    info = decoded.describe(eac_admin.today_utc().date())
    if as_json:
        echo_json("cvc", {"file": str(file), **info})
        return
    for key, value in info.items():
        if isinstance(value, dict):
            parts = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
            click.echo(f"{key}: {parts}")
        elif isinstance(value, list):
            click.echo(f"{key}: {', '.join(map(str, value)) or '-'}")
        else:
            click.echo(f"{key}: {'-' if value is None else value}")
