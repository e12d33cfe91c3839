"""An example custom predictor: text statistics and a keyword relevance score.

Replace the computation with your own and keep the interface (see `predictors.Predictor`):
the constructor receives the release's `config` (here: `keywords`, `min_words`) and the
device; `predict` returns one output column per name, as long as the batch. Registered as
`custom` in `predictors.PREDICTORS`; select it in `releases.yaml` with `predictor: custom`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

WORD = re.compile(r"[\w'-]+", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


class KeywordScorer:
    """Counts words and sentences and scores each text by the share of keyword hits.

    `score` = keyword hits / words (0 for texts under `min_words` words), so long texts do
    not win by length alone; `matched` lists the distinct keywords found, sorted.
    """

    operation = "predict"

    def __init__(self, config: Mapping[str, Any], device: str) -> None:
        keywords = config.get("keywords") or []
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ValueError("config.keywords must be a list of strings")
        self.keywords = frozenset(k.lower() for k in keywords)
        self.min_words = int(config.get("min_words", 1))

    def predict(self, texts: Sequence[str]) -> dict[str, pa.Array]:
        words_out, sentences_out, scores, matched_out = [], [], [], []
        for text in texts:
            words = [w.lower() for w in WORD.findall(text)]
            hits = [w for w in words if w in self.keywords]
            words_out.append(len(words))
            sentences_out.append(max(1, len(SENTENCE_END.findall(text))) if words else 0)
            enough = len(words) >= self.min_words
            scores.append(round(len(hits) / len(words), 6) if enough and words else 0.0)
            matched_out.append(sorted(set(hits)))
        return {
            "words": pa.array(words_out, pa.int32()),
            "sentences": pa.array(sentences_out, pa.int32()),
            "keyword_score": pa.array(scores, pa.float64()),
            "matched_keywords": pa.array(matched_out, pa.list_(pa.string())),
        }
