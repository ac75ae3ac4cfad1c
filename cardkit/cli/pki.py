"""`cardkit pki`: run the (test) state PKI kept in a keys folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.render import echo_json
from cardkit.errors import PkiError
from cardkit.pki.crl import Reason
from cardkit.pki.lint import lint_certificate
from cardkit.pki.masterlist import read_master_list, verify_master_list
from cardkit.pki.secrets import read_secret
from cardkit.pki.trust import TrustStore
from cardkit.services.pki_admin import Pki, init_pki

#: Shortest key password `pki init` accepts without --weak-password-ok.
MIN_PASSWORD_LENGTH = 12

_KEYS_OPTION = click.option(
    "--keys",
    "keys_dir",
    default="keys",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The keys folder (written by `cardkit pki init`).",
)
_SECRET_OPTION = click.option(
    "--password-from",
    "password_from",
    metavar="SPEC",
    help="Where the key password or HSM PIN comes from: prompt, env:VAR, file:PATH or stdin "
    "(default: as pki.toml says). Never the password itself.",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _open(keys_dir: Path, password_from: str | None) -> Pki:
    secret = read_secret(password_from, "key password") if password_from else None
    return Pki.open(keys_dir, secret)


@click.group()
def pki() -> None:
    """The state PKI (ICAO 9303-12): CSCA, Document Signers, CRLs, master lists."""


@pki.command()
@_KEYS_OPTION
@click.option("--country", default="VN", show_default=True, help="ISO 3166 alpha-2 code.")
@click.option(
    "--store",
    default="file",
    show_default=True,
    help="Key store: file (encrypted PEM), p12, jks, or pkcs11:token=LABEL (an HSM).",
)
@click.option("--csca-key", "csca_spec", default="ec:secp384r1", show_default=True)
@click.option("--dsc-key", "dsc_spec", default="ec:secp256r1", show_default=True)
@click.option(
    "--hash",
    "hash_name",
    type=click.Choice(["sha256", "sha384", "sha512"]),
    default="sha256",
    show_default=True,
)
@click.option(
    "--rsa-padding", type=click.Choice(["pss", "pkcs1v15"]), default="pss", show_default=True
)
@click.option(
    "--password-from",
    "password_from",
    default="prompt",
    show_default=True,
    metavar="SPEC",
    help="Where the password (or PIN) comes from: prompt, env:VAR, file:PATH or stdin. "
    "It is recorded in pki.toml as the default for later commands.",
)
@click.option(
    "--weak-password-ok",
    is_flag=True,
    help=f"Accept a key password shorter than {MIN_PASSWORD_LENGTH} characters (tests only).",
)
@click.option(
    "--eac/--no-eac",
    default=True,
    show_default=True,
    help="Also create the CV PKI of EAC in KEYS/eac (CVCA, DV, inspection system), as "
    "`cardkit eac init` does.",
)
def init(
    keys_dir: Path,
    country: str,
    store: str,
    csca_spec: str,
    dsc_spec: str,
    hash_name: str,
    rsa_padding: str,
    password_from: str,
    weak_password_ok: bool,
    eac: bool,
) -> None:
    """Create a complete test PKI in one step: CSCA, Document Signer, master-list signer,
    CRL, master list and batch transport key. Private keys are stored encrypted, mode 0600;
    the password must have at least 12 characters (an HSM PIN is the token's own rule)."""
    secret = read_secret(password_from, "new key password", confirm=True)
    if (
        not store.startswith("pkcs11:")
        and len(secret) < MIN_PASSWORD_LENGTH
        and not weak_password_ok
    ):
        # The password is all that protects the CSCA and DS keys at rest (PKCS#8 with scrypt):
        # NIST SP 800-63B §5.1.1.2 asks for length above all.
        raise click.UsageError(
            f"the key password has {len(secret)} characters; use at least "
            f"{MIN_PASSWORD_LENGTH} (or --weak-password-ok for a throw-away test PKI)"
        )
    result = init_pki(
        keys_dir,
        country=country,
        secret_spec=password_from,
        secret=secret,
        now=_now(),
        store=store,
        csca_key_spec=csca_spec,
        dsc_key_spec=dsc_spec,
        hash_name=hash_name,
        rsa_padding=rsa_padding,
        eac=eac,
    )
    config = result.config
    click.echo(f"PKI created in {keys_dir}/ (keys in {store}, password from {password_from})")
    for label, cert in (("CSCA", result.certificate("csca")), ("DSC", result.certificate("dsc"))):
        click.echo(f"  {label:<4} {cert.subject.rfc4514_string()}  serial {cert.serial_number:X}")
    click.echo(f"  trust anchors for verifiers: {config.trust_dir}/")
    click.echo(f"  master list: {config.masterlist_path}")
    if eac:
        from cardkit.cli.eac import echo_created
        from cardkit.services.eac_admin import EacPki

        echo_created(EacPki.open(keys_dir, secret), store, password_from)


@pki.command("issue-dsc")
@_KEYS_OPTION
@_SECRET_OPTION
@click.option("--key-spec", default="ec:secp256r1", show_default=True)
@click.option("--name", "key_name", help="Name of the new key (default: dsc-YYYYMMDD-HHMMSS).")
def issue_dsc(
    keys_dir: Path, password_from: str | None, key_spec: str, key_name: str | None
) -> None:
    """Issue a new Document Signer (new key pair); it becomes the one `prepare` signs with."""
    handle = _open(keys_dir, password_from)
    now = _now()
    name = key_name or now.strftime("dsc-%Y%m%d-%H%M%S")
    country = handle.config.country
    cert = handle.issue_dsc(key_spec, now, f"Document Signer {country} {name}", key_name=name)
    click.echo(f"issued {cert.subject.rfc4514_string()} serial {cert.serial_number:X}")


def _serial(value: str) -> int:
    path = Path(value)
    if path.is_file():
        return _load_certificate(path).serial_number
    try:
        return int(value, 16)
    except ValueError:
        raise click.BadParameter("give a certificate file or a hexadecimal serial") from None


@pki.command()
@_KEYS_OPTION
@_SECRET_OPTION
@click.argument("certificate", metavar="CERT_OR_SERIAL")
@click.option(
    "--reason",
    # No certificateHold / removeFromCRL: a revoked Document Signer is revoked for good.
    type=click.Choice(
        [r for r in get_args(Reason) if r not in ("certificateHold", "removeFromCRL")]
    ),
    default="unspecified",
    show_default=True,
)
def revoke(keys_dir: Path, password_from: str | None, certificate: str, reason: str) -> None:
    """Revoke a Document Signer and publish a new CRL in the trust folder."""
    handle = _open(keys_dir, password_from)
    serial = _serial(certificate)
    crl = handle.revoke(serial, _now(), None if reason == "unspecified" else reason)
    click.echo(
        f"revoked serial {serial:X}; CRL {_crl_number(crl)} written to {handle.config.crl_path}"
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


@pki.command("crl")
@_KEYS_OPTION
@_SECRET_OPTION
def crl_command(keys_dir: Path, password_from: str | None) -> None:
    """Issue a fresh CRL (9303-12: at least every 90 days)."""
    handle = _open(keys_dir, password_from)
    crl = handle.issue_crl(_now())
    click.echo(
        f"CRL {_crl_number(crl)} written to {handle.config.crl_path}, next update "
        f"{crl.next_update_utc:%Y-%m-%d}"
    )


@pki.group()
def masterlist() -> None:
    """Create and verify CSCA master lists (9303-12 §9)."""


@masterlist.command("create")
@_KEYS_OPTION
@_SECRET_OPTION
@click.option(
    "--add",
    "extra",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Another CSCA certificate to include (repeatable).",
)
def masterlist_create(keys_dir: Path, password_from: str | None, extra: tuple[Path, ...]) -> None:
    """Sign a master list of this PKI's CSCA (and any --add certificates)."""
    handle = _open(keys_dir, password_from)
    data = handle.create_master_list(_now(), tuple(_load_certificate(p) for p in extra))
    click.echo(
        f"master list of {1 + len(extra)} CSCA(s) written to "
        f"{handle.config.masterlist_path} ({len(data)} bytes)"
    )


@masterlist.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Folder or certificate of the CSCA(s) trusted to have issued the signer.",
)
def masterlist_verify(file: Path, trust: Path) -> None:
    """Check a master list's signature and its signer's chain to a trusted CSCA."""
    ml = read_master_list(file.read_bytes())
    cscas = TrustStore.from_folder(trust).cscas if trust.is_dir() else (_load_certificate(trust),)
    verify_master_list(ml, cscas)
    signer = ml.signer_certificate
    by = signer.subject.rfc4514_string() if signer is not None else "an unknown signer"
    click.echo(f"valid master list: {len(ml.certificates)} CSCA certificate(s), signed by {by}")


def _load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PkiError(f"{path} is not an X.509 certificate (PEM or DER)") from None


@pki.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def show(file: Path, as_json: bool) -> None:
    """Show a certificate, CRL or master list."""
    data = file.read_bytes()
    info: dict[str, object]
    if file.suffix == ".crl" or b"X509 CRL" in data:
        crl = (x509.load_pem_x509_crl if b"-----BEGIN" in data else x509.load_der_x509_crl)(data)
        info = {
            "type": "CRL",
            "issuer": crl.issuer.rfc4514_string(),
            "crl_number": _crl_number(crl),
            "this_update": crl.last_update_utc.isoformat(),
            "next_update": crl.next_update_utc.isoformat() if crl.next_update_utc else None,
            "revoked": [format(r.serial_number, "X") for r in crl],
        }
    elif file.suffix in (".ml", ".der") and not _looks_like_certificate(data):
        info = {"type": "master list", **read_master_list(data).describe()}
    else:
        cert = _load_certificate(file)
        info = {
            "type": "certificate",
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "X"),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "signature_algorithm": cert.signature_algorithm_oid._name,
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        }
    if as_json:
        echo_json("pki.show", {"file": str(file), **info})
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")


def _looks_like_certificate(data: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    return True


@pki.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["auto", "csca", "link", "dsc", "mls"]),
    default="auto",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
def lint(file: Path, kind: str, as_json: bool) -> None:
    """Report every deviation of a certificate from the ICAO 9303-12 profile, with its clause.

    Exit code 1 when any finding is an error."""
    cert = _load_certificate(file)
    findings = lint_certificate(cert, kind)  # type: ignore[arg-type]
    errors = sum(1 for f in findings if f.severity == "error")
    if as_json:
        echo_json(
            "pki.lint",
            {
                "file": str(file),
                "kind": kind,
                "conforms": not errors,
                "errors": errors,
                "warnings": len(findings) - errors,
                "findings": [f.__dict__ for f in findings],
            },
        )
    for finding in [] if as_json else findings:
        click.echo(f"{finding.severity:<7} {finding.rule}: {finding.message} ({finding.clause})")
    if not as_json and not errors:
        # Warnings are "should" clauses: the certificate still conforms, and says so.
        warned = f" ({len(findings)} warning(s))" if findings else ""
        click.echo(f"{file}: conforms to the 9303-12 profile{warned}")
    if errors:
        raise SystemExit(EXIT_PROBLEMS)
