"""How fast cardkit prints card faces, per core (``python benchmarks/print.py -n 200``).

"A card" is both faces of one card: fitting the values into their boxes, the QR code, the photo
and fingerprints, the MRZ. Measured separately: to PDF (card-size pages, ReportLab, one document
for the whole run, written to a temporary folder) and to 300-dpi PNG (both faces encoded and
written). The sample records are validated and read once before timing; fonts are found (and
OCR-B converted) before timing, as a printing station does once. Target: ≥ 20 cards/s to PDF on
one core (pin it with ``taskset -c 0``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from datetime import date
from itertools import cycle, islice
from pathlib import Path

from cardkit.layout.compose import CardData
from cardkit.layout.fonts import find_fonts
from cardkit.layout.render_pdf import PdfWriter
from cardkit.layout.render_png import PngRenderer
from cardkit.profile import load_profile
from cardkit.services.printing import layout_of, open_source

SAMPLES = Path(__file__).resolve().parent.parent / "profiles" / "samples" / "citizens.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="cards per measurement")
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--profile", default="vn-cccd-2021")
    parser.add_argument("--cprofile", action="store_true", help="print the top of a profile")
    args = parser.parse_args()

    profile = load_profile(args.profile)
    layout = layout_of(profile)
    fonts = find_fonts()
    source = open_source(SAMPLES, profile, date(2026, 11, 1))
    samples = [c for c in source.cards() if isinstance(c, CardData)]
    cards = list(islice(cycle(samples), args.n))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def to_pdf() -> None:
            writer = PdfWriter(folder / "cards.pdf", layout, fonts)
            for card in cards:
                writer.add(writer.composer.compose(card))
            writer.close()

        png = PngRenderer(layout, fonts, args.dpi)

        def to_png() -> None:
            for card in cards:
                png.write(png.composer.compose(card), folder / "png")

        for name, run in (("PDF", to_pdf), (f"{args.dpi}-dpi PNG", to_png)):
            profiler = cProfile.Profile() if args.cprofile else None
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            run()
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - start
            print(f"{name:>14}: {args.n / elapsed:7.1f} cards/s ({elapsed:.2f} s for {args.n})")
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
        size = (folder / "cards.pdf").stat().st_size
        print(f"{'PDF size':>14}: {size / args.n / 1024:7.1f} KiB per card")


if __name__ == "__main__":
    main()
