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
    """Decoder settings to use instead of the model's own ``conf/model.conf`` (None: keep)."""

    beam: float | None = None
    max_active: int | None = None

    def applied(self, conf: str) -> str:
        lines = []
        for line in conf.splitlines():
            if self.beam is not None and line.startswith("--beam="):
                line = f"--beam={self.beam}"
            elif self.max_active is not None and line.startswith("--max-active="):
                line = f"--max-active={self.max_active}"
            lines.append(line)
        return "\n".join(lines) + "\n"


def tuned(path: Path, decoder: Decoder) -> Path:
    """A folder that is ``path`` with the decoder settings changed: links to its files and a
    rewritten ``conf/model.conf``, made once in the temporary directory (Vosk reads its
    decoder settings only from that file; the installed model stays as delivered)."""
    conf = (path / "conf" / "model.conf").read_text(encoding="utf-8")
    wanted = decoder.applied(conf)
    if wanted == conf:
        return path
    # hashlib, not hash(): str hashes differ per process, and every worker must find one folder.
    where = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    key = f"{path.name}-b{decoder.beam}-m{decoder.max_active}-{where}"
    target = Path(tempfile.gettempdir()) / "hotline-models" / key
    if (target / "conf" / "model.conf").is_file():
        if (target / "conf" / "model.conf").read_text(encoding="utf-8") == wanted:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=key + ".", dir=target.parent))
    for src in path.resolve().rglob("*"):
        dst = build / src.relative_to(path.resolve())
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif dst != build / "conf" / "model.conf":
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    (build / "conf" / "model.conf").write_text(wanted, encoding="utf-8")
    try:
        build.rename(target)  # atomic; another worker may have made it first
    except OSError:
        shutil.rmtree(build, ignore_errors=True)
    return target


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
