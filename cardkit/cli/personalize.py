"""``cardkit personalize``: write prepared card images to blank chips, lock them, read them back.

Personalization is irreversible (the chip is locked at the end), so the command asks for
confirmation unless ``--yes``. Exit codes: 0 every card personalized and verified, 1 a read-back
check failed (the card is locked but must not be issued), 2 unusable input, 3 reader or card
errors — a card pulled mid-way is reported with the step it was at.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.options import keys_option, password_option, reader_option
from cardkit.cli.render import echo_json
from cardkit.errors import CardkitError, KeyStoreError
from cardkit.pki.keystore.transport import TransportKey, open_transport_key
from cardkit.pki.secrets import read_secret
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.services.card_image import (
    MANIFEST,
    CardImage,
    ChipSecrets,
    read_card_image,
)
from cardkit.services.personalize import PersonalizeResult, personalize
from cardkit.services.pki_admin import load_config


def image_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a card image, else the card images in it (a prepared batch),
    in name order."""
    if (path / MANIFEST).is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_dir() and (p / MANIFEST).is_file())
    if not found:
        raise click.UsageError(f"{path} is neither a card image nor a folder of card images")
    return found


def _transport_key(keys_dir: Path, password_from: str | None) -> TransportKey:
    config = load_config(keys_dir)
    secret = read_secret(password_from, "key password") if password_from else config.read_secret()
    return open_transport_key(config.ref(config.transport_key), secret)


def _unseal(image: CardImage, key: TransportKey) -> ChipSecrets:
    if image.transport_key_id and image.transport_key_id != key.key_id:
        raise KeyStoreError(
            f"card image {image.card_id} was sealed with transport key {image.transport_key_id}, "
            f"not {key.key_id}: use the keys folder it was prepared with"
        )
    return ChipSecrets.from_bytes(key.decrypt(image.sealed, image.secrets_aad))


def _summary(result: PersonalizeResult) -> str:
    v = result.verdict
    outcome = {
        "ok": "personalized and verified",
        "failed": "FAILED (locked: do not issue it)",
        "unlocked": "NOT LOCKED (the check before LOCK failed: the card can be written again "
        "with --rewrite)",
    }[result.status]
    line = (
        f"{result.card_id}: {outcome}"
        f" — {result.apdu_count} APDUs, {result.file_bytes} file bytes "
        f"({'extended' if result.extended_length else 'short'} length), read back with "
        f"{v.access}, chip authentication {v.chip_authentication}, active authentication "
        f"{v.active_authentication}, {result.seconds * 1000:.0f} ms"
    )
    for problem in v.problems:
        line += f"\n    {problem}"
    return line


def _wait_for_removal(reader: str, timeout: float) -> None:
    from cardkit.transport.pcsc import reader_statuses

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(s.name == reader and s.card_present for s in reader_statuses()):
            return
        time.sleep(0.1)


@click.command("personalize")
@click.argument("card_image", type=click.Path(exists=True, file_okay=False, path_type=Path))
@reader_option(what="PC/SC reader of the blank cards")
@keys_option("its transport key unseals the chip secrets")
@password_option
@click.option(
    "--trust",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="CSCA certificates and CRLs for the read-back check (default: KEYS/trust).",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for a card on the reader.")  # fmt: skip
@click.option(
    "--applet",
    type=click.Choice(["cardkit", "jmrtd"]),
    default=None,
    help="The chip applet's command dialect (default: the profile's [applet] dialect): "
    "cardkit's applet, or JMRTD's original passport applet.",
)
@click.option(
    "--rewrite",
    is_flag=True,
    help="Write a card that is not locked but holds files (left unlocked by a failed check "
    "before LOCK) instead of refusing it.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (the chip gets locked).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON result for scripts.")
def personalize_command(
    card_image: Path,
    reader: str | None,
    keys_dir: Path,
    password_from: str | None,
    trust: Path | None,
    timeout: float,
    applet: str | None,
    rewrite: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Write CARD_IMAGE (or each card image of a prepared batch folder, one card after the
    other) to the blank chip on READER, check every file before LOCK, lock it and verify it by
    reading it back.

    Irreversible: a locked chip cannot be personalized again. An image the applet cannot hold
    (e.g. PACE or ECDSA on JMRTD's applet) is refused before any card is touched.
    """
    from cardkit.cli.exits import exit_code_for

    try:
        code = _run(
            card_image, reader, keys_dir, password_from, trust, timeout, applet, rewrite, yes,
            as_json,
        )  # fmt: skip
    except CardkitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exit_code_for(exc)) from None
    if code:
        raise SystemExit(code)


def _run(
    card_image: Path,
    reader: str | None,
    keys_dir: Path,
    password_from: str | None,
    trust_dir: Path | None,
    timeout: float,
    applet: str | None,
    rewrite: bool,
    yes: bool,
    as_json: bool,
) -> int:
    from cardkit.applet.dialect import dialect_named
    from cardkit.services.personalize import key_material
    from cardkit.transport.pcsc import open_reader, select_reader

    if not yes and not sys.stdin.isatty():
        # Nobody can answer "lock this card?": refuse at once, before any password or card.
        raise click.UsageError("pass --yes to write without asking (no terminal to confirm on)")
    # The name itself: the prompt shows it and _wait_for_removal follows it between cards.
    reader = select_reader(reader)
    folders = image_folders(card_image)
    images = [read_card_image(folder) for folder in folders]
    key = _transport_key(keys_dir, password_from)
    sealed = [(image, _unseal(image, key)) for image in images]
    if trust_dir is None and (keys_dir / "trust").is_dir():
        trust_dir = keys_dir / "trust"
    trust = TrustStore.from_folder(trust_dir) if trust_dir is not None else None
    jobs = []
    for image, secrets in sealed:  # every image checked against its applet before any card
        profile = load_profile(image.profile)
        dialect = dialect_named(applet or profile.applet.dialect)
        sizes = {spec: len(data) for spec, data in image.files.items()}
        dialect.check(sizes, key_material(image, secrets, profile))
        jobs.append((image, secrets, profile, dialect))
    if not yes:
        what = f"card image {images[0].card_id}" if len(images) == 1 else f"{len(images)} cards"
        click.confirm(
            f"Personalize and LOCK {what} on '{reader}'? This cannot be undone", abort=True,
            err=True,
        )  # fmt: skip
    results: list[PersonalizeResult] = []
    for index, (image, secrets, profile, dialect) in enumerate(jobs):
        if index:
            click.echo(f"place the next blank card on '{reader}' ({image.card_id})", err=True)
            _wait_for_removal(reader, timeout)
        with open_reader(reader, timeout=timeout) as connection:
            result = personalize(
                connection, image, secrets, profile, trust=trust, dialect=dialect, rewrite=rewrite
            )
        results.append(result)
        if not as_json:
            click.echo(_summary(result))
    if as_json:  # a list, whether CARD_IMAGE is one card image or a batch of them
        echo_json("personalize", {"cards": [r.describe() for r in results]})
    sys.stdout.flush()
    return 0 if all(r.status == "ok" for r in results) else EXIT_PROBLEMS
