"""Key references (file:, p12:, jks:, jceks:, pkcs11: per RFC 7512) and key specs."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore.uri import (
    DEFAULT_PKCS11_MODULE,
    PKCS11_MODULE_ENV,
    KeyRef,
    KeySpec,
    curve_for_oid,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("file:keys/dsc.pem", KeyRef("file", path="keys/dsc.pem")),
        ("file:///etc/cardkit/dsc.pem", KeyRef("file", path="/etc/cardkit/dsc.pem")),
        ("p12:keys/dsc.p12", KeyRef("p12", path="keys/dsc.p12")),
        ("jks:keys/store.jks#dsc", KeyRef("jks", path="keys/store.jks", alias="dsc")),
        ("jceks:keys/s.jceks#a b", KeyRef("jceks", path="keys/s.jceks", alias="a b")),
        (
            "pkcs11:token=CSCA;object=dsc-2026-01",
            KeyRef("pkcs11", token="CSCA", object="dsc-2026-01"),
        ),
        (
            "pkcs11:token=CSCA;object=k;id=%01%FF?module-path=/opt/hsm/lib.so",
            KeyRef(
                "pkcs11", token="CSCA", object="k", id=b"\x01\xff", module_path="/opt/hsm/lib.so"
            ),
        ),
        (
            "pkcs11:token=CSCA;object=k;module-path=/opt/hsm/lib.so;type=private",
            KeyRef("pkcs11", token="CSCA", object="k", module_path="/opt/hsm/lib.so"),
        ),
    ],
)
def test_parse(text: str, expected: KeyRef) -> None:
    assert KeyRef.parse(text) == expected


def test_rfc7512_percent_encoded_utf8_label() -> None:
    # RFC 7512 §3, example "token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1".
    ref = KeyRef.parse(
        "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;"
        "object=my-certificate;type=cert"
    )
    assert ref.token == "Name with a small A with acute: á"
    assert ref.object == "my-certificate"


def test_rfc7512_id_bytes() -> None:
    # RFC 7512 §3 example id "%69%95%3E%5C%F4%BD%EC%91" (its manufacturer/model/serial
    # attributes are not supported by cardkit and left out here).
    ref = KeyRef.parse(
        "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;id=%69%95%3E%5C%F4%BD%EC%91"
    )
    assert ref.token == "The Software PKCS#11 Softtoken"
    assert ref.id == bytes([0x69, 0x95, 0x3E, 0x5C, 0xF4, 0xBD, 0xEC, 0x91])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keys/dsc.pem", "no known scheme"),
        ("pem:keys/dsc.pem", "no known scheme"),
        ("file:", "needs a path"),
        ("jks:keys/store.jks", "needs an entry alias"),
        ("jks:keys/store.jks#", "needs an entry alias"),
        ("p12:keys/dsc.p12#alias", "holds one key"),
        ("pkcs11:object=k", "needs the token label"),
        ("pkcs11:token=CSCA", "object=LABEL"),
        ("pkcs11:token=CSCA;object=k;manufacturer=x", "unsupported attribute"),
        ("pkcs11:token=CSCA;object=k;object=j", "given twice"),
        ("pkcs11:token=CSCA;object", "needs a value"),
        ("pkcs11:token=CSCA;object=k;type=secret", "type=secret"),
        ("pkcs11:token=%FF;object=k", "not UTF-8"),
    ],
)
def test_bad_references(text: str, message: str) -> None:
    with pytest.raises(KeyStoreError, match=message):
        KeyRef.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "pkcs11:token=CSCA;object=k?pin-value=123456",
        "pkcs11:token=CSCA;object=k?pin-source=file:/tmp/pin",
    ],
)
def test_pins_in_uris_are_refused_without_echo(text: str) -> None:
    with pytest.raises(KeyStoreError, match="secret spec") as info:
        KeyRef.parse(text)
    assert "123456" not in str(info.value)
    assert "/tmp/pin" not in str(info.value)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(KeyStoreError):
        KeyRef("file", path="k.pem", token="T")
    with pytest.raises(KeyStoreError):
        KeyRef("pkcs11", path="x", token="T", object="k")
    with pytest.raises(KeyStoreError):
        KeyRef("nope", path="x")  # type: ignore[arg-type]


def test_module_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = KeyRef.parse("pkcs11:token=T;object=k")
    monkeypatch.delenv(PKCS11_MODULE_ENV, raising=False)
    assert ref.module() == DEFAULT_PKCS11_MODULE
    monkeypatch.setenv(PKCS11_MODULE_ENV, "/opt/vendor/p11.so")
    assert ref.module() == "/opt/vendor/p11.so"
    explicit = KeyRef.parse("pkcs11:token=T;object=k?module-path=/x/y.so")
    assert explicit.module() == "/x/y.so"


_label = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)


@given(
    token=_label,
    obj=st.one_of(st.none(), _label),
    key_id=st.one_of(st.none(), st.binary(min_size=1, max_size=20)),
    module=st.one_of(st.none(), st.sampled_from(["/usr/lib/a b.so", "/opt/x;y?z&w=.so"])),
)
def test_pkcs11_round_trip(
    token: str, obj: str | None, key_id: bytes | None, module: str | None
) -> None:
    if obj is None and key_id is None:
        obj = "k"
    ref = KeyRef("pkcs11", token=token, object=obj, id=key_id, module_path=module)
    assert KeyRef.parse(str(ref)) == ref


@given(
    scheme=st.sampled_from(["file", "p12", "jks", "jceks"]),
    path=st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="#"),
        min_size=1,
    ).filter(lambda p: not p.startswith("//")),
    alias=st.text(min_size=1),
)
def test_file_round_trip(scheme: str, path: str, alias: str) -> None:
    text = f"{scheme}:{path}" + (f"#{alias}" if scheme in ("jks", "jceks") else "")
    ref = KeyRef.parse(text)
    assert str(ref) == text
    assert KeyRef.parse(str(ref)) == ref


@given(st.text())
def test_malformed_references_raise_keystoreerror_only(text: str) -> None:
    try:
        ref = KeyRef.parse(text)
    except KeyStoreError:
        return
    assert isinstance(ref, KeyRef)


@given(st.binary().map(lambda b: "pkcs11:" + b.decode("latin-1")))
def test_malformed_pkcs11_references_raise_keystoreerror_only(text: str) -> None:
    with contextlib.suppress(KeyStoreError):
        assert isinstance(KeyRef.parse(text), KeyRef)


@pytest.mark.parametrize(
    ("text", "curve"),
    [
        ("ec:secp256r1", ec.SECP256R1),
        ("ec:brainpoolP256r1", ec.BrainpoolP256R1),
        ("ec:secp384r1", ec.SECP384R1),
        ("ec:brainpoolP384r1", ec.BrainpoolP384R1),
    ],
)
def test_key_spec_ec(text: str, curve: type[ec.EllipticCurve]) -> None:
    spec = KeySpec.parse(text)
    assert str(spec) == text
    key = spec.generate()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, curve)
    assert isinstance(curve_for_oid(spec.curve_oid), curve)


def test_key_spec_rsa() -> None:
    spec = KeySpec.parse("rsa:2048")
    assert spec == KeySpec("rsa", bits=2048)
    assert str(spec) == "rsa:2048"
    key = spec.generate()
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


@pytest.mark.parametrize(
    "text", ["ec:prime256v1", "ec:", "rsa:1024", "rsa:4100", "rsa:2049", "rsa:x", "dsa:2048", ""]
)
def test_key_spec_rejects(text: str) -> None:
    with pytest.raises(KeyStoreError, match="unsupported key"):
        KeySpec.parse(text)


def test_curve_oid_der_known_answer() -> None:
    # RFC 5480 §2.1.1.1: secp256r1 ::= { 1 2 840 10045 3 1 7 }; RFC 5639 §4.1:
    # brainpoolP256r1 ::= { 1 3 36 3 3 2 8 1 1 7 }.
    assert KeySpec.parse("ec:secp256r1").curve_oid == "1.2.840.10045.3.1.7"
    assert KeySpec.parse("ec:brainpoolP256r1").curve_oid == "1.3.36.3.3.2.8.1.1.7"
    with pytest.raises(KeyStoreError, match="unsupported EC curve"):
        curve_for_oid("1.2.3.4")
