#!/usr/bin/env bash
# The end-to-end demo on the embedded sample data (run by `make demo`, with .venv/bin on PATH).
# Today: check the sample records, create a test PKI, prepare the batch (signed card images),
# verify every card image, dump one. Later stages (personalize through pcscd, verify, print) join here.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=out/demo
SAMPLES=profiles/samples
PROFILE=vn-cccd-2021
rm -rf "$OUT"
mkdir -p "$OUT"
umask 077

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mrz_of() {  # the MRZ lines of a DG1 file
    python -c 'import sys; from cardkit.lds.dg1 import Dg1
print(Dg1.from_bytes(open(sys.argv[1], "rb").read()).mrz)' "$1"
}

step "1. Validate the ${PROFILE} sample citizens ($SAMPLES/citizens.csv)"
cardkit records check "$SAMPLES/citizens.csv" --profile "$PROFILE" | tail -n 3

step "2. The deliberately broken records are all rejected, each with its reason"
set +e
cardkit records check "$SAMPLES/broken.csv" --profile "$PROFILE" > "$OUT/broken-report.txt"
status=$?
set -e
if [ "$status" -ne 1 ]; then
    echo "demo: expected exit 1 from the broken records, got $status" >&2
    exit 1
fi
head -n 12 "$OUT/broken-report.txt"
echo "... (full report in $OUT/broken-report.txt)"

step "3. The TD1 MRZ of the first citizen, checked"
cardkit mrz build --id-number 001093047064 --name "Võ Văn Hiếu" --dob 1993-01-05 --sex M \
    --expiry 2033-01-05 > "$OUT/mrz.txt"
cat "$OUT/mrz.txt"
cardkit mrz check "$OUT/mrz.txt"

step "4. A test state PKI: CSCA, Document Signer, master-list signer, CRL, master list"
# The demo's key password comes from an environment variable (never from the command line);
# a real deployment uses a prompt, a file readable only by the operator, or an HSM PIN.
export CARDKIT_KEY_PASSWORD="${CARDKIT_KEY_PASSWORD:-cardkit-demo-only}"
KEYS="$OUT/keys"
cardkit pki init --keys "$KEYS" --country VN --password-from env:CARDKIT_KEY_PASSWORD
cardkit pki lint "$KEYS/trust/csca.crt.pem"
cardkit pki lint "$KEYS/dsc.crt.pem"
cardkit pki masterlist verify "$KEYS/masterlist.der" --trust "$KEYS/trust"

step "5. Prepare the sample batch: signed card images with sealed chip secrets"
cardkit prepare "$SAMPLES/citizens.csv" --profile "$PROFILE" --keys "$KEYS" --out "$OUT/cards"

step "6. Passive authentication of every prepared card"
cardkit verify-files "$OUT/cards" --trust "$KEYS/trust" --quiet
cardkit verify-files "$OUT/cards/citizens-00002" --trust "$KEYS/trust"

step "7. Interoperability: OpenSSL verifies the first card's EF.SOD against the CSCA"
python -c 'import sys; from cardkit.lds.sod import Sod
sys.stdout.buffer.write(Sod.from_bytes(open(sys.argv[1], "rb").read()).content_info)' \
    "$OUT/cards/citizens-00002/EF.SOD.bin" > "$OUT/sod-00002.cms"
openssl cms -verify -inform DER -in "$OUT/sod-00002.cms" -binary -purpose any \
    -CAfile "$KEYS/trust/csca.crt.pem" -out /dev/null
openssl verify -CAfile "$KEYS/trust/csca.crt.pem" -CRLfile "$KEYS/trust/csca.crl" -crl_check \
    "$KEYS/dsc.crt.pem"

step "8. Personalize every card image onto cardkit's emulator through a real pcscd, read each back"
# Each card image goes onto a fresh blank virtual chip: an emulator process on a vpcd reader slot
# (alternating two slots, so pcscd sees each card leave before the next one arrives there).
scripts/virtual-reader.sh start --readers 2
trap 'scripts/virtual-reader.sh stop >/dev/null 2>&1 || true' EXIT
mkdir -p "$OUT/chips"
n=0
for card in "$OUT"/cards/*/; do
    id="$(basename "$card")"
    slot=$((n % 2))
    reader="Virtual PCD 00 0$slot"
    cardkit emulator start --slot "$slot" --state "$OUT/chips/$id.json" > "$OUT/chips/$id.log" 2>&1 &
    emulator=$!
    cardkit personalize "$card" --reader "$reader" --keys "$KEYS" --yes --timeout 15 \
        | tail -n 1
    # Inspect it as a checkpoint does, with the MRZ (demo data, kept 0600) as the access key.
    mrz_of "$card/DG1.bin" > "$OUT/chips/$id.mrz"
    cardkit verify --reader "$reader" --mrz-from "file:$OUT/chips/$id.mrz" --trust "$KEYS/trust" \
        > "$OUT/chips/$id.verify.txt"
    echo "  $(head -n 1 "$OUT/chips/$id.verify.txt")"
    if [ "$n" -eq 0 ]; then
        # As a checkpoint would: PACE with the CAN (from the sample record: demo data, not a
        # secret), chip and active authentication, every file read back.
        CARDKIT_DEMO_CAN="$(python -c 'import csv, sys
print(next(csv.DictReader(open(sys.argv[1], encoding="utf-8")))["can"])' "$SAMPLES/citizens.csv")"
        export CARDKIT_DEMO_CAN
        # ... and, as an inspection system the state's CVCA certified (cardkit eac, created by
        # pki init), terminal authentication: DG3's fingerprints, written as PNG.
        cardkit read --reader "$reader" --can-from env:CARDKIT_DEMO_CAN --out "$OUT/read-$id" \
            --terminal "file:$KEYS/eac/is-00001.key.pem" --terminal-chain "$KEYS/eac" \
            --terminal-password-from env:CARDKIT_KEY_PASSWORD
        ls "$OUT/read-$id"/DG3-*.png
    fi
    kill "$emulator"
    wait "$emulator" 2>/dev/null || true
    n=$((n + 1))
done
echo "$n card(s) personalized, read back and verified VALID through pcscd"

step "9. A forged card: one byte of the face image changed after signing"
forged="$OUT/forged/$(basename "$(ls -d "$OUT"/cards/*/ | head -n 1)")"
mkdir -p "$OUT/forged"
cp -r "$(ls -d "$OUT"/cards/*/ | head -n 1)" "$forged"
python - "$forged" <<'PY'
import hashlib, json, sys
from pathlib import Path
card = Path(sys.argv[1])
dg2 = bytearray((card / "DG2.bin").read_bytes())
dg2[-100] ^= 0x01  # inside the JPEG data: still a valid-looking DG2
(card / "DG2.bin").write_bytes(bytes(dg2))
manifest = json.loads((card / "manifest.json").read_text())
manifest["files"]["DG2"]["sha256"] = hashlib.sha256(dg2).hexdigest()
(card / "manifest.json").write_text(json.dumps(manifest, indent=2))
PY
cardkit emulator start --slot 0 --state "$OUT/chips/forged.json" > "$OUT/chips/forged.log" 2>&1 &
emulator=$!
# The read-back check already refuses it (exit 1: the DG2 hash does not match the SOD) ...
cardkit personalize "$forged" --reader "Virtual PCD 00 00" --keys "$KEYS" --yes --timeout 15 \
    | tail -n 1 || true
# ... and so does the checkpoint: INVALID, with the failing check named.
mrz_of "$forged/DG1.bin" > "$OUT/chips/forged.mrz"
if cardkit verify --reader "Virtual PCD 00 00" --mrz-from "file:$OUT/chips/forged.mrz" \
    --trust "$KEYS/trust" > "$OUT/chips/forged.verify.txt"; then
    echo "demo: the forged card was not detected" >&2
    exit 1
fi
grep -E "INVALID|FAIL" "$OUT/chips/forged.verify.txt"
kill "$emulator"
wait "$emulator" 2>/dev/null || true

step "10. The same citizen on JMRTD's original passport applet (the jmrtd dialect)"
# Profile vn-cccd-jmrtd: BAC, RSA-1024 active authentication, no CA, no DG3 (its trade-offs are
# in the profile). The image for cardkit's applet is refused before any APDU; this one is
# written in the applet's own commands, checked under BAC before LOCK, locked and read back.
cardkit prepare "$SAMPLES/citizens.csv" --profile vn-cccd-jmrtd --keys "$KEYS" \
    --out "$OUT/cards-jmrtd" | tail -n 1
jcard="$(ls -d "$OUT"/cards-jmrtd/*/ | head -n 1)"
cardkit emulator start --slot 1 --applet jmrtd --state "$OUT/chips/jmrtd.json" \
    > "$OUT/chips/jmrtd.log" 2>&1 &
emulator=$!
if cardkit personalize "$(ls -d "$OUT"/cards/*/ | head -n 1)" --reader "Virtual PCD 00 01" \
    --keys "$KEYS" --applet jmrtd --yes --timeout 15 2> "$OUT/chips/jmrtd-refused.txt"; then
    echo "demo: an image with PACE and CA was written to JMRTD's applet" >&2
    exit 1
fi
fold -s -w 96 "$OUT/chips/jmrtd-refused.txt" | sed 's/^/  refused: /' 
cardkit personalize "$jcard" --reader "Virtual PCD 00 01" --keys "$KEYS" --yes --timeout 15 \
    | tail -n 1
mrz_of "$jcard/DG1.bin" > "$OUT/chips/jmrtd.mrz"
cardkit verify --reader "Virtual PCD 00 01" --mrz-from "file:$OUT/chips/jmrtd.mrz" \
    --trust "$KEYS/trust" > "$OUT/chips/jmrtd.verify.txt"
echo "  $(head -n 1 "$OUT/chips/jmrtd.verify.txt")"
kill "$emulator"
wait "$emulator" 2>/dev/null || true

step "11. Print the card faces: a card-size PDF and 300-dpi PNGs, the QR code and OCR-B MRZ"
cardkit print "$OUT/cards" --out "$OUT/cards.pdf" --png "$OUT/faces" --dpi 300 --sheet card \
    | tail -n 3
cardkit print "$OUT/cards" --out "$OUT/proof-sheets.pdf" --sheet a4 | tail -n 1

step "12. The same batch as a production line runs it: journaled, exactly once, resumable"
# A fresh batch workdir and a card feeder that plays the operator: it puts a blank emulated card
# in reader slot 0 whenever the station lets go of the previous one.
python scripts/card_feeder.py --slot 0 --dir "$OUT/feeder" > "$OUT/feeder.log" 2>&1 &
feeder=$!
cardkit batch run "$SAMPLES/citizens.csv" --profile "$PROFILE" --keys "$KEYS" \
    --reader "Virtual PCD 00 00" --workdir "$OUT/batch" --quiet
kill "$feeder"
wait "$feeder" 2>/dev/null || true
cardkit batch status --workdir "$OUT/batch"
cardkit batch report --workdir "$OUT/batch" --out "$OUT/batch/report.csv"
cardkit batch report --workdir "$OUT/batch" --out "$OUT/batch/report.html"
head -n 4 "$OUT/batch/report.csv"

step "13. Dump the LDS files of the first card"
cardkit lds dump "$OUT/cards/citizens-00002"
cardkit lds dump "$OUT/cards/citizens-00002" --json > "$OUT/citizens-00002.json"

step "Done: outputs in $OUT/"
ls -l "$OUT" "$OUT/cards/citizens-00002"
