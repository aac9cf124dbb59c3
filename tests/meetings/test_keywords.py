"""Keywords, frequent words and summary (meetings.keywords) on the shipped sample transcript.

Issue 5, "How it is checked": keyword extraction on a shipped sample transcript returns the expected
party-affairs terms.
"""

from __future__ import annotations

import json
import socket
from collections import Counter

import jieba
import pytest

from dangjian.meetings import keywords, transcripts

SAMPLE = keywords.DATA / "sample_transcript.srt"


@pytest.fixture(scope="module")
def sample_text() -> str:
    segments = transcripts.parse_srt(SAMPLE.read_text(encoding="utf-8"))
    return transcripts.full_text(segments)


@pytest.fixture(scope="module")
def sample(sample_text) -> dict:
    return keywords.analyse(sample_text)


def words(pairs: list) -> list[str]:
    return [w for w, _n in pairs]


def test_the_shipped_data_is_real():
    terms = keywords.user_terms()
    assert len(terms) >= 150
    for term in ("三会一课", "主题党日", "两学一做", "不忘初心", "牢记使命", "先锋模范", "组织生活会", "民主评议",
                 "党小组", "支部委员会", "党员大会", "发展党员", "入党积极分子", "预备党员", "转正", "党费",
                 "批评与自我批评", "谈心谈话", "习近平新时代中国特色社会主义思想", "党史学习教育", "主题教育",
                 "基层党组织", "党建引领", "接诉即办", "志愿服务", "双报到"):  # fmt: skip
        assert term in terms, term
    assert len(terms) == len(set(terms)), "a term is listed twice"
    stop = keywords.stop_words()
    for filler in ("同志们", "我们", "一下", "这个", "那么", "就是", "的", "了"):
        assert filler in stop
    assert not stop & set(terms), "a party-affairs term is also a stop word"
    # The sample: a branch general meeting, over 3,000 characters of speech, with speakers.
    segments = transcripts.parse_srt(SAMPLE.read_text(encoding="utf-8"))
    assert len(transcripts.full_text(segments)) > 3000
    assert {"王建国", "李红梅", "张伟", "赵敏", "孙晓东", "陈静"} <= {s.speaker for s in segments}


def test_sample_keywords_are_the_party_affairs_terms_it_discusses(sample):
    tfidf = words(sample["tfidf"])
    textrank = words(sample["textrank"])
    assert len(tfidf) == len(textrank) == 20
    # What the sample meeting is about: planning 三会一课 and 主题党日, admitting a probationary member,
    # 转正, dues, the life meeting, 接诉即办 and 双报到 volunteering.
    expected = {
        "三会一课",
        "主题党日",
        "预备党员",
        "组织生活会",
        "接诉即办",
        "志愿服务",
        "双报到",
        "党费",
        "转正",
    }
    assert len(expected & set(tfidf)) >= 7, tfidf
    assert {"三会一课", "主题党日", "组织生活会"} <= set(tfidf)
    assert len(expected & set(textrank)) >= 5, textrank
    # Dictionary terms stay whole: no fragment of 主题党日 or 三会一课 shows up as a keyword.
    assert not {"主题", "党日", "三会", "一课"} & set(tfidf + textrank)


def test_no_stop_word_single_character_or_number_is_a_keyword(sample):
    stop = keywords.stop_words()
    for key in ("tfidf", "textrank", "frequent"):
        for word in words(sample[key]):
            assert word not in stop, (key, word)
            assert len(word) >= 2, (key, word)
            assert not word.isdigit(), (key, word)


def test_frequent_counts_are_the_real_counts(sample, sample_text):
    frequent = dict(sample["frequent"])
    assert len(sample["frequent"]) == 60
    counts = [n for _w, n in sample["frequent"]]
    assert counts == sorted(counts, reverse=True)
    # A dictionary term that no longer dictionary term contains is cut out every time it occurs: its
    # count is the number of times it appears in the text.
    terms = keywords.user_terms()
    whole = [t for t in terms if t in frequent and not any(t != u and t in u for u in terms)]
    assert {"三会一课", "主题党日", "双报到", "组织生活会", "预备党员"} <= set(whole)
    for term in whole:
        assert frequent[term] == sample_text.count(term), term
    # And every count is that of the word in the segmented text.
    segmented = Counter(w for w, _flag in keywords.segment(sample_text))
    for word, n in sample["frequent"]:
        assert segmented[word] == n, word


def test_summary_is_three_to_five_sentences_of_the_text_in_order(sample, sample_text):
    summary = sample["summary"]
    assert 3 <= len(summary) <= 5
    positions = [sample_text.index(s) for s in summary]
    assert positions == sorted(positions), "the summary keeps the order the sentences were said in"
    assert len(set(summary)) == len(summary)
    # The summary speaks about the business of the meeting, not the filler.
    joined = "".join(summary)
    assert (
        sum(term in joined for term in ("转正", "党费", "主题党日", "三会一课", "接诉即办", "预备党员")) >= 3
    )


def test_result_is_json_with_rounded_weights(sample):
    assert sample["version"] == keywords.VERSION == "1"
    assert json.loads(json.dumps(sample, ensure_ascii=False)) == sample
    for key in ("tfidf", "textrank"):
        weights = [w for _word, w in sample[key]]
        assert weights == sorted(weights, reverse=True)
        assert all(round(w, 4) == w for w in weights)
    assert sample["textrank"][0][1] == 1.0  # TextRank weights are scaled to the top word


@pytest.mark.parametrize(
    ("word", "countable"),
    [
        ("党员", True),
        ("三会一课", True),
        ("TextRank", True),
        ("我们", False),  # stop word
        ("同志们", False),  # meeting filler
        ("的", False),  # one character
        ("2026", False),  # a number
        ("二十三名", False),  # a counted quantity
        ("百分之一", False),
        ("，。", False),  # punctuation
        ("  ", False),
    ],
)
def test_what_counts_as_a_frequent_word(word, countable):
    assert keywords.is_countable(word, keywords.stop_words()) is countable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("同志们，现在开会。今天讨论两件事！", ["同志们，现在开会。", "今天讨论两件事！"]),
        ("第一行\n\n第二行？是的", ["第一行", "第二行？", "是的"]),
        ("", []),
    ],
)
def test_sentences(text, expected):
    assert keywords.sentences(text) == expected


def test_empty_text_gives_empty_lists():
    assert keywords.analyse("   \n") == {
        "tfidf": [],
        "textrank": [],
        "frequent": [],
        "summary": [],
        "version": "1",
    }


def test_a_short_text_has_a_short_summary():
    result = keywords.analyse("支部召开党员大会，讨论发展党员工作。会议决定按期转正。")
    assert len(result["summary"]) == 2
    assert "发展党员" in words(result["frequent"])


def test_uses_a_private_tokenizer_and_never_touches_the_global_one(sample, settings):
    engine = keywords._get_engine()
    assert engine.tokenizer is not jieba.dt
    assert "双报到" in engine.tokenizer.FREQ
    assert "双报到" not in jieba.dt.FREQ  # empty unless someone initialised it, and never our words
    assert "双报到" not in jieba.dt.user_word_tag_tab
    # The prefix cache goes to the data directory, not next to the package or a shared temp name.
    assert engine.tokenizer.tmp_dir == str(keywords._cache_dir())
    assert keywords._cache_dir().is_relative_to(settings.DATA_DIR)


def test_builds_and_analyses_without_any_network(monkeypatch, sample_text):
    def refuse(*args, **kwargs):
        raise AssertionError("keywords tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    engine = keywords._build()  # a fresh one: dictionaries, user terms, stop words, IDF
    assert engine.tokenizer is not keywords._get_engine().tokenizer
    monkeypatch.setattr(keywords, "_engine", engine)
    assert "三会一课" in words(keywords.analyse(sample_text)["tfidf"])
