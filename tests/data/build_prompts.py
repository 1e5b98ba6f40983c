"""Build pii_prompts.json and pii_prompts_fresh.json (presidio-research's format) from their .src.txt."""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
_LABEL = re.compile(r"\[([A-Z_]+)\|([^\]]+)\]")


def build(name: str = "pii_prompts") -> list[dict[str, object]]:
    out = []
    for line in (HERE / f"{name}.src.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        line = line.replace("\\n", "\n")
        text, spans, pos = "", [], 0
        for m in _LABEL.finditer(line):
            text += line[pos : m.start()]
            start = len(text)
            text += m.group(2)
            spans.append({"entity_type": m.group(1), "entity_value": m.group(2),
                          "start_position": start, "end_position": len(text)})
            pos = m.end()
        text += line[pos:]
        out.append({"full_text": text, "spans": spans})
    return out


if __name__ == "__main__":
    for name in ("pii_prompts", "pii_prompts_fresh"):
        (HERE / f"{name}.json").write_text(json.dumps(build(name), ensure_ascii=False, indent=1) + "\n")
