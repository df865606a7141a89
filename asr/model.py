"""Loading a Vosk model folder (blocking, slow: about a second and 100+ MB; once per process)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.errors import ModelError

# What every Vosk (Kaldi nnet3) model folder has; the decoding graph is either the
# precompiled HCLG or the HCLr + Gr pair of the small "lookahead" models.
_REQUIRED = ("am/final.mdl", "conf/model.conf")
_GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    language: str
    vosk: Any  # vosk.Model (the package has no type hints)

    @property
    def name(self) -> str:
        return self.path.name


def check_model_dir(path: Path) -> None:
    """``ModelError`` naming what is missing when ``path`` cannot be a model folder."""
    if not path.exists():
        raise ModelError(f"model folder {path} does not exist (scripts/setup.sh installs it)")
    if not path.is_dir():
        raise ModelError(f"model path {path} is not a folder")
    missing = [r for r in _REQUIRED if not (path / r).is_file()]
    if not any(all((path / g).is_file() for g in graph) for graph in _GRAPHS):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise ModelError(f"model folder {path} is incomplete: no {', '.join(missing)}")


@dataclass(frozen=True)
class Decoder:
    """Settings to use instead of the model's own (None: keep what the model says).

    ``dither``: Kaldi adds that much random noise to every sample before computing features,
    drawing on the C library's ``rand()``, whose state runs on from leg to leg in a worker: the
    same recording then gives a different text depending on what the worker decoded before
    (seen on a real 8 kHz clip: "sorrow of his life" one run, "sorrows his life" the next).
    The recognizer adds its own seeded dither instead (``RecognizerOptions.dither``), so
    Kaldi's is turned off."""

    beam: float | None = None
    max_active: int | None = None
    dither: float | None = 0.0

    def changes(self) -> dict[str, dict[str, str]]:
        """The options to set, per configuration file of the model's ``conf/`` folder."""
        model: dict[str, str] = {}
        if self.beam is not None:
            model["--beam"] = str(self.beam)
        if self.max_active is not None:
            model["--max-active"] = str(self.max_active)
        mfcc = {} if self.dither is None else {"--dither": str(self.dither)}
        return {"model.conf": model, "mfcc.conf": mfcc}


def _applied(conf: str, options: dict[str, str]) -> str:
    """``conf`` with each of ``options`` set: its line replaced, or added when it has none."""
    lines, todo = [], dict(options)
    for line in conf.splitlines():
        name = line.split("=", 1)[0].strip()
        if name in todo:
            line = f"{name}={todo.pop(name)}"
        lines.append(line)
    lines += [f"{name}={value}" for name, value in todo.items()]
    return "\n".join(lines) + "\n"


def tuned(path: Path, decoder: Decoder) -> Path:
    """A folder that is ``path`` with the decoder's settings changed: links to its files and
    rewritten ``conf/*.conf``, made once in the temporary directory (Vosk reads these settings
    only from those files; the installed model stays as delivered)."""
    wanted: dict[str, str] = {}
    for name, options in decoder.changes().items():
        conf_path = path / "conf" / name
        if options and conf_path.is_file():
            conf = conf_path.read_text(encoding="utf-8")
            if _applied(conf, options) != conf:
                wanted[name] = _applied(conf, options)
    if not wanted:
        return path
    # hashlib, not hash(): str hashes differ per process, and every worker must find one
    # folder; the rewritten texts are in the key, so a folder's name says what it holds.
    digest = hashlib.sha1(str(path.resolve()).encode())
    for name, text in sorted(wanted.items()):
        digest.update(f"\0{name}\0{text}".encode())
    key = f"{path.name}-{digest.hexdigest()[:16]}"
    target = Path(tempfile.gettempdir()) / "hotline-models" / key
    if all(_holds(target / "conf" / name, text) for name, text in wanted.items()):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=key + ".", dir=target.parent))
    rewritten = {build / "conf" / name for name in wanted}
    for src in path.resolve().rglob("*"):
        dst = build / src.relative_to(path.resolve())
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif dst not in rewritten:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    for name, text in wanted.items():
        (build / "conf" / name).write_text(text, encoding="utf-8")
    try:
        build.rename(target)  # atomic; another worker may have made it first
    except OSError:
        shutil.rmtree(build, ignore_errors=True)
    return target


def _holds(path: Path, text: str) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == text


def load_model(path: Path, language: str, decoder: Decoder | None = None) -> LoadedModel:
    """Load the model in ``path`` (with ``decoder`` settings); ``ModelError`` if the folder
    is missing or broken."""
    check_model_dir(path)
    source = path
    if decoder is not None:
        path = tuned(path, decoder)
    import vosk  # imported here: loading libvosk is only worth it where recognition runs

    vosk.SetLogLevel(-1)  # Kaldi's progress lines would flood the workers' stderr
    try:
        model = vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"model {path} failed to load: {exc}") from None
    return LoadedModel(source, language, model)
