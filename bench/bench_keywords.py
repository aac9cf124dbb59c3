"""Keywords and summary of a 20,000-character transcript, against jieba's plain TF-IDF on the same text.

    python bench/bench_keywords.py                 # 20,000 characters, median of 15 rounds
    python bench/bench_keywords.py --chars 100000  # a three-hour meeting

Builds the transcript from the shipped sample (``meetings/data/sample_transcript.srt``, a branch general
meeting of about 3,000 characters): the sample's cues again and again, each repetition in a different
order with the speakers' names rotated, cut at a line end once ``--chars`` characters are reached. Then,
in the same run on the same text, after one warm-up call of each (dictionaries loaded):

(a) ``meetings.keywords.analyse(text)``: TF-IDF and TextRank keywords with the party-affairs dictionary
    and stop words, frequent words with counts, and the extractive summary — what an upload computes;
(b) ``jieba.analyse.extract_tags(text, topK=20)``: jieba's plain TF-IDF with its global tokenizer.

Medians of ``--runs`` rounds, each round running (a), (b) and the two segmentations one after the other
(the machine's noise falls on all alike); the ratio (a)/(b) is printed with where the time of (a) goes. There is no
target in the issue; the figure says what the richer analysis costs over the baseline (README).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chars", type=int, default=20_000, help="length of the transcript (characters)")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def setup() -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="dangjian-bench-keywords-"))
    os.environ["DANGJIAN_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dangjian.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    return data_dir


def build_transcript(chars: int, seed: int) -> str:
    """The sample's cues repeated and varied (order shuffled, names rotated) up to ``chars`` characters."""
    from dangjian.meetings import keywords, transcripts

    segments = transcripts.parse_srt((keywords.DATA / "sample_transcript.srt").read_text(encoding="utf-8"))
    names = sorted({s.speaker for s in segments if s.speaker})
    rng = random.Random(seed)
    lines: list[str] = []
    total = 0
    round_no = 0
    while total < chars:
        order = list(segments)
        if round_no:
            rng.shuffle(order)
        shift = round_no % len(names)
        rename = {a: names[(i + shift) % len(names)] for i, a in enumerate(names)}
        for s in order:
            text = s.text
            for old, new in rename.items():
                text = text.replace(old, f"\0{new}\0")
            text = text.replace("\0", "")
            lines.append(text)
            total += len(text) + 1
            if total >= chars:
                break
        round_no += 1
    return "\n".join(lines)


def interleaved(fns: dict[str, Any], runs: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Median wall time in milliseconds of each function over ``runs`` rounds, after one warm-up round;
    each round calls every function once, one after the other, so that the noise of a shared machine
    falls on all of them alike. Also the last result of each."""
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}, results


def main() -> int:
    args = parse_args()
    data_dir = setup()
    import jieba
    import jieba.analyse

    from dangjian.meetings import keywords

    # jieba's global tokenizer writes its cache to the temp data directory too, not to /tmp/jieba.cache.
    jieba.dt.tmp_dir = str(data_dir)
    text = build_transcript(args.chars, args.seed)

    t0 = time.perf_counter()
    keywords.warm_up()
    ours_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    jieba.dt.initialize()
    jieba_load = time.perf_counter() - t0

    engine = keywords._get_engine()
    ms, results = interleaved(
        {
            "analyse": lambda: keywords.analyse(text),
            "extract_tags": lambda: jieba.analyse.extract_tags(text, topK=20),
            # Where the time goes: the one segmentation (tagged) in (a), the plain one in (b).
            "pos_cut": lambda: keywords._pairs(engine, text),
            "plain_cut": lambda: list(jieba.dt.cut(text)),
        },
        args.runs,
    )
    ours_ms, plain_ms, cut_ms, plain_cut_ms = (
        ms["analyse"],
        ms["extract_tags"],
        ms["pos_cut"],
        ms["plain_cut"],
    )
    rest_ms = max(ours_ms - cut_ms, 0.0)
    result, plain = results["analyse"], results["extract_tags"]

    ratio = ours_ms / plain_ms
    print(
        f"transcript  {len(text):,} characters, {text.count(chr(10)) + 1:,} lines (from the shipped sample)"
    )
    print(f"load        analyse dictionaries {ours_load:.2f} s (first call); jieba global {jieba_load:.2f} s")
    print(f"{'measurement':<52}{'median':>10}")
    print(f"{'(a) keywords.analyse (all of it)':<52}{ours_ms:8.0f}ms")
    print(f"{'      the one segmentation, tagged':<52}{cut_ms:8.0f}ms")
    print(f"{'      TF-IDF, TextRank, counts, summary':<52}{rest_ms:8.0f}ms")
    print(f"{'(b) jieba.analyse.extract_tags, top 20':<52}{plain_ms:8.0f}ms")
    print(f"{'      of which segmentation':<52}{plain_cut_ms:8.0f}ms")
    print(f"ratio (a)/(b) {ratio:.2f}")
    print()
    print("top TF-IDF (a):", "、".join(w for w, _ in result["tfidf"][:12]))
    print("top TF-IDF (b):", "、".join(plain[:12]))
    print("summary (a):", len(result["summary"]), "sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
