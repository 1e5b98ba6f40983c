"""Message templates render from the incident, mark missing fields visibly, and can be overridden."""

from __future__ import annotations

from pathlib import Path

from fireline.db import Database
from tests.comms.support import comms_config, pii_leak, store_calls
from tests.support.fireline import running


def test_templates_fill_or_mark_every_placeholder(db: Database, tmp_path: Path) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]}, {"findings": [pii_leak("PHONE_NUMBER")]}])
    (tmp_path / "in_product_notice.txt.j2").write_text("Custom notice for {{ incident.apps }} by {{ nobody }}.\n")
    config = comms_config(comms={"templates_dir": str(tmp_path), "dpo_contact": None})
    with running(db, config) as fl, fl.client("responder") as c:
        iid = c.post("/api/v1/incidents", json={"title": "Leak", "type": "data_leakage", "severity": "P0",
                                                "apps": ["support-bot"], "call_ids": ids}).json()["id"]
        reg = c.get(f"/api/v1/incidents/{iid}/messages/regulator_notification").json()
        assert reg["subject"].startswith("Personal data breach notification (GDPR Art. 33) — Example Ltd")
        body = reg["body"]
        assert "EMAIL_ADDRESS, PHONE_NUMBER" in body and "support-bot" in body
        assert "Approximate number of data subjects concerned: 2" in body
        assert "[MISSING: dpo_contact]" in body and "[MISSING: disclosure.likely_consequences]" in body
        assert "[MISSING: disclosure.measures]" in body
        assert set(reg["missing"]) >= {"dpo_contact", "disclosure.likely_consequences", "disclosure.measures"}
        assert "None" not in body

        status = c.get(f"/api/v1/incidents/{iid}/messages/status_update").json()
        assert status["missing"] == [] and status["body"].startswith("Investigating — support-bot")

        mail = c.get(f"/api/v1/incidents/{iid}/messages/customer_email").json()
        assert mail["subject"] == f"Important information about support-bot ({iid})"
        assert "[MISSING: dpo_contact]" in mail["body"]

        custom = c.get(f"/api/v1/incidents/{iid}/messages/in_product_notice").json()
        assert custom["body"] == "Custom notice for support-bot by [MISSING: nobody].\n"
        assert custom["missing"] == ["nobody"]

        c.post(f"/api/v1/incidents/{iid}/high-risk", json={"likely_consequences": "Phishing of affected users."})
        c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "support-bot"},
                                         "incident_id": iid, "reason": "stop the leak"})
        reg = c.get(f"/api/v1/incidents/{iid}/messages/regulator_notification").json()
        assert "Likely consequences: Phishing of affected users." in reg["body"]
        assert "kill switch (app support-bot)" in reg["body"]

        assert c.get(f"/api/v1/incidents/{iid}/messages/tweet").status_code == 404
        with fl.client("viewer") as v:
            assert v.get(f"/api/v1/incidents/{iid}/messages/status_update").status_code == 403
