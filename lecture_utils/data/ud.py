"""Universal Dependencies treebanks for the part-of-speech notebook: find, download, verify, parse.

Two corpora are pinned (CC BY-SA 4.0): UD_English-EWT r2.16 and UD_Russian-Taiga r2.7. A file is
looked for, in this order, in the folder named by the environment variable ``LECTURE_DATA_DIR``
(tests and CI point it at the project's shared copy), then in the download cache (``data/ud`` at the
repository root, or ``./data/ud`` outside a checkout); only then is it downloaded from its pinned URL
with a progress bar. Both folders use the treebank's own layout, e.g.
``UD_English-EWT/en_ewt-ud-train.conllu``. Every file is checked against its SHA-256 before it is
parsed: a corrupt or truncated file raises :class:`ChecksumError`, never a silently shorter corpus.

Parsing keeps the syntactic words only (integer IDs): multiword-token ranges (``3-4 don't``) and empty
nodes (``8.1``) are skipped, as in the CoNLL 2018 evaluation of UPOS.

Model selection (:func:`selection_splits`) needs a validation set drawn like the test set. EWT's dev set
is (same genres as its test set). Taiga r2.7's is not: its dev set is Instagram posts and poetry, while
its test set is the 881 sentences with plain numeric ``sent_id`` s (mostly social media, numbered 1..7281
in one original collection); the training set holds 880 more sentences of that same numbered collection.
Taiga's validation set is therefore a fixed random draw of :data:`HELD_OUT` of those numbered training
sentences, removed from training; the official dev set is kept for information only.
"""

from __future__ import annotations

import hashlib
import os
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import conllu
from tqdm.auto import tqdm

DATA_DIR_ENV = "LECTURE_DATA_DIR"
SPLITS = ("train", "dev", "test")

Sentence = tuple[list[str], list[str]]
"""One sentence: its words and their UPOS tags, both of the same length."""


@dataclass(frozen=True)
class Treebank:
    """A UD treebank pinned to a release tag, with the SHA-256 of each split's file."""

    folder: str
    repository: str
    tag: str
    prefix: str
    sha256: dict[str, str]

    def filename(self, split: str) -> str:
        return f"{self.prefix}-ud-{split}.conllu"

    def url(self, split: str) -> str:
        return f"https://raw.githubusercontent.com/{self.repository}/{self.tag}/{self.filename(split)}"


TREEBANKS: dict[str, Treebank] = {
    "en": Treebank(
        folder="UD_English-EWT",
        repository="UniversalDependencies/UD_English-EWT",
        tag="r2.16",
        prefix="en_ewt",
        sha256={
            "train": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
            "dev": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
            "test": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
        },
    ),
    "ru": Treebank(
        folder="UD_Russian-Taiga",
        repository="UniversalDependencies/UD_Russian-Taiga",
        tag="r2.7",
        prefix="ru_taiga",
        sha256={
            "train": "414ac026e383bf95b49c7b5c31f74b2919684fa4a2052676ad51edca6510d210",
            "dev": "2f08ba15c1f3f75378d760bf25c60da2b8b1e65cf1d3be48c81cb5dd59a4af5b",
            "test": "a529924cf317d8e9a681cd5ee423405b320b365bf01a9365143b30da50c245d0",
        },
    ),
}


class ChecksumError(ValueError):
    """A data file's SHA-256 differs from the pinned one (corrupt, truncated or a different release)."""


class DataUnavailableError(FileNotFoundError):
    """A data file is in neither data folder and could not be downloaded."""


def _treebank(lang: str, split: str) -> Treebank:
    if lang not in TREEBANKS:
        raise ValueError(f"lang: expected one of {sorted(TREEBANKS)}, got {lang!r}")
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    return TREEBANKS[lang]


def cache_dir() -> Path:
    """The download cache: ``data/ud`` at the repository root in a checkout, else ``./data/ud``."""
    root = Path(__file__).resolve().parents[2]
    base = root if (root / "pyproject.toml").is_file() else Path.cwd()
    return base / "data" / "ud"


def search_dirs() -> list[Path]:
    """Folders searched for a treebank file, first match wins: ``$LECTURE_DATA_DIR``, then the cache."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    return ([Path(env)] if env else []) + [cache_dir()]


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumError` (saying how to fix it) unless ``path`` has SHA-256 ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(
            f"{path.name}: SHA-256 is {actual}, expected {expected} (the file is corrupt, truncated or "
            f"from another release). Delete it and run again to download it afresh."
        )


def download(url: str, target: Path, *, timeout: float = 30.0) -> None:
    """Download ``url`` to ``target`` with a progress bar; a failed transfer leaves no partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def locate(lang: str, split: str, *, allow_download: bool = True) -> Path:
    """The verified local path of one split of a treebank (``lang`` "en" or "ru"), downloading if needed."""
    bank = _treebank(lang, split)
    relative = Path(bank.folder) / bank.filename(split)
    for folder in search_dirs():
        path = folder / relative
        if path.is_file():
            verify(path, bank.sha256[split])
            return path
    target = cache_dir() / relative
    looked = ", ".join(str(d / relative) for d in search_dirs())
    how = (
        f"Fix: set {DATA_DIR_ENV} to a folder that holds {relative} (e.g. the course's shared copy), "
        f"or download {bank.url(split)} into {target.parent}."
    )
    if not allow_download:
        raise DataUnavailableError(f"{relative} not found (looked in {looked}). {how}")
    try:
        download(bank.url(split), target)
    except (urllib.error.URLError, OSError) as error:
        raise DataUnavailableError(
            f"{relative} not found (looked in {looked}) and the download failed ({error}). {how}"
        ) from error
    verify(target, bank.sha256[split])
    return target


def parse_conllu(text: str) -> list[Sentence]:
    """Words and UPOS tags of each sentence of a CoNLL-U text, syntactic words only.

    Comment lines are ignored; multiword-token ranges (IDs like ``3-4``) and empty nodes (``8.1``)
    are skipped, so ``don't`` counts as its two syntactic words ``do`` and ``n't``.
    """
    return [sentence for _, sentence in parse_conllu_with_ids(text)]


def parse_conllu_with_ids(text: str) -> list[tuple[str, Sentence]]:
    """Like :func:`parse_conllu`, each sentence with its ``sent_id`` comment (``""`` where missing)."""
    return [(meta["sent_id"], sentence) for meta, sentence in parse_conllu_with_meta(text)]


def parse_conllu_with_meta(text: str) -> list[tuple[dict[str, str], Sentence]]:
    """Like :func:`parse_conllu`, each sentence with its ``sent_id`` and ``genre`` comments (``""`` where
    missing)."""
    if not isinstance(text, str):
        raise ValueError(f"text: expected the CoNLL-U file's text as a str, got {type(text).__name__}")
    sentences = []
    for token_list in conllu.parse(text):
        words = [t for t in token_list if isinstance(t["id"], int)]
        if words:
            meta = {key: token_list.metadata.get(key, "") for key in ("sent_id", "genre")}
            sentences.append((meta, ([t["form"] for t in words], [t["upos"] for t in words])))
    return sentences


def load_ud(lang: str, split: str, *, allow_download: bool = True) -> list[Sentence]:
    """One split of a pinned treebank as ``[(words, upos_tags), ...]``, verified and parsed."""
    path = locate(lang, split, allow_download=allow_download)
    return parse_conllu(path.read_text(encoding="utf-8"))


HELD_OUT = {"ru": 300}
"""Per language, how many training sentences from the test set's collection become the validation set
(a language not listed uses its official dev set)."""


def sentence_meta(lang: str, split: str, *, allow_download: bool = True) -> list[dict[str, str]]:
    """``sent_id`` and ``genre`` of each sentence of one split, in the order of :func:`load_ud`."""
    text = locate(lang, split, allow_download=allow_download).read_text(encoding="utf-8")
    return [meta for meta, _ in parse_conllu_with_meta(text)]


def held_out(lang: str, *, seed: int = 0, allow_download: bool = True) -> list[int]:
    """Indices (into the training split) of the sentences :func:`selection_splits` holds out, sorted."""
    if lang not in HELD_OUT:
        raise ValueError(f"lang: expected one of {sorted(HELD_OUT)} (a held-out validation set), got {lang!r}")
    numbered = [i for i, meta in enumerate(sentence_meta(lang, "train", allow_download=allow_download))
                if meta["sent_id"].isdigit()]
    if len(numbered) < HELD_OUT[lang]:
        raise ValueError(f"{lang}: expected at least {HELD_OUT[lang]} numbered training sentences, got {len(numbered)}")
    return sorted(random.Random(seed).sample(numbered, HELD_OUT[lang]))


def selection_splits(lang: str, *, seed: int = 0, allow_download: bool = True) -> dict[str, list[Sentence]]:
    """``train``, ``validation`` (for every choice: epochs, settings), ``test`` (read once) and ``dev``
    (the official dev set), see the module docstring.

    For a language in :data:`HELD_OUT` the validation set is a random draw (``seed``) from the training
    sentences whose ``sent_id`` is a plain number, and those sentences leave the training set.
    """
    splits = {split: load_ud(lang, split, allow_download=allow_download) for split in SPLITS}
    if lang not in HELD_OUT:
        return {"train": splits["train"], "validation": splits["dev"], "test": splits["test"], "dev": splits["dev"]}
    held = set(held_out(lang, seed=seed, allow_download=allow_download))
    train = [s for i, s in enumerate(splits["train"]) if i not in held]
    validation = [s for i, s in enumerate(splits["train"]) if i in held]
    return {"train": train, "validation": validation, "test": splits["test"], "dev": splits["dev"]}
