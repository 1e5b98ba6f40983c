"""Run reports for CI: JUnit XML (the Ant/Jenkins shape that GitHub Actions reporters and GitLab's
unit test reports read) and a Markdown summary (for $GITHUB_STEP_SUMMARY or an MR note).

JUnit mapping: one <testsuite> per eval suite, one <testcase> per case (classname = suite id,
name = case id, so GitLab shows "suite / case"); a case over its threshold is a <failure>, a case
without a single judged sample an <error>; the rate, interval and top violations go in the body.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(value: Any) -> str:
    return _XML_BAD.sub("?", str(value))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def case_line(c: dict[str, Any]) -> str:
    conf = int(round(c["confidence"] * 100))
    return (f"failure rate {_pct(c['rate'])} ({c['failures']}/{c['samples']}; {conf}% CI "
            f"{_pct(c['ci_low'])}–{_pct(c['ci_high'])}) vs threshold {_pct(c['threshold'])}"
            + (f"; {c['errors']} errored samples" if c["errors"] else ""))


def _case_name(c: dict[str, Any]) -> str:
    extra = [x for x in (c.get("arm"), c.get("family")) if x]
    return c["case_id"] + (f" [{', '.join(extra)}]" if extra else "")


def junit(reports: list[dict[str, Any]]) -> bytes:
    root = ET.Element("testsuites", name="fireline eval")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for rep in reports:
        cases = rep["cases"]
        failures = sum(1 for c in cases if c["status"] == "failed")
        errors = sum(1 for c in cases if c["status"] == "error")
        suite = ET.SubElement(root, "testsuite", name=_x(rep["suite_id"]), tests=str(len(cases)),
                              failures=str(failures), errors=str(errors), skipped="0",
                              time=f"{rep['seconds']:.3f}", timestamp=rep["started_at"].rstrip("Z"))
        props = ET.SubElement(suite, "properties")
        for key in ("target", "app", "model", "prompt_version", "incident", "max_failure_rate", "confidence"):
            if rep.get(key) is not None:
                ET.SubElement(props, "property", name=key, value=_x(rep[key]))
        for c in cases:
            tc = ET.SubElement(suite, "testcase", classname=_x(rep["suite_id"]), name=_x(_case_name(c)),
                               time=f"{c['seconds']:.3f}")
            line = case_line(c)
            detail = "\n".join(f"{n} x {v}" for v, n in c["violations"].items())
            if c["status"] == "failed":
                f = ET.SubElement(tc, "failure", message=_x(line), type="FailureRateOverThreshold")
                f.text = _x(detail or line)
            elif c["status"] == "error":
                e = ET.SubElement(tc, "error", message=_x(f"no sample could be judged: {line}"),
                                  type="NoJudgedSample")
                e.text = _x("\n".join(f"{n} x {k}" for k, n in c["error_kinds"].items()))
            out = ET.SubElement(tc, "system-out")
            out.text = _x(line + ("\n" + detail if detail else ""))
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["errors"] += errors
        total_time += rep["seconds"]
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(reports: list[dict[str, Any]]) -> str:
    lines = ["# Fireline eval lock", ""]
    for rep in reports:
        mark = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error"}[rep["status"]]
        lines += [f"## {_md(rep['suite_id'])}: {mark}", ""]
        if rep.get("title"):
            lines += [_md(rep["title"]), ""]
        lines += [f"Target `{rep['target']}`, app `{rep['app']}`"
                  + (f", model `{rep['model']}`" if rep.get("model") else "")
                  + (f", prompt version `{rep['prompt_version']}`" if rep.get("prompt_version") else "")
                  + f"; a case passes when the upper bound of its {int(rep['confidence'] * 100)}% Wilson interval "
                  f"is at most {_pct(rep['max_failure_rate'])}.", "",
                  "| case | status | failures | rate | CI | top violation |", "|---|---|---|---|---|---|"]
        for c in rep["cases"]:
            top = next(iter(c["violations"]), "") or next(iter(c["error_kinds"]), "")
            errs = f" (+{c['errors']} errors)" if c["errors"] else ""
            lines.append(f"| {_md(_case_name(c))} | {c['status']} | {c['failures']}/{c['samples']}{errs} | "
                         f"{_pct(c['rate'])} | {_pct(c['ci_low'])}–{_pct(c['ci_high'])} | {_md(top)[:100]} |")
        lines += ["", f"{rep['counts']['passed']} passed, {rep['counts']['failed']} failed, "
                      f"{rep['counts']['error']} errors; {rep['samples']} samples in {rep['seconds']:.1f} s.", ""]
    return "\n".join(lines)
