"""Loading a Vosk model folder (blocking, slow: about a second and 100+ MB; once per process)."""

from __future__ import annotations

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


def load_model(path: Path, language: str) -> LoadedModel:
    """Load the model in ``path``; ``ModelError`` if the folder is missing or broken."""
    check_model_dir(path)
    import vosk  # imported here: loading libvosk is only worth it where recognition runs

    vosk.SetLogLevel(-1)  # Kaldi's progress lines would flood the workers' stderr
    try:
        model = vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"model {path} failed to load: {exc}") from None
    return LoadedModel(path, language, model)
