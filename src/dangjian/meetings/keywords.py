"""Keywords, frequent words and an extractive summary of a meeting transcript, with jieba.

``analyse(text)`` returns a JSON-friendly dict (stored in ``Transcript.analysis``)::

    {"tfidf": [["三会一课", 0.4128], ...],      # TF-IDF keywords, jieba's IDF table
     "textrank": [["党员", 1.0], ...],          # TextRank keywords (nouns and verbs), weights 0..1
     "frequent": [["党费", 14], ...],           # word counts, for the word cloud and its table
     "summary": ["…", "…", "…"],               # 3–5 sentences, in the order they were said
     "version": "1"}

Segmentation uses a private ``jieba.Tokenizer`` with jieba's own dictionary plus the shipped party-affairs
user dictionary (``data/userdict.txt``: 三会一课, 主题党日, 发展党员 …), so those terms stay whole; the
process-wide ``jieba.dt`` is never touched (another caller may use jieba with its own words). The stop
words (``data/stopwords.txt``: function words and the filler of spoken meetings) are set on our own
TF-IDF and TextRank instances. The tokenizer's prefix cache is written under ``DATA_DIR/cache/jieba``
(a temporary directory when Django is not configured), never next to the package or in a shared /tmp
file name; nothing is ever downloaded (jieba's optional paddle mode is not used).

The text is segmented once (the same accurate-mode cut as ``jieba.analyse.extract_tags``, on our
tokenizer), each word tagged with its part of speech from the dictionaries (TextRank keeps nouns and
verbs), and every result reads that one segmentation: jieba's ``TFIDF`` (IDF table, our stop words)
and ``TextRank`` (a window of 5) are handed the words already cut. The cut is most of the time
(bench/bench_keywords.py). Frequent words are the words minus stop words, single
characters and tokens without a letter (numbers, punctuation, Chinese numerals). The summary scores each
sentence by the TF-IDF weights of the keywords it contains, divided by the square root of its length
(so neither a long rambling sentence nor a two-word one wins), and keeps the best 3–5 in their order.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION = "1"
DATA = Path(__file__).resolve().parent / "data"
USERDICT = DATA / "userdict.txt"
STOPWORDS = DATA / "stopwords.txt"

# Sentence ends: Chinese and Western full stops, question and exclamation marks, line breaks.
_ENDS = frozenset("。！？!?…")
_SENTENCE_END = re.compile(r"(?<=[。！？!?…])|\n+")
_HAS_LETTER = re.compile(r"[\u3400-\u9fffA-Za-z]")
# Numerals (Arabic and Chinese) with their measure words: "二十三名", "2026年", "百分之一".
_NUMERIC = re.compile(
    r"^[0-9０-９.,，%％〇零一二三四五六七八九十百千万亿两第分之点余多几半]+[年月日号名个位次项条张票元岁天]?$"
)
_MIN_SENTENCE = 8  # characters: shorter pieces ("好的。", "散会。") are not summary material
# Sentences shorter than this are scored as if this long, so a short one naming a keyword does not win.
_NORM_FLOOR = 40


@dataclass(frozen=True)
class _Engine:
    tokenizer: Any  # jieba.Tokenizer
    pos: Any  # jieba.posseg.POSTokenizer on ``tokenizer`` (its tag table: jieba's and our words')
    make_tfidf: Any  # () -> a jieba.analyse.TFIDF on our tokenizer and stop words
    textrank_stop_words: set[str]
    stop_words: frozenset[str]


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _cache_dir() -> Path:
    """Where jieba may write its prefix-dictionary cache: the data directory, else a private temp dir."""
    try:
        from django.conf import settings

        base = Path(settings.DATA_DIR) / "cache" / "jieba"
    except Exception:  # Django not configured (a script): a per-user directory under the temp dir
        base = Path(tempfile.gettempdir()) / f"dangjian-jieba-{os.getuid() if hasattr(os, 'getuid') else 0}"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base


def _read_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip().lstrip("\ufeff")
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def stop_words() -> frozenset[str]:
    return _get_engine().stop_words


def user_terms() -> list[str]:
    """The terms of the shipped party-affairs dictionary, in file order."""
    return [line.split()[0] for line in _read_lines(USERDICT)]


def _build() -> _Engine:
    import jieba
    import jieba.analyse
    import jieba.posseg
    from jieba.analyse.textrank import TextRank
    from jieba.analyse.tfidf import TFIDF

    # jieba logs "Building prefix dict ..." at DEBUG on its own handler: keep our logs quiet.
    logging.getLogger("jieba").setLevel(logging.WARNING)

    tokenizer = jieba.Tokenizer()  # jieba's dictionary; a new instance, not the global jieba.dt
    tokenizer.tmp_dir = str(_cache_dir())
    tokenizer.initialize()
    for line in _read_lines(USERDICT):
        word, *rest = line.split()
        freq = int(rest[0]) if rest and rest[0].isdigit() else None
        tokenizer.add_word(word, freq, rest[-1] if rest and not rest[-1].isdigit() else None)
    pos = jieba.posseg.POSTokenizer(tokenizer)
    pos.makesure_userdict_loaded()  # now, under our lock, rather than lazily inside a request
    words = frozenset(_read_lines(STOPWORDS))
    tfidf_stop_words = set(TFIDF.STOP_WORDS) | words

    class OwnTFIDF(TFIDF):
        """jieba's TF-IDF on our tokenizer and stop words, sharing the IDF table jieba already loaded
        (about 350,000 entries) instead of reading a second copy."""

        def __init__(self) -> None:
            shared = jieba.analyse.default_tfidf
            self.tokenizer = tokenizer
            self.postokenizer = pos
            self.stop_words = tfidf_stop_words
            self.idf_loader = shared.idf_loader
            self.idf_freq, self.median_idf = shared.idf_freq, shared.median_idf

    return _Engine(
        tokenizer=tokenizer,
        pos=pos,
        make_tfidf=OwnTFIDF,
        textrank_stop_words=set(TextRank.STOP_WORDS) | words,
        stop_words=words,
    )


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _build()
    return _engine


def warm_up() -> None:
    """Load the dictionaries now (about a second), e.g. in a worker before the first job."""
    _get_engine()


def sentences(text: str) -> list[str]:
    """The text cut into sentences (at 。！？!?… and line breaks), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s and s.strip()]


def is_countable(word: str, stop: frozenset[str]) -> bool:
    """Whether a segmented word counts as a frequent word: two characters or more, has a letter (Chinese
    or Latin), is not a number or a counted quantity, and is not a stop word."""
    w = word.strip()
    return len(w) >= 2 and bool(_HAS_LETTER.search(w)) and not _NUMERIC.match(w) and w not in stop


def segment(text: str) -> list[tuple[str, str]]:
    """The words of ``text`` (our tokenizer, accurate mode, HMM on) with their part of speech from the
    dictionaries ("x" for a word they do not know). The words joined give the text back."""
    return [(p.word, p.flag) for p in _pairs(_get_engine(), text or "")]


def _pairs(engine: _Engine, text: str) -> list[Any]:
    """One segmentation with parts of speech: the plain cut, tagged from jieba's part-of-speech table
    and our dictionary's tags. ``jieba.posseg`` would also guess the part of speech of words found by
    the HMM (mostly names), at four to five times the cost of the cut; TextRank keeps only nouns and
    verbs, where those guesses change little (the sample's top 20 are the same words)."""
    from jieba.posseg import pair

    tags = engine.pos.word_tag_tab
    return [pair(w, tags.get(w, "x")) for w in engine.tokenizer.cut(text)]


class _Precut:
    """A stand-in tokenizer that hands jieba's TF-IDF and TextRank the words already cut: the text is
    segmented once (with parts of speech) instead of once per algorithm."""

    def __init__(self, pairs: list[Any]) -> None:
        self.pairs = pairs

    def cut(self, sentence: str, *args: Any, **kwargs: Any) -> Any:
        return iter(self.pairs)


def _split_sentences(pairs: list[Any]) -> list[tuple[str, list[str]]]:
    """(sentence, its words) in order, cut after 。！？!?… and at line breaks (each is a word of its own)."""
    out: list[tuple[str, list[str]]] = []
    words: list[str] = []
    for p in pairs:
        if "\n" in p.word or "\r" in p.word:
            if words:
                out.append(("".join(words), words))
            words = []
            continue
        words.append(p.word)
        if p.word in _ENDS:
            out.append(("".join(words), words))
            words = []
    if words:
        out.append(("".join(words), words))
    return [(s.strip(), w) for s, w in out if s.strip()]


def analyse(text: str, *, top: int = 20, frequent_top: int = 60) -> dict[str, Any]:
    """Keywords (TF-IDF and TextRank, ``top`` each), the ``frequent_top`` most frequent words with their
    counts, and a 3–5 sentence extractive summary of ``text``."""
    from jieba.analyse.textrank import TextRank

    engine = _get_engine()
    text = text or ""
    if not text.strip():
        return {"tfidf": [], "textrank": [], "frequent": [], "summary": [], "version": VERSION}
    pairs = _pairs(engine, text)  # the one segmentation everything below reads
    precut = _Precut(pairs)

    tfidf = engine.make_tfidf()
    tfidf.tokenizer = _Precut([p.word for p in pairs])
    tfidf_all = tfidf.extract_tags(text, topK=max(top, 50), withWeight=True)

    textrank = TextRank()  # per call: TextRank keeps per-call state on the instance
    textrank.tokenizer = textrank.postokenizer = precut
    textrank.stop_words = engine.textrank_stop_words
    ranked = textrank.textrank(text, topK=top, withWeight=True, allowPOS=("ns", "n", "vn", "v"))

    parts = _split_sentences(pairs)
    counts: Counter[str] = Counter(p.word for p in pairs if is_countable(p.word, engine.stop_words))
    return {
        "tfidf": [[w, round(weight, 4)] for w, weight in tfidf_all[:top]],
        "textrank": [[w, round(weight, 4)] for w, weight in ranked],
        "frequent": [[w, n] for w, n in counts.most_common(frequent_top)],
        "summary": _summary(parts, dict(tfidf_all)),
        "version": VERSION,
    }


def summary_size(n_sentences: int) -> int:
    """How many sentences the summary keeps: 3, one more per 40 sentences, at most 5."""
    return max(0, min(n_sentences, 3 + n_sentences // 40, 5))


def _summary(parts: list[tuple[str, list[str]]], weights: dict[str, float]) -> list[str]:
    scored: list[tuple[float, int]] = []
    seen: set[str] = set()
    for i, (sentence, words) in enumerate(parts):
        if len(sentence) < _MIN_SENTENCE or sentence in seen:
            continue
        seen.add(sentence)
        score = sum(weights.get(w, 0.0) for w in words)
        if score > 0:
            scored.append((score / math.sqrt(max(len(sentence), _NORM_FLOOR)), i))
    keep = summary_size(len(scored))
    best = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:keep]
    return [parts[i][0] for _, i in sorted(best, key=lambda pair: pair[1])]
