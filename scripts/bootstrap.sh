#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need, on a fresh Debian 12 machine or an existing
# checkout. Safe to run any number of times: it only installs what is missing.
#   - Debian packages (when missing; needs root or sudo),
#   - a virtualenv at .venv/ with `pip install -e .[dev]` (redone only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, by what needs them:
#   python3 python3-venv python3-dev gcc  the interpreter, venv/ensurepip, headers for native builds
#   libpcsclite-dev swig pkg-config       pyscard has no Linux wheel: it builds against PC/SC lite
#   openssl                               the tests check SODs and certificates with the real openssl
#   softhsm2                              a real PKCS#11 token for the HSM key-store backend
#   pcscd vsmartcard-vpcd pcsc-tools       a real PC/SC stack with virtual readers for the card emulator
#   fonts-dejavu-core fonts-ocr-b          Vietnamese text and the OCR-B MRZ on printed card faces
#   poppler-utils zbar-tools               the print tests read the PDF text and decode the QR code
#   postgresql                             the multi-station batch journal (tests run a throwaway server)
#   openjdk-17-jre-headless                the JDK's keytool reads cardkit's JKS and writes the JCEKS it reads
#   chromium                               the HTML batch report is checked in a real headless browser
#                                          (Playwright drives /usr/bin/chromium; it never downloads one)
PACKAGES=(python3 python3-venv python3-dev gcc make libpcsclite-dev swig pkg-config openssl softhsm2 pcscd vsmartcard-vpcd pcsc-tools fonts-dejavu-core fonts-ocr-b poppler-utils zbar-tools postgresql openjdk-17-jre-headless chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
fi
if ((${#missing[@]})); then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: cardkit needs Python >= 3.11 ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
    exit 1
fi

VENV=.venv
STAMP="$VENV/.cardkit-installed"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "bootstrap: installing cardkit and its dev tools into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    echo "$WANT" > "$STAMP"
fi
