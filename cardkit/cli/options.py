"""Options several commands share, defined once so they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def keys_option(purpose: str) -> Callable[[F], F]:
    """``--keys DIR``: the keys folder of `cardkit pki init`; ``purpose`` says what it is for."""
    return click.option(
        "--keys",
        "keys_dir",
        default="keys",
        show_default=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=f"Keys folder of `cardkit pki init`: {purpose}.",
    )


password_option = click.option(
    "--password-from",
    metavar="SPEC",
    help="Override pki.toml's password source (prompt, env:VAR, file:PATH, stdin).",
)


def trust_options(function: F) -> F:
    """``--trust``, ``--masterlist``, ``--crl`` and ``--deny-list``: what an inspection trusts
    and whom it refuses (passed on as ``trust``, ``masterlist``, ``crls`` and ``deny_list``)."""
    for option in reversed(
        (
            click.option(
                "--trust",
                type=click.Path(exists=True, file_okay=False, path_type=Path),
                help="Folder of trusted CSCA certificates and CRLs (e.g. keys/trust).",
            ),
            click.option(
                "--masterlist",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A CSCA master list (CMS), trusted once its signer chains to a CSCA of "
                "--trust.",
            ),
            click.option(
                "--crl",
                "crls",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A CRL (PEM or DER) to check Document Signers against; repeatable.",
            ),
            click.option(
                "--deny-list",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Lost, stolen or revoked documents: CSV (document_number[,reason]) or SQLite.",
            ),
        )
    ):
        function = option(function)
    return function


def access_key_options(function: F) -> F:
    """How to open the chip: ``--mrz``/``--can`` name a secret *source* (the MRZ and the CAN never
    go on the command line: shell history, process lists), or the three BAC fields."""
    for option in reversed(
        (
            click.option(
                "--mrz-from",
                "--mrz",
                "mrz_from",
                metavar="SPEC",
                help="Where to read the MRZ: prompt, stdin (or -), env:VAR or file:PATH. "
                "Never the MRZ itself.",
            ),
            click.option(
                "--doc-number", metavar="N", help="Document number (BAC field; ends in history)."
            ),
            click.option("--dob", metavar="YYMMDD", help="Date of birth, as in the MRZ."),
            click.option("--expiry", metavar="YYMMDD", help="Date of expiry, as in the MRZ."),
            click.option(
                "--can-from",
                "--can",
                "can_from",
                metavar="SPEC",
                help="Where to read the CAN: prompt, stdin (or -), env:VAR or file:PATH. "
                "Never the CAN itself.",
            ),
        )
    ):
        function = option(function)
    return function


def policy_options(function: F) -> F:
    """``--profile``, ``--policy`` and ``--require-crl``: what the card must be and what the
    verifier demands (passed on as ``profile_name``, ``policy_name`` and ``require_crl``)."""
    for option in reversed(
        (
            click.option(
                "--profile",
                "profile_name",
                metavar="NAME",
                help="The card's profile (e.g. vn-cccd-2021); default: inferred from DG1's "
                "issuing state and document code among the installed profiles.",
            ),
            click.option(
                "--policy",
                "policy_name",
                type=click.Choice(["default", "legacy"]),
                help="Algorithm policy. default: SHA-224+, RSA >= 2048, EC >= 224, no MD5/SHA-1, "
                "a chip that offers PACE must be read with PACE. legacy (older foreign "
                "passports): SHA-1 and RSA-1024 and a BAC downgrade are WARN. Default: the "
                "profile's policy.",
            ),
            click.option(
                "--require-crl",
                is_flag=True,
                help="Without a current CRL of the Document Signer's CSCA the verdict is "
                "INCOMPLETE, not VALID.",
            ),
        )
    ):
        function = option(function)
    return function


def reader_option(dest: str = "reader", *, what: str = "PC/SC reader") -> Callable[[F], F]:
    """``--reader READER``, the same in every command that opens a card (passed on as
    ``dest``, ``None`` when left out): resolved by :func:`cardkit.transport.readers.resolve_reader`
    (exact name, case-insensitive part of it, or the index ``cardkit readers`` prints)."""
    return click.option(
        "--reader",
        dest,
        metavar="READER",
        default=None,
        help=f"{what}: its name, a part of it (any case) or its index in `cardkit readers`; "
        "may be left out when only one reader is connected.",
    )


def terminal_options(function: F) -> F:
    """``--terminal KEYREF``, ``--terminal-chain DIR`` and ``--terminal-password-from SPEC``: the
    inspection system's key and CV chain for EAC terminal authentication (passed on as
    ``terminal_ref``, ``terminal_chain`` and ``terminal_password_from``; see
    :func:`load_terminal`)."""
    for option in reversed(
        (
            click.option(
                "--terminal",
                "terminal_ref",
                metavar="KEYREF",
                help="The inspection system's private key (file:, p12:, jks:, pkcs11: key "
                "reference) for EAC terminal authentication: reads DG3 (fingerprints).",
            ),
            click.option(
                "--terminal-chain",
                "terminal_chain",
                type=click.Path(exists=True, file_okay=False, path_type=Path),
                help="Folder of the terminal's CV certificates (*.cvcert: the IS and DV "
                "certificates; CVCA link certificates there or in links/).",
            ),
            click.option(
                "--terminal-password-from",
                "terminal_password_from",
                metavar="SPEC",
                help="Where the terminal key's password or PIN comes from (prompt, env:VAR, "
                "file:PATH, stdin).",
            ),
        )
    ):
        function = option(function)
    return function


#: The certificate files of a terminal chain folder (cardkit.services.eac_admin writes them so).
CHAIN_SUFFIX = ".cvcert"


def load_terminal(
    terminal_ref: str | None, terminal_chain: Path | None, password_from: str | None
) -> Any:
    """The :class:`~cardkit.protocol.ta.TerminalKey` of the terminal options, or None when none
    is given. UsageError when only one of ``--terminal``/``--terminal-chain`` is; KeyStoreError
    naming the file for a certificate that does not decode; PkiError when the folder holds no
    inspection-system certificate of the key. (Imports lazily: ``--help`` needs click alone.)"""
    if terminal_ref is None and terminal_chain is None:
        if password_from is not None:
            raise click.UsageError("--terminal-password-from needs --terminal")
        return None
    if terminal_ref is None or terminal_chain is None:
        raise click.UsageError("--terminal and --terminal-chain go together")
    from cardkit.errors import EncodingError, KeyStoreError
    from cardkit.pki import cvc
    from cardkit.pki.keystore import open_signer
    from cardkit.pki.secrets import read_secret
    from cardkit.protocol.ta import TerminalKey

    paths = sorted(terminal_chain.glob(f"*{CHAIN_SUFFIX}"))
    paths += sorted((terminal_chain / "links").glob(f"*{CHAIN_SUFFIX}"))
    certificates = []
    for path in paths:
        try:
            certificates.append(cvc.Certificate.from_bytes(path.read_bytes()))
        except OSError as exc:
            raise KeyStoreError(f"{path}: cannot read ({exc.strerror})") from None
        except EncodingError as exc:
            raise KeyStoreError(f"{path}: not a CV certificate ({exc})") from None
    if not certificates:
        raise KeyStoreError(f"{terminal_chain}: no CV certificates (*{CHAIN_SUFFIX})")
    secret = read_secret(password_from, "terminal key password") if password_from else None
    return TerminalKey.from_certificates(open_signer(terminal_ref, secret), certificates)
