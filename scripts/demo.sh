#!/usr/bin/env bash
# The end-to-end demo on the embedded sample data (run by `make demo`, with .venv/bin on PATH).
# Today: check the sample citizen records, then build and dump the LDS files of one citizen.
# Each later stage (test PKI, prepare, personalize through pcscd, verify, print) joins here.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=out/demo
SAMPLES=profiles/samples
PROFILE=vn-cccd-2021
rm -rf "$OUT"
mkdir -p "$OUT"
umask 077

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

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

step "4. Build the LDS files of the first citizen"
# The chip's key pairs come with the PKI stage; until then throwaway public keys stand in, so that
# DG14 and DG15 are built and dumped too. Only the public halves are ever written.
openssl ecparam -name brainpoolP256r1 -genkey 2>/dev/null | openssl ec -pubout 2>/dev/null \
    > "$OUT/ca-demo.pub.pem"
openssl ecparam -name prime256v1 -genkey 2>/dev/null | openssl ec -pubout 2>/dev/null \
    > "$OUT/aa-demo.pub.pem"
cardkit lds build "$SAMPLES/citizens.csv" --profile "$PROFILE" --id-number 001093047064 \
    --ca-public-key "$OUT/ca-demo.pub.pem" --aa-public-key "$OUT/aa-demo.pub.pem" \
    --out "$OUT/lds"

step "5. Decode and dump them"
cardkit lds dump "$OUT/lds"
cardkit lds dump "$OUT/lds" --json > "$OUT/lds.json"

step "Done: outputs in $OUT/"
ls -l "$OUT" "$OUT/lds"
