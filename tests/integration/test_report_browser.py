"""The HTML batch report as an operator sees it: opened in a real headless Chromium (Debian's
``chromium`` package, driven by Playwright; no browser is ever downloaded).

A small SQLite journal is built in process (records in every state, a spoiled chip to destroy,
a spoiled card that can be written again, rejected records with their reasons, text that tries
to be markup), its report rendered and opened from a file: the summary numbers shown, the filter
by state hiding and showing rows, no console error, no request but the file, no CSP violation
(and the CSP enforced: an injected image is refused), and a screenshot. No pcscd is needed.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from requirements import unavailable

from cardkit.batch.journal import BatchInfo, NewRecord, SqliteJournal
from cardkit.batch.report import collect, write_report

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
B = "browser-1"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
LONG_PATH = "printed/browser-00009/faces-printed-on-the-line-printer-a/browser-00009-front.pdf"
EXPECTED = {
    "rejected": 2, "pending": 1, "prepared": 1, "personalizing": 1, "personalized": 1,
    "verified": 2, "printed": 2, "spoiled": 2,
}  # fmt: skip


def build_journal(path: Path) -> SqliteJournal:
    """Rows 2–9 valid (each left in a state), 10–11 rejected; two spoiled cards on row 2."""
    journal = SqliteJournal(path)
    records = [
        NewRecord(row, f"browser-{row:05d}", "pending", document_number=f"09304700{row}")
        for row in range(2, 10)
    ]
    records += [
        NewRecord(10, "browser-00010", "rejected",
                  reason="sex: sex must be M or F [sex.value]; date_of_birth: not a date "
                  "[date.format]"),
        NewRecord(11, "browser-00011", "rejected", reason=f"full_name: {HOSTILE} [text.markup]"),
    ]  # fmt: skip
    journal.load(BatchInfo(B, "citizens.csv", "cd" * 32, "vn-cccd-2021", 10), records)
    serials = (f"CHIP-{n:03d}" for n in itertools.count(1))

    def card(station: str) -> tuple[int, int]:
        rec = journal.claim(B, station)
        assert rec is not None
        journal.mark_prepared(
            B, rec.row, station, image_id=rec.card_id, sod_digest="ab", dsc_serial="1F"
        )
        return rec.row, journal.begin_card(B, rec.row, station, next(serials))

    row, attempt = card("line-1")  # row 2: locked then spoiled (destroy), then rewritable
    journal.mark_personalized(B, row, attempt)
    journal.spoil(B, row, attempt, "locked (destroy): read-back failed: DG2 hash differs")
    row, attempt = card("line-1")
    journal.spoil(B, row, attempt, "not locked (rewritable): check before LOCK failed: DG1")
    for outputs in (["front.pdf"], None, None, [LONG_PATH]):  # rows 2, 5 printed; 3, 4 verified
        row, attempt = card("line-1")
        journal.mark_personalized(B, row, attempt)
        journal.mark_verified(B, row, attempt)
        if outputs:
            journal.mark_printed(B, row, outputs)
    row, attempt = card("line-2")  # row 6 personalizing, 7 personalized (stations 2, 3)
    row, attempt = card("line-3")
    journal.mark_personalized(B, row, attempt)
    rec = journal.claim(B, "line-4")  # row 8 prepared
    assert rec is not None
    journal.mark_prepared(B, rec.row, "line-4", image_id=rec.card_id, sod_digest="ab",
                          dsc_serial="1F")  # fmt: skip
    return journal  # row 9 stays pending


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh headless Chromium (its own user-data folder), as a Playwright browser context."""
    if not CHROMIUM.is_file():
        unavailable(f"Debian's chromium is not installed ({CHROMIUM}: apt install chromium)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        try:
            context = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
        except Error as exc:
            pytest.fail(f"{CHROMIUM} does not start under Playwright: {exc}")
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def opened(browser: Any, tmp_path: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    """The report of the journal, open in a new page; what the page logged and requested."""
    journal = build_journal(tmp_path / "journal.sqlite")
    try:
        report = collect(journal, B)
    finally:
        journal.close()
    assert report.counts == EXPECTED
    out = tmp_path / "report.html"
    assert write_report(report, out) == "html"
    seen: dict[str, list[str]] = {"console": [], "errors": [], "requests": []}
    page = browser.new_page()
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    # Runs before the page's own script (and outside its CSP): collect every CSP violation.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '')));"
    )
    page.goto(out.as_uri(), wait_until="load")
    try:
        yield page, seen
    finally:
        page.close()


def visible_rows(page: Any) -> list[str]:
    rows = page.locator("#records-table tbody tr")
    return [
        rows.nth(i).get_attribute("data-row")
        for i in range(rows.count())
        if rows.nth(i).is_visible()
    ]


def test_the_summary_shows_the_batch(opened: tuple[Any, dict[str, list[str]]]) -> None:
    page, _ = opened
    shown = {
        state: int(page.locator(f'#state-counts [data-count="{state}"]').inner_text())
        for state in EXPECTED
    }
    assert shown == EXPECTED
    assert "4 of 8 valid records issued" in page.locator("#progress").inner_text()
    destroy = page.locator("#destroy-table tbody tr")
    assert destroy.count() == 1
    assert "DESTROY" in destroy.inner_text() and "CHIP-001" in destroy.inner_text()
    assert "093047002" in destroy.inner_text()  # the document number, to find the card
    assert page.locator("#rewritable-table tbody tr").count() == 1
    assert "CHIP-002" in page.locator("#rewritable-table").inner_text()
    rejected = page.locator("#rejected-table").inner_text()
    assert "sex must be M or F [sex.value]" in rejected and "[date.format]" in rejected
    assert HOSTILE in rejected  # shown as the text it is, never run
    assert page.evaluate("window.__pwned") is None
    stations = page.locator("#stations-table tbody tr")
    assert [stations.nth(i).get_attribute("data-station") for i in range(stations.count())] == [
        "line-1", "line-2", "line-3", "line-4",
    ]  # fmt: skip
    headings = page.locator("#records-table thead th").all_inner_texts()
    assert "Document no." in headings and "Printed files" in headings
    long_path = page.locator(f'#records-table span.path[title="{LONG_PATH}"]')
    assert long_path.inner_text() == "…/browser-00009-front.pdf"


def test_the_filter_hides_and_shows_rows_by_state(
    opened: tuple[Any, dict[str, list[str]]],
) -> None:
    page, _ = opened
    every = [str(r) for r in range(2, 12)]
    assert visible_rows(page) == every
    assert page.locator("#records-shown").inner_text() == "10 of 10 records shown"
    page.locator('#state-filter input[data-state="verified"]').uncheck()
    assert visible_rows(page) == [r for r in every if r not in ("3", "4")]
    assert page.locator("#records-shown").inner_text() == "8 of 10 records shown"
    page.locator("#filter-none").click()
    assert visible_rows(page) == []
    page.locator('#state-filter input[data-state="rejected"]').check()
    page.locator('#state-filter input[data-state="printed"]').check()
    assert visible_rows(page) == ["2", "5", "10", "11"]
    assert page.locator("#records-shown").inner_text() == "4 of 10 records shown"
    page.locator("#filter-all").click()
    assert visible_rows(page) == every


def test_no_error_no_request_and_the_csp_holds(
    opened: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    page, seen = opened
    assert page.locator("#state-filter").is_visible()  # the inline script ran (its hash allowed)
    assert page.evaluate("window.__csp") == []
    assert [m for m in seen["console"] if m.startswith(("error", "warning"))] == []
    assert seen["errors"] == []
    assert seen["requests"] == [(tmp_path / "report.html").as_uri()]
    # The policy is enforced: markup injected now cannot load even a data: image.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img id=\"probe\" src=\"data:image/png;"
        "base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAA"
        "SUVORK5CYII=\">')"
    )
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__csp")[0].startswith("img-src")


def test_a_screenshot_of_the_report(
    opened: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    page, _ = opened
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 1000 and len(data) > 50_000
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((200, 200)).getcolors(maxcolors=40_000)
    assert colours is not None and len(colours) > 50  # state colours and text, not a blank page
