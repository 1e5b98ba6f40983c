"""The console in headless Chromium against the running demo (one shared per module): every page loads
without console errors, the demo's incident is walked from the list to the post-mortem, a control of
every kind is applied and reverted, calls are searched with each filter, roles are respected and
data containing markup stays text."""

from __future__ import annotations

from typing import Any

from tests.support.demo import Demo
from tests.web.console import XSS, Console, pytestmark  # noqa: F401 (pytestmark: skipped without Chromium)


def test_every_page_loads_with_charts_from_real_data(admin: Console, demo: Demo) -> None:
    admin.open("#/incidents", f"tr[data-id='{demo.incident}']")
    admin.open(f"#/incidents/{demo.incident}", "#timeline li")
    assert admin.page.query_selector(".card .uplot canvas"), "no blast-radius chart"
    admin.open("#/monitors?hours=6", ".monitor .uplot canvas")
    assert len(admin.page.query_selector_all(".monitor .uplot")) >= 3
    firing = admin.page.inner_text(".monitor[data-monitor=canary_leak]")
    assert "firing" in firing and "1 alert" in firing
    admin.open("#/monitors/refusal_rate?hours=24", ".uplot canvas")
    admin.open("#/calls", "#calls tr")
    admin.open("#/controls", "#apply-form")
    admin.open("#/drills", ".page[data-page=drills] h2")
    admin.open("#/declare", "#declare-form")


def test_walks_the_demo_incident_from_the_list_to_the_post_mortem(admin: Console, demo: Demo) -> None:
    p = admin.page
    admin.open("#/incidents", "#incident-filters")
    p.select_option("#incident-filters select[name=severity]", "P0")
    p.select_option("#incident-filters select[name=type]", "data_leakage")
    p.evaluate("document.body.removeAttribute('data-ready')")
    p.click("#incident-filters button[type=submit]")
    admin.settled()
    rows = p.query_selector_all("#incidents tbody tr")
    assert rows and all("P0" in r.inner_text() for r in rows)
    p.click(f"tr[data-id='{demo.incident}']")
    p.wait_for_selector("#timeline li")
    assert "opened the incident" in p.inner_text("#timeline") and '{"' not in p.inner_text("#timeline .sentence")
    p.wait_for_selector("#verify.ok")

    admin.act("#assign", {"role": "commander", "who": "ana", "reason": "on call"})
    admin.act("#change-severity", {"severity": "P1", "reason": "one tenant only"})
    p.wait_for_selector("text=changed the severity from P0 to P1")
    p.select_option("#update-template", "status_update")
    for _ in range(100):  # the template's text arrives (no eval under the page's CSP: poll from here)
        if len(p.input_value("#update-message")) > 20:
            break
        p.wait_for_timeout(100)
    assert "support-bot" in p.input_value("#update-message")
    p.evaluate("document.body.removeAttribute('data-ready')")
    p.click("#update-form button[type=submit]")
    admin.confirm()
    admin.settled()
    p.fill("#note-form input[name=text]", "rolled back to the previous model")
    p.select_option("#note-form select[name=kind]", "decision")
    admin.act("#note-form button[type=submit]")
    p.wait_for_selector("text=decided: rolled back to the previous model")

    form = "#root-cause-form"
    p.select_option(f"{form} select[name=category]", "model")
    whys = p.query_selector_all(f"{form} input[name=why]")
    for box, text in zip(whys, ["answers carried another tenant's record",
                                "the new model version copied retrieved text verbatim",
                                "no eval covered cross-tenant retrieval"], strict=True):
        box.fill(text)
    p.fill(f"{form} textarea[name=factors]", "canary only on one tenant")
    p.fill(f"{form} input[name=summary]", "model update leaked retrieved records")
    admin.act(f"{form} button[type=submit]")
    admin.act("#make-lock")
    p.wait_for_selector("#eval-lock .mono")
    admin.act("text=Add action item…", {"title": "Canary every tenant", "owner": "ana", "due": "2030-01-31"})

    with demo.client("viewer") as http:
        inc = http.get(f"/api/v1/incidents/{demo.incident}").json()
        rc = http.get(f"/api/v1/incidents/{demo.incident}/root-cause").json()
        updates = http.get(f"/api/v1/incidents/{demo.incident}/updates").json()["updates"]
    assert inc["commander"] == "ana" and inc["severity"] == "P1"
    assert rc["category"] == "model" and len(rc["whys"]) == 3 and rc["factors"] == ["canary only on one tenant"]
    assert len(updates) >= 2 and inc["after_action"]["eval_lock"]["exists"]

    admin.act("button[data-action=resolve]", {"reason": "rolled back"})
    pm = p.inner_text("#postmortem")
    assert "model update leaked retrieved records" in pm and "Canary every tenant" in p.inner_text(".actions-list")
    assert "Resolved" in p.inner_text(".milestones")


def _fill_kind(p: Any, kind: str) -> None:
    if kind == "rate_limit":
        p.fill("#apply-form input[name=p_per_minute]", "5")
    elif kind == "budget":
        p.fill("#apply-form input[name=p_limit]", "5000")
    elif kind == "block_pattern":
        p.fill("#apply-form input[name=p_pattern]", "(?i)ignore previous instructions")
    elif kind == "guardrail_threshold":
        p.fill("#apply-form input[name=p_detectors]", "pii, secrets")
        p.fill("#apply-form input[name=p_min_confidence]", "0.9")


KINDS = ["kill_switch", "model_pin", "prompt_pin", "disable_tool", "read_only", "rate_limit", "budget",
         "guardrail_threshold", "block_pattern"]


def test_applies_and_reverts_a_control_of_every_kind(admin: Console, demo: Demo) -> None:
    p = admin.page
    for kind in KINDS:
        admin.open(f"#/controls?kind={kind}&app=support-bot", "#apply-form")
        p.fill("#apply-form input[name=s_tenant]", "hooli")
        p.fill("#apply-form input[name=reason]", f"console test {kind}")
        _fill_kind(p, kind)
        p.click("#apply-form button[type=submit]")
        dlg = p.wait_for_selector("dialog.modal[open]")
        assert "tenant hooli" in dlg.inner_text() and "app support-bot" in dlg.inner_text()  # the scope is shown
        p.evaluate("document.body.removeAttribute('data-ready')")
        dlg.query_selector("[data-role=confirm]").click()
        admin.settled()
        with demo.client("viewer") as http:
            mine = [c for c in http.get("/api/v1/controls").json()["controls"]
                    if c["reason"] == f"console test {kind}"]
        assert len(mine) == 1, kind
        if kind == "guardrail_threshold":  # the form carries every setting the API takes
            assert mine[0]["params"]["detectors"] == ["pii", "secrets"]
            assert mine[0]["params"]["min_confidence"] == 0.9
        row = p.wait_for_selector(f"#controls tr[data-id='{mine[0]['id']}']")
        assert "hooli" in row.inner_text()
        p.evaluate("document.body.removeAttribute('data-ready')")
        row.query_selector("button.revert").click()
        admin.confirm(reason="test over")
        admin.settled()
        with demo.client("viewer") as http:
            got = http.get(f"/api/v1/controls/{mine[0]['id']}").json()
        assert not got["active"], kind


def _call_of(demo: Demo) -> dict[str, Any]:
    with demo.client("viewer") as http:
        return http.get("/api/v1/calls", params={"finding": "canary_leak", "limit": 1}).json()["calls"][0]


def test_searches_calls_with_each_filter_and_pages(admin: Console, demo: Demo) -> None:
    p = admin.page
    c = _call_of(demo)
    n = int(c["session_id"].split("-")[1])
    user = f"user{n}@{['acme', 'globex', 'initech', 'umbrella', 'hooli'][n % 5]}.example"
    filters = {"app": c["app"], "tenant": c["tenant"], "user": user, "session": c["session_id"], "model": c["model"],
               "prompt_version": c["prompt_version"], "finding": "canary_leak", "detector": "canary",
               "q": "contract excerpt"}
    for name, value in filters.items():
        admin.open("#/calls", "#call-filters")
        p.fill(f"#call-filters input[name={name}]", value)
        p.evaluate("document.body.removeAttribute('data-ready')")
        p.click("#call-filters button[type=submit]")
        admin.settled()
        p.wait_for_selector("#calls tbody tr")
        shown = [r.get_attribute("data-id") for r in p.query_selector_all("#calls tbody tr")]
        with demo.client("viewer") as http:
            got = http.get("/api/v1/calls", params={name: value, "limit": 25}).json()["calls"]
            expected = [x["id"] for x in got]
        assert shown == expected, name
        assert c["id"] in shown or len(expected) == 25, name
        assert f"{name}=" in p.url
    # a time range around the call, then the next page of the whole log
    admin.open("#/calls", "#call-filters")
    p.fill("#call-filters input[name=since]", "2000-01-01T00:00")
    p.fill("#call-filters input[name=until]", "2100-01-01T00:00")
    p.evaluate("document.body.removeAttribute('data-ready')")
    p.click("#call-filters button[type=submit]")
    admin.settled()
    first = [r.get_attribute("data-id") for r in p.query_selector_all("#calls tbody tr")]
    assert len(first) == 25 and "since=" in p.url
    p.evaluate("document.body.removeAttribute('data-ready')")
    p.click("#next-page")
    admin.settled()
    second = [r.get_attribute("data-id") for r in p.query_selector_all("#calls tbody tr")]
    assert second and not set(second) & set(first)
    p.wait_for_selector("#first-page")


def test_viewer_sees_redacted_text_and_no_raw_button(browser: Any, demo: Demo) -> None:
    c = _call_of(demo)
    viewer = Console(browser, demo, "viewer")
    viewer.open(f"#/call/{c['id']}", "#content")
    text = viewer.page.inner_text("#content")
    assert "<EMAIL_ADDRESS>" in text and "mary.roe@globex.example" not in text
    assert viewer.page.query_selector("#show-raw") is None
    assert "null" not in viewer.page.inner_text("#view").split()
    viewer.open("#/controls", "#controls")
    assert viewer.page.query_selector("#apply-form") is None and viewer.page.query_selector("button.revert") is None
    viewer.close()


def test_responder_reads_raw_with_a_reason_written_to_the_access_log(browser: Any, demo: Demo) -> None:
    c = _call_of(demo)
    responder = Console(browser, demo, "responder")
    responder.open(f"#/call/{c['id']}", "#show-raw")
    responder.page.click("#show-raw")
    responder.confirm(reason="console test: checking the leak")
    responder.page.wait_for_selector("#content[data-raw=true]")
    assert "mary.roe@globex.example" in responder.page.inner_text("#content")
    responder.close()
    with demo.client("admin") as http:
        log = http.get("/api/v1/access-log", params={"call_id": c["id"]}).json()["entries"]
    assert any(e["reason"] == "console test: checking the leak" for e in log)


def test_markup_in_prompts_and_titles_stays_text(admin: Console, demo: Demo) -> None:
    with demo.client("ingest") as http:
        http.post("/api/v1/calls", json={"id": "xss-1", "app": "support-bot", "tenant": "acme",
                                          "input": [{"role": "user", "content": XSS}], "output": XSS}
                  ).raise_for_status()
    with demo.client("responder") as http:
        inc = http.post("/api/v1/incidents", json={"title": "Odd answers " + XSS, "type": "harmful_output",
                                                   "severity": "P3", "apps": ["support-bot"]}).json()
        http.post(f"/api/v1/incidents/{inc['id']}/notes", json={"text": XSS}).raise_for_status()
    p = admin.page
    admin.open("#/call/xss-1", "#content")
    assert "<script>window.__xss = 1</script>" in p.inner_text("#content")
    admin.open("#/calls?q=xss", "#call-filters")
    admin.open("#/incidents", f"tr[data-id='{inc['id']}']")
    assert "<img src=x" in p.inner_text(f"tr[data-id='{inc['id']}']") or "Odd answers" in p.inner_text("#incidents")
    admin.open(f"#/incidents/{inc['id']}", "#timeline li")
    assert p.query_selector("#view img") is None and p.query_selector("#view script") is None
    assert p.evaluate("window.__xss") is None


def test_launches_a_drill_and_reads_its_report(admin: Console, demo: Demo) -> None:
    p = admin.page
    admin.open("#/drills", "#drill-form")
    p.select_option("#drill-form select[name=scenario]", "data_leak")
    p.click("#drill-form button[type=submit]")
    admin.confirm()
    card = p.wait_for_selector("section.card.drill")
    drill_id = card.get_attribute("data-id")
    p.wait_for_selector(f"section.drill[data-id='{drill_id}'] details >> text=report (Markdown)", timeout=90_000)
    text = p.inner_text(f"section.drill[data-id='{drill_id}']")
    assert "to detect" in text and "to contain" in text
    with demo.client("viewer") as http:
        job = http.get(f"/api/v1/drills/{drill_id}").json()
    assert job["state"] == "done" and job["report"]["detected"] and job["report"]["contained"]


def test_labels_affected_answers_and_the_counts_reach_the_post_mortem(admin: Console, demo: Demo) -> None:
    """The labelling queue of the demo's incident: one affected answer at a time, a category each;
    the tally on the page and the post-mortem count them."""
    p = admin.page
    admin.open(f"#/incidents/{demo.incident}", "#label-next")
    first = p.get_attribute("#label-next", "data-call")
    assert first and p.inner_text("#label-next pre.answer").strip()
    admin.act("#label-next button[data-label=factual_error]")
    second = p.wait_for_selector("#label-next").get_attribute("data-call")
    assert second and second != first
    admin.act("#label-next button[data-label=invented_citation]")
    assert p.inner_text("#label-counts tr[data-label=factual_error] td.num") == "1"
    assert p.inner_text("#label-counts tr[data-label=invented_citation] td.num") == "1"
    with demo.client("viewer") as http:
        labels = http.get(f"/api/v1/incidents/{demo.incident}/labels").json()
        md = http.get(f"/api/v1/incidents/{demo.incident}/postmortem", params={"format": "md"}).text
    assert {x["call_id"]: x["label"] for x in labels["labels"]} == {first: "factual_error", second: "invented_citation"}
    assert "factual_error: 1" in md and "invented_citation: 1" in md


def test_links_and_merges_incidents_and_marks_drills(admin: Console, demo: Demo) -> None:
    p = admin.page
    with demo.client("responder") as http:
        a, b, d = (http.post("/api/v1/incidents", json={"title": t, "type": "quality_degradation", "severity": "P3",
                                                        "apps": ["notes-bot"], "drill": drill}).json()["id"]
                   for t, drill in (("Short answers", False), ("Truncated answers", False), ("Game day", True)))
        c = http.post("/api/v1/incidents", json={"title": "Odd summaries", "type": "quality_degradation",
                                                 "severity": "P3", "apps": ["notes-bot"]}).json()["id"]
    admin.open(f"#/incidents/{a}", "#link-incident")
    assert p.query_selector("#drill-banner") is None
    admin.act("#link-incident", {"other": c, "reason": "same deploy"})
    assert c in p.inner_text("#incident-links li[data-kind=related]")
    p.wait_for_selector("text=as related (same deploy)")  # the timeline says it in a sentence
    admin.act("#merge-incident", {"into": b, "reason": "one truncation bug"})
    p.wait_for_selector(f"#incident-links li[data-kind=merged_from] >> text={a}")
    assert f"#/incidents/{b}" in p.url
    admin.open(f"#/incidents/{a}", "#merged-banner")
    assert b in p.inner_text("#merged-banner") and p.query_selector("#merge-incident") is None
    with demo.client("viewer") as http:
        assert http.get(f"/api/v1/incidents/{a}").json()["merged_into"] == b
    admin.open(f"#/incidents/{d}", "#drill-banner")
    assert "DRILL" in p.inner_text("#drill-banner") and "never opened" in p.inner_text("#drill-banner")
    admin.open("#/incidents?drill=true", f"tr[data-id='{d}'] .badge.drill")
