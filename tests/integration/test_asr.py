"""Recognition with the real Vosk model (installed by scripts/setup.sh; missing fails the run):
an espeak-ng sentence at 8 kHz, two legs merged into turns, every kind of broken recording and
a broken model folder, and `hotline transcribe` on a folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.audio import WavInfo, read_wav
from asr.batch import Item, collect
from asr.errors import AudioError, ModelError, NoModel
from asr.model import load_model
from asr.recognize import Recognizer, RecognizerOptions
from asr.settings import AsrSettings
from asr.transcript import build, from_dict, to_dict, to_srt, to_txt
from asr.turns import merge
from asr.types import LegTranscript, Word
from asr.wer import word_errors
from telephony.audio import synthesize
from tests.integration.conftest import ROOT, VOSK_MODEL

SENTENCE = "The street light on Heping Road has been broken for a week"
REPLY = "Thank you for calling the hotline, I will report the street light today"
# Measured on 2026-12-03 (vosk-model-en 0.3.45, espeak-ng at 8 kHz, resampled by sox to a 3.6 kHz
# passband, seeded dither, so the same every run): the caller's sentence 50 % (6 of 12 words:
# "the three light on keeping roads has been broken at least"; "Heping" is not in the small
# model's vocabulary), the reply 23.1 % (3 of 13). Before, with random dither and the full
# passband, 41.7 % and 23.1 % in most runs, "street" heard as "three" in about 3 of 10; the
# 3.6 kHz passband was chosen on real speech (tests/data/speech, docs/benchmarks.md), where it
# gives fewer errors at 8 kHz. Synthetic speech is hard for the small model; the bounds allow
# one more word each.
CALLER_WER_BOUND = 0.59  # 7/12
AGENT_WER_BOUND = 0.31  # 4/13


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    rec = Recognizer({"en": VOSK_MODEL})
    rec.model("en")  # loaded once for the module
    return rec


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("asr")
    return {
        "caller": synthesize(SENTENCE, d / "sentence.wav"),
        "agent": synthesize(REPLY, d / "reply.wav"),
        "dir": d,
    }


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", "-R", *map(str, args)], check=True, capture_output=True)


def seconds(path: Path) -> float:
    return read_wav(path).duration


def call_legs(speech: dict[str, Path], out: Path) -> tuple[Path, Path, float]:
    """A call on one clock: caller speaks, agent replies 0.5 s after, caller thanks again."""
    said, reply = speech["caller"], speech["agent"]
    thanks = synthesize("Thank you very much", speech["dir"] / "thanks.wav")
    a, r, t = seconds(said), seconds(reply), seconds(thanks)
    agent_start = a + 0.5
    caller_again = agent_start + r + 0.5
    caller, agent = out / "call-caller.wav", out / "call-agent.wav"
    # Each leg is silent while the other speaks, as MixMonitor records them.
    sox(said, thanks, caller, "splice", f"{a},0", "pad", f"0@{a}", "pad", f"{caller_again - a}@{a}")
    sox(reply, agent, "pad", str(agent_start), str(t + 0.5))
    return caller, agent, agent_start


def test_sentence_at_8khz(recognizer: Recognizer, speech: dict[str, Path]) -> None:
    assert read_wav(speech["caller"]).rate == 8000
    leg = recognizer.transcribe(speech["caller"], "caller", "en")
    result = word_errors(SENTENCE, leg.text)
    print(f"\ncaller leg: {leg.text!r}: {result}")
    assert result.rate <= CALLER_WER_BOUND
    assert leg.model == VOSK_MODEL.name and leg.language == "en"
    assert leg.words and all(0 <= w.start <= w.end <= leg.duration + 0.05 for w in leg.words)
    assert all(0 < w.conf <= 1 for w in leg.words)
    assert [w.start for w in leg.words] == sorted(w.start for w in leg.words)
    # "street" comes out as "three" (see CALLER_WER_BOUND): the words it does get are required.
    for expected in ("light", "broken"):
        assert expected in leg.text.split()


def test_two_legs_merged_in_order(
    recognizer: Recognizer, speech: dict[str, Path], tmp_path: Path
) -> None:
    caller_wav, agent_wav, agent_start = call_legs(speech, tmp_path)
    caller = recognizer.transcribe(caller_wav, "caller", "en")
    agent = recognizer.transcribe(agent_wav, "agent", "en")
    agent_result = word_errors(REPLY, agent.text)
    print(f"\nagent leg: {agent.text!r}: {agent_result}")
    assert agent_result.rate <= AGENT_WER_BOUND
    turns = merge(caller, agent)
    print("\n".join(f"{t.speaker} {t.start}-{t.end} {t.text}" for t in turns))
    assert [t.speaker for t in turns] == ["caller", "agent", "caller"]
    # The silent stretch skipped by the gate is put back on the clock: the reply starts when
    # it was recorded, not right after the caller's words.
    assert abs(turns[1].start - agent_start) < 0.5
    assert turns[0].end <= turns[1].start and turns[1].end <= turns[2].start
    assert turns[2].text.startswith("thank you")  # "very much" is sometimes misheard

    transcript = build([caller, agent])
    txt = to_txt(transcript).splitlines()
    assert [line.split("] ")[1].split(":")[0] for line in txt] == ["caller", "agent", "caller"]
    assert txt[0].startswith("[00:00:00.")
    assert to_srt(transcript).startswith("1\n00:00:")
    assert from_dict(json.loads(json.dumps(to_dict(transcript)))).turns == transcript.turns


def _reply_start(leg: LegTranscript) -> float:
    assert leg.words, "the reply was not recognised at all"
    assert all(0 <= w.start <= w.end <= leg.duration + 0.05 for w in leg.words)
    return leg.words[0].start


def test_reused_recognizer_keeps_each_legs_clock(
    recognizer: Recognizer, speech: dict[str, Path], tmp_path: Path
) -> None:
    """One recognizer serves leg after leg (its decoding graph stays composed); Vosk counts
    word times from its first sample, so each leg's own times must be restored."""
    caller_wav, agent_wav, agent_start = call_legs(speech, tmp_path)
    recognizer.transcribe(caller_wav, "caller", "en")
    for _ in range(3):
        assert (
            abs(_reply_start(recognizer.transcribe(agent_wav, "agent", "en")) - agent_start) < 0.5
        )
    # A recognizer renewed after every leg gives the same clock.
    renewing = Recognizer({"en": VOSK_MODEL}, RecognizerOptions(renew_after=1.0))
    for _ in range(2):
        assert abs(_reply_start(renewing.transcribe(agent_wav, "agent", "en")) - agent_start) < 0.5


def test_failure_mid_leg_drops_the_recognizer(
    speech: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leg that fails after 2 s of audio were fed leaves Vosk mid-utterance: the next leg
    must not continue that utterance (its times would be 2 s late and its words mixed)."""
    caller_wav, agent_wav, agent_start = call_legs(speech, tmp_path)
    rec = Recognizer({"en": VOSK_MODEL})
    real_speech = Recognizer._speech

    def failing(
        self: Recognizer, info: WavInfo, spans: list[tuple[float, float]]
    ) -> Iterator[bytes]:
        for n, block in enumerate(real_speech(self, info, spans)):
            if n == 4:  # 4 pieces of FEED_SECONDS (0.5 s) fed
                raise AudioError(str(info.path), "the resampler failed: injected")
            yield block

    monkeypatch.setattr(Recognizer, "_speech", failing)
    with pytest.raises(AudioError, match="injected"):
        rec.transcribe(caller_wav, "caller", "en")
    monkeypatch.setattr(Recognizer, "_speech", real_speech)
    leg = rec.transcribe(agent_wav, "agent", "en")
    assert abs(_reply_start(leg) - agent_start) < 0.5
    assert word_errors(REPLY, leg.text).rate <= AGENT_WER_BOUND  # no caller words in it


def test_merge_orders_by_time() -> None:
    def leg(speaker: str, *words: tuple[str, float]) -> LegTranscript:
        ws = tuple(Word(t, s, s + 0.3, 0.9) for t, s in words)
        return LegTranscript("caller" if speaker == "caller" else "agent", ws, 10, "en", "m")

    caller = leg("caller", ("hello", 0.0), ("there", 0.4), ("yes", 3.0))
    agent = leg("agent", ("hotline", 1.0), ("speaking", 1.4))
    turns = merge(caller, agent)
    assert [(t.speaker, t.text) for t in turns] == [
        ("caller", "hello there"),
        ("agent", "hotline speaking"),
        ("caller", "yes"),
    ]
    assert (turns[1].start, turns[1].end) == (1.0, 1.7)


# -- broken recordings ----------------------------------------------------------------------------
def _make_bad(kind: str, good: Path, d: Path) -> Path:
    p = d / f"{kind}.wav"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "truncated":
        data = good.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif kind == "not_wav":
        p.write_text("this is a text file, not a recording\n")
    elif kind == "stereo":
        sox(good, "-c", "2", p)
    elif kind == "8bit":
        sox(good, "-b", "8", p)
    elif kind == "mulaw":
        sox(good, "-e", "mu-law", p)
    elif kind == "rate":
        sox(good, "-r", "11025", p)
    elif kind == "header_only":
        p.write_bytes(good.read_bytes()[:44])
    return p


BAD = {
    "empty": "empty file (0 bytes)",
    "truncated": "truncated: header says",
    "not_wav": "not a WAV file (no RIFF/WAVE header)",
    "stereo": "stereo; mono is needed",
    "8bit": "8-bit samples; 16-bit PCM is needed",
    "mulaw": "mu-law audio; 16-bit linear PCM is needed",
    "rate": "sample rate 11025 Hz; 8000 or 16000 Hz is needed",
    "header_only": "truncated: header says",
    "missing": "file not found",
}


@pytest.mark.parametrize("kind", list(BAD))
def test_broken_audio(
    kind: str, recognizer: Recognizer, speech: dict[str, Path], tmp_path: Path
) -> None:
    path = (
        tmp_path / "missing.wav"
        if kind == "missing"
        else _make_bad(kind, speech["caller"], tmp_path)
    )
    with pytest.raises(AudioError) as exc:
        recognizer.transcribe(path, "caller", "en")
    assert BAD[kind] in exc.value.reason
    assert exc.value.path == str(path)


def test_unfinalised_header(speech: dict[str, Path], tmp_path: Path) -> None:
    """A writer that died before closing leaves the data size 0 with samples after it."""
    data = bytearray(speech["caller"].read_bytes())
    data[40:44] = b"\0\0\0\0"
    p = tmp_path / "open.wav"
    p.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="header not finalised"):
        read_wav(p)


def test_broken_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere", "en")
    partial = tmp_path / "partial"
    (partial / "conf").mkdir(parents=True)
    with pytest.raises(ModelError, match=r"incomplete: no am/final\.mdl"):
        load_model(partial, "en")
    broken = tmp_path / "broken"
    shutil.copytree(VOSK_MODEL / "conf", broken / "conf")
    (broken / "am").mkdir()
    (broken / "am" / "final.mdl").write_bytes((VOSK_MODEL / "am" / "final.mdl").read_bytes()[:4096])
    (broken / "graph").mkdir()
    (broken / "graph" / "HCLG.fst").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="failed to load"):
        load_model(broken, "en")
    with pytest.raises(ModelError):
        Recognizer({"en": broken}).model("en")


def test_no_model_for_language(recognizer: Recognizer, speech: dict[str, Path]) -> None:
    with pytest.raises(NoModel) as exc:
        recognizer.transcribe(speech["caller"], "caller", "zh")
    assert exc.value.language == "zh"
    asr = AsrSettings()
    assert asr.coverage({"zh", "en"}) == ["no speech model for zh: zh calls are not transcribed"]


def test_collect_pairs(tmp_path: Path) -> None:
    for name in ("a-caller.wav", "a-agent.wav", "a-mix.wav", "b-caller.wav", "solo.wav"):
        (tmp_path / name).write_bytes(b"")
    items = {i.name: i for i in collect([tmp_path, tmp_path / "gone.wav"])}
    assert items["a"] == Item(
        "a", (("caller", tmp_path / "a-caller.wav"), ("agent", tmp_path / "a-agent.wav"))
    )
    assert items["b-caller"].legs == (("caller", tmp_path / "b-caller.wav"),)
    assert set(items) == {"a", "b-caller", "solo", "gone"}


# -- the command line ----------------------------------------------------------------------------
def test_cli_transcribes_folder(speech: dict[str, Path], tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    call_legs(speech, rec)  # call-caller.wav + call-agent.wav
    (rec / "broken-caller.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline.app.cli",
            "transcribe",
            str(rec),
            "--workers",
            "2",
            "--format",
            "txt",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 1
    assert "broken-caller:" in proc.stderr and "truncated: no fmt chunk" in proc.stderr
    assert "transcribe [" in proc.stderr and "2/2 1 failed" in proc.stderr  # the progress bar
    assert "1 transcript(s)" in proc.stdout
    lines = (out / "call.txt").read_text().splitlines()
    assert [line.split("] ")[1].split(":")[0] for line in lines] == ["caller", "agent", "caller"]
    assert "light on keeping roads" in lines[0]  # "street" is heard as "three" (see above)
    assert not (out / "broken-caller.txt").exists()
    # json of the same pair
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline.app.cli",
            "transcribe",
            str(rec / "call-caller.wav"),
            str(rec / "call-agent.wav"),
            "--format",
            "json",
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "call.json").read_text())
    assert [t["speaker"] for t in data["turns"]] == ["caller", "agent", "caller"]
    assert all({"word", "start", "end", "conf"} <= set(w) for w in data["turns"][0]["words"])


def test_asr_config_errors_and_check(tmp_path: Path) -> None:
    from hotline.app.settings import ConfigError, parse_settings

    with pytest.raises(ConfigError) as exc:
        parse_settings({"asr": {"workers": 0, "model": {}}}, "t")
    assert any(p.startswith("asr.workers:") for p in exc.value.problems)
    assert "asr.model: unknown key" in exc.value.problems
    settings = parse_settings({"asr": {"models": {"en": str(VOSK_MODEL), "zh": str(tmp_path)}}})
    assert settings.asr.models["zh"] == tmp_path
    assert settings.asr.coverage({"en", "zh"}) == [
        f"asr.models: model folder {tmp_path} is incomplete: no am/final.mdl, conf/model.conf, "
        "graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)"
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "hotline.app.cli", "config", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # The shipped configuration transcribes Mandarin with Whisper (scripts/setup-whisper.sh).
    assert "transcription: zh: whisper var/models/whisper-base" in proc.stdout
    assert "transcription: en: vosk var/models/vosk-model-en-us-0.3.45" in proc.stdout
    assert "no speech model" not in proc.stdout
    # A missing Whisper folder is named as such.
    settings = parse_settings(
        {"asr": {"engines": {"zh": {"engine": "whisper", "model": str(tmp_path / "none")}}}}
    )
    assert settings.asr.coverage({"en", "zh"}) == [
        f"asr.engines: model folder {tmp_path / 'none'} does not exist "
        "(scripts/setup-whisper.sh installs the base model)"
    ]


def test_decoder_settings_come_from_the_config_without_touching_the_model() -> None:
    from asr.model import Decoder, tuned

    # Nothing to change: the model itself.
    assert tuned(VOSK_MODEL, Decoder(dither=None)) == VOSK_MODEL
    # Kaldi's own dither off (the recognizer adds a seeded one): only mfcc.conf is rewritten.
    quiet = tuned(VOSK_MODEL, Decoder())
    assert (quiet / "conf" / "mfcc.conf").read_text().splitlines()[-1] == "--dither=0.0"
    assert (quiet / "conf" / "model.conf").resolve() == (VOSK_MODEL / "conf/model.conf").resolve()
    folder = tuned(VOSK_MODEL, Decoder(beam=8.0, max_active=1000))
    assert folder != quiet
    conf = (folder / "conf" / "model.conf").read_text()
    assert "--beam=8.0" in conf and "--max-active=1000" in conf and "--min-active=200" in conf
    assert "--sample-frequency=16000" in (folder / "conf" / "mfcc.conf").read_text()
    assert (folder / "am" / "final.mdl").resolve() == (VOSK_MODEL / "am" / "final.mdl").resolve()
    assert "--beam=10.0" in (VOSK_MODEL / "conf" / "model.conf").read_text()  # untouched
    assert "dither" not in (VOSK_MODEL / "conf" / "mfcc.conf").read_text()
    assert tuned(VOSK_MODEL, Decoder(beam=8.0, max_active=1000)) == folder  # made once
    loaded = load_model(VOSK_MODEL, "en", Decoder(beam=8.0, max_active=1000))
    assert loaded.path == VOSK_MODEL
    # Another process (as each worker is) finds the same folder rather than making its own.
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from asr.model import Decoder, tuned; "
            "print(tuned(Path(sys.argv[1]), Decoder(beam=8.0, max_active=1000)))",
            str(VOSK_MODEL),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(other.stdout.strip()) == folder
    shipped = AsrSettings().options
    assert (shipped.beam, shipped.max_active) == (None, None)  # the model's own by default
    chosen = AsrSettings.model_validate({"beam": 9, "max_active": 2000}).options
    assert (chosen.beam, chosen.max_active) == (9.0, 2000)
