"""The trust input of an inspection, checked before any card is read (ICAO 9303-12 §5, §9).

:func:`load_trust` reads what ``cardkit verify`` and ``cardkit verify-files`` are told to trust
(``--trust``, ``--masterlist``, ``--crl``) into a :class:`~cardkit.pki.trust.TrustStore`, and
refuses, with one :class:`PkiError` naming the file and the problem, any input it cannot use:

- a trust folder that does not exist, holds no certificate, or no CSCA certificate (a trust
  anchor is a CA with keyCertSign, 9303-12 §7.1.1 Table 7; other certificates are left out and
  listed in :attr:`TrustStore.ignored`);
- a certificate, CRL or master list that cannot be read or is malformed (every field is decoded
  at load: ``cryptography`` would otherwise fail on the first card, or fail every card);
- a master list whose signature does not verify or whose signer is not a master-list signer
  issued by a CSCA of the trust folder (9303-12 §9);
- a CRL given on its own (``--crl``) that no trusted CSCA issued: issuer name, signature and
  KeyUsage cRLSign (RFC 5280 §6.3.3; 9303-12 §7.1.3) — a CRL nobody can use is an error now,
  not a warning on every card later;
- nothing trusted at all.

A CRL in the trust folder is held to the same rule when it names a trusted CSCA as its issuer
(it claims to be that CSCA's and is not: a damaged or forged file). One that names no trusted
CSCA (another State's, say) is of no use but no sign of a problem either: it is left out and
listed in :attr:`TrustStore.ignored`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from cardkit.errors import PkiError
from cardkit.pki.trust import (
    CLAUSE_TRUST,
    IgnoredItem,
    TrustStore,
    load_crls,
    read_trust_folder,
    trust_anchors,
)

if TYPE_CHECKING:
    from cardkit.pki.masterlist import MasterList

__all__ = ["load_trust"]

_CLAUSE_ML = "ICAO 9303-12 §9"

Labelled = tuple[tuple[str, x509.CertificateRevocationList], ...]


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc


def _master_list(path: Path) -> MasterList:
    from cardkit.pki.masterlist import read_master_list  # CMS: only when a master list is given

    data = _read_bytes(path, "master list")
    try:
        return read_master_list(data)
    except PkiError as exc:
        detail = str(exc).removeprefix("master list: ")
        raise PkiError(f"{path}: not a readable CSCA master list ({_CLAUSE_ML}): {detail}") from exc


def load_trust(
    trust: Path | None = None,
    masterlist: Path | None = None,
    crls: Sequence[Path] = (),
) -> TrustStore:
    """The trust anchors of an inspection (9303-12 §5, §9): the CSCA certificates and CRLs of
    the folder ``trust``; the CSCAs of the CMS ``masterlist`` once its signature verifies and
    its signer is a master-list signer issued by a CSCA of that folder (a master list is only
    as good as its signer: without ``trust`` it cannot be trusted); and the extra ``crls``,
    each of which a trusted CSCA must have issued.

    Every problem is a :class:`PkiError` naming the file (module docstring); the returned store
    has at least one CSCA. Certificates and folder CRLs left out are in ``store.ignored``.
    """
    folder_crls: Labelled = ()
    cscas: tuple[x509.Certificate, ...] = ()
    ignored: list[IgnoredItem] = []
    if trust is not None:
        certificates, folder_crls = read_trust_folder(trust)
        cscas, left_out = trust_anchors(certificates, str(trust))
        ignored.extend(left_out)

    if masterlist is not None:
        masterlist = Path(masterlist)
        ml = _master_list(masterlist)
        if not cscas:
            raise PkiError(
                f"{masterlist}: a master list is trusted through its signer ({_CLAUSE_ML}): "
                "give the trust folder (--trust) with the CSCA that issued the master-list signer"
            )
        from cardkit.pki.masterlist import verify_master_list

        try:
            verify_master_list(ml, cscas)
        except PkiError as exc:
            raise PkiError(f"{masterlist}: {exc}") from exc
        count = len(ml.certificates)
        labelled = [
            (f"{masterlist} (certificate {i} of {count})", cert)
            for i, cert in enumerate(ml.certificates, start=1)
        ]
        listed, left_out = trust_anchors(
            labelled, str(masterlist), looked_for=" in the master list"
        )
        cscas = (*cscas, *listed)
        ignored.extend(left_out)

    extra: list[tuple[str, x509.CertificateRevocationList]] = []
    for path in crls:
        extra.extend(load_crls(Path(path)))

    if not cscas:
        raise PkiError(
            "no trusted CSCA certificate: give the trust folder (--trust) with the CSCA "
            f"certificates cards are checked against ({CLAUSE_TRUST})"
        )
    store = TrustStore(cscas)

    for label, crl in extra:
        problem = store.crl_problem(crl)
        if problem is not None:
            raise PkiError(f"{label}: {problem}")
    kept: list[x509.CertificateRevocationList] = []
    for label, crl in folder_crls:
        problem = store.crl_problem(crl)
        if problem is None:
            kept.append(crl)
        elif store.named_issuers_of(crl):  # claims to be a trusted CSCA's, and is not
            raise PkiError(f"{label}: {problem}")
        else:  # another CSCA's CRL: of no use here, but no sign of a problem either
            ignored.append(IgnoredItem(label, f"a CRL {problem}"))
    return TrustStore(store.cscas, (*kept, *(crl for _, crl in extra)), tuple(ignored))
