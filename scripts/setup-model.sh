#!/usr/bin/env bash
# Installs the small US-English Vosk model, idempotently: fetched once with the Maven client from
# Maven Central (artifact com.alphacephei:vosk-model-en, an Android archive whose
# assets/model-en-us/ folder is the model) and unpacked into var/models/. The marker file lists
# every file with its size, written last, so an interrupted unpack is redone, never trusted.
# The version is VOSK_MODEL_VERSION in scripts/versions.env (an environment variable of that name
# wins); docker/Dockerfile fetches the model into the image with this same script.
# (0.3.45 is the newest version on Maven Central; platform-notes' 0.3.70 is not published.)
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=${VOSK_MODEL_VERSION:-}
source scripts/versions.env
VERSION=${wanted:-$VOSK_MODEL_VERSION}
ARTIFACT="com.alphacephei:vosk-model-en:${VERSION}:aar"
dest="var/models/vosk-model-en-us-${VERSION}"
marker="$dest/.hotline-model"

complete() {
  [ -f "$marker" ] || return 1
  # Each line: size<TAB>relative path.
  while IFS=$'\t' read -r size rel; do
    [ -f "$dest/$rel" ] && [ "$(stat -c %s "$dest/$rel")" = "$size" ] || return 1
  done <"$marker"
}

if complete; then
  echo "setup-model: $dest present"
  exit 0
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "setup-model: mvn (package maven) is missing: run scripts/setup-system.sh" >&2
  exit 1
fi

mkdir -p var/models
work=$(mktemp -d var/models/.fetch.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "setup-model: fetching $ARTIFACT with Maven"
# The archive is cached in the Maven local repository (~/.m2), so a re-unpack needs no network.
# Its output only on failure (even -q leaves colour escapes behind).
if ! out=$(mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$ARTIFACT" \
  -DoutputDirectory="$work" -Dmdep.overWriteReleases=true 2>&1); then
  echo "$out" >&2
  echo "setup-model: mvn could not fetch $ARTIFACT" >&2
  exit 1
fi
aar="$work/vosk-model-en-${VERSION}.aar"
# python3's zipfile rather than unzip: python3 is certain here, unzip is not on a bare Debian.
python3 - "$aar" "$work/model" <<'PY'
import sys, zipfile
from pathlib import Path

aar, out = sys.argv[1], Path(sys.argv[2])
prefix = "assets/model-en-us/"
count = 0
with zipfile.ZipFile(aar) as z:
    for info in z.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        rel = info.filename[len(prefix):]
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            dst.write(src.read())
        count += 1
for need in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
    if not (out / need).is_file():
        sys.exit(f"setup-model: {aar} has no {prefix}{need}")
files = sorted(p for p in out.rglob("*") if p.is_file())
lines = [f"{p.stat().st_size}\t{p.relative_to(out)}" for p in files]
(out / ".hotline-model").write_text("\n".join(lines) + "\n")
print(f"setup-model: {count} model files unpacked")
PY
rm -rf "$dest"
mv "$work/model" "$dest"
echo "setup-model: installed $dest"
