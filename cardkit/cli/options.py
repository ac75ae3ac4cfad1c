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
