"""The UD loader: CoNLL-U parsing, checksums, the offline error, and the shared copies of the corpora."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import pytest

from lecture_utils.data import ud

CONLLU = """\
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tSue\tSue\tPROPN\tNNP\t_\t2\tnsubj\t_\t_
2\tlikes\tlike\tVERB\tVBZ\t_\t0\troot\t_\t_
3\ttea\ttea\tNOUN\tNN\t_\t2\tobj\t_\t_
3.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t2:conj\t_
4\tand\tand\tCCONJ\tCC\t_\t5\tcc\t_\t_
5\tcoffee\tcoffee\tNOUN\tNN\t_\t3\tconj\t_\t_

"""


def test_parse_keeps_syntactic_words_only():
    sentences = ud.parse_conllu(CONLLU)
    assert sentences == [
        (["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
        (["Sue", "likes", "tea", "and", "coffee"], ["PROPN", "VERB", "NOUN", "CCONJ", "NOUN"]),
    ]


def test_parse_rejects_bytes():
    with pytest.raises(ValueError, match="str"):
        ud.parse_conllu(CONLLU.encode())


def test_unknown_language_and_split():
    with pytest.raises(ValueError, match="'en', 'ru'"):
        ud.locate("de", "train")
    with pytest.raises(ValueError, match="train"):
        ud.locate("en", "validation")


def _fake_tree(tmp_path: Path, lang: str, split: str, content: bytes) -> Path:
    bank = ud.TREEBANKS[lang]
    path = tmp_path / bank.folder / bank.filename(split)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def test_corrupt_file_raises_checksum_error(tmp_path, monkeypatch):
    shared = Path(os.environ.get(ud.DATA_DIR_ENV, "/none")) / "UD_Russian-Taiga/ru_taiga-ud-test.conllu"
    content = shared.read_bytes()[:100_000] if shared.is_file() else CONLLU.encode()  # a truncated file
    _fake_tree(tmp_path, "ru", "test", content)
    monkeypatch.setenv(ud.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(ud.ChecksumError, match="ru_taiga-ud-test.conllu: SHA-256 is .* expected a5299"):
        ud.load_ud("ru", "test")


def test_offline_without_cache_names_file_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(ud.DATA_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr(ud, "cache_dir", lambda: tmp_path / "cache")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(ud.urllib.request, "urlopen", offline)
    with pytest.raises(ud.DataUnavailableError) as info:
        ud.load_ud("en", "dev")
    message = str(info.value)
    assert "UD_English-EWT/en_ewt-ud-dev.conllu not found" in message
    assert "download failed" in message and "no network" in message
    assert "LECTURE_DATA_DIR" in message
    url = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.16/en_ewt-ud-dev.conllu"
    assert url in message
    assert not (tmp_path / "cache" / "UD_English-EWT" / "en_ewt-ud-dev.conllu.part").exists()
    with pytest.raises(ud.DataUnavailableError, match="not found"):
        ud.locate("en", "dev", allow_download=False)


def test_download_verifies_and_caches(tmp_path, monkeypatch):
    """A download goes to the cache via a partial file; a second call finds it without the network."""
    payload = CONLLU.encode()
    digest = ud.hashlib.sha256(payload).hexdigest()
    bank = ud.Treebank("UD_Test", "x/UD_Test", "r1", "xx_test", {"dev": digest})
    monkeypatch.setitem(ud.TREEBANKS, "xx", bank)
    monkeypatch.delenv(ud.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(ud, "cache_dir", lambda: tmp_path / "cache")
    calls = []

    class Response:
        headers = {"Content-Length": str(len(payload))}

        def __init__(self):
            self.left = payload

        def read(self, n):
            chunk, self.left = self.left[:n], self.left[n:]
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout):
        calls.append(url)
        return Response()

    monkeypatch.setattr(ud.urllib.request, "urlopen", fake_urlopen)
    assert ud.load_ud("xx", "dev")[1][0] == ["Sue", "likes", "tea", "and", "coffee"]
    assert calls == ["https://raw.githubusercontent.com/x/UD_Test/r1/xx_test-ud-dev.conllu"]
    assert ud.load_ud("xx", "dev") and len(calls) == 1  # served from the cache


@pytest.mark.skipif(not os.environ.get(ud.DATA_DIR_ENV), reason="LECTURE_DATA_DIR is not set")
@pytest.mark.parametrize(("lang", "sentences", "words"), [("en", 2077, 25094), ("ru", 881, 10269)])
def test_reads_the_shared_copies(lang, sentences, words):
    """The test splits: the counts of MANIFEST.md (syntactic words), 17 UPOS tags."""
    data = ud.load_ud(lang, "test", allow_download=False)
    assert len(data) == sentences
    assert sum(len(w) for w, _ in data) == words
    assert all(len(w) == len(t) for w, t in data)
    assert len({t for _, tags in data for t in tags}) == 17


def test_parse_with_ids_keeps_the_sent_id():
    assert [i for i, _ in ud.parse_conllu_with_ids(CONLLU)] == ["1", "2"]
    assert ud.parse_conllu_with_meta(CONLLU)[0][0] == {"sent_id": "1", "genre": ""}
    assert [s for _, s in ud.parse_conllu_with_ids(CONLLU)] == ud.parse_conllu(CONLLU)


@pytest.mark.skipif(not os.environ.get(ud.DATA_DIR_ENV), reason="LECTURE_DATA_DIR is not set")
def test_selection_splits_hold_out_taiga_sentences_like_its_test_set():
    """Taiga's validation set: 300 numbered training sentences (the test set's collection), out of training;
    EWT's: its official dev set."""
    ru = ud.selection_splits("ru", allow_download=False)
    full = ud.load_ud("ru", "train", allow_download=False)
    assert len(ru["validation"]) == ud.HELD_OUT["ru"] == 300
    assert len(ru["train"]) + len(ru["validation"]) == len(full)
    assert len(ru["test"]) == 881 and len(ru["dev"]) == 945
    meta = ud.sentence_meta("ru", "train", allow_download=False)
    held = ud.held_out("ru")
    assert [full[i] for i in held] == ru["validation"] and all(meta[i]["sent_id"].isdigit() for i in held)
    assert {meta[i]["genre"] for i in held} <= {"social", "poetry", "news"}
    assert ud.selection_splits("ru", allow_download=False)["validation"] == ru["validation"]  # a fixed draw
    assert ud.selection_splits("ru", seed=1, allow_download=False)["validation"] != ru["validation"]
    en = ud.selection_splits("en", allow_download=False)
    assert en["validation"] == en["dev"] and len(en["train"]) == 12544
