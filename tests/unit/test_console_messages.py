"""The console's message files: both languages complete, a missing key refused, every page renders in both."""
from __future__ import annotations

import jinja2
import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.oversight_rows import Acknowledgement, VerificationRecord
from gateway.console import messages
from gateway.console.app import NAV, beijing
from gateway.service.oversight_alerts import AlertItem, AlertPage
from gateway.service.oversight_orgs import DayCount, OrgReport, PurposeCount
from gateway.service.oversight_overview import CheckpointSummary, HourCount, Overview


def test_the_shipped_files_have_the_same_keys() -> None:
    found = messages.catalogue()
    assert set(found) == {"zh", "en"} and set(found["zh"]) == set(found["en"])


def test_a_missing_key_is_refused_at_load() -> None:
    with pytest.raises(messages.MessagesError, match="en.toml lacks b"):
        messages.parse({"zh": 'a = "甲"\nb = "乙"', "en": 'a = "A"'})
    with pytest.raises(messages.MessagesError, match="without text"):
        messages.parse({"zh": 'a = ""', "en": 'a = "A"'})


def test_asking_for_no_key_raises() -> None:
    with pytest.raises(messages.MessagesError):
        messages.for_language("zh").t("no.such.key")


@pytest.mark.parametrize(("query", "accept", "lang"), [
    ("", "", "zh"), ("en", "", "en"), ("", "en-US,en;q=0.9", "en"), ("zh", "en-US", "zh"),
    ("fr", "fr-FR, zh-CN;q=0.8", "zh"), ("", "de", "zh")])
def test_language_choice(query: str, accept: str, lang: str) -> None:
    assert messages.choose(query, accept) == lang


def test_beijing_time() -> None:
    assert beijing("2026-06-15T04:00:03.319442Z") == "2026-06-15 12:00:03"


E = AccessEntry("2026-06-15T04:00:00.000000Z", "school/330203/a", "ab", "school", "a", "330203",
                "permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", "", "", "ff" * 16, "allow", "S-1",
                "v1", seq=1)


OV = Overview(7, CheckpointSummary(6, "ab" * 32, "2026-06-15T04:00:00Z", 300),
              VerificationRecord("2026-06-15T04:00:00Z", True, 6, "log verified"), ("2026-06-15T04:00:00Z",),
              (HourCount("2026-06-15T04:00:00Z", "school", 3),), 3, 1, 1 / 3, 2)
ALERTS = AlertPage((AlertItem(E, None), AlertItem(E, Acknowledgement(1, "2026-06-15T05:00:00Z", "auditor/330203/x",
                                                                     "looked", 9))), 1, 50, 2, False)
ORG = OrgReport("a", "2026-06-14T16:00:00Z", "2026-06-15T16:00:00Z",
                (PurposeCount("compulsory-education", "allow", 1),),
                (DayCount("2026-06-15", "allow", 1),), 1, ("2026-06-15",))


@pytest.mark.parametrize("lang", messages.LANGUAGES)
@pytest.mark.parametrize(("template", "page", "extra"), [
    ("overview.html", "overview", {"ov": OV, "everywhere": True, "district": "330200", "roles": ("school",),
                                   "rows": [("06-15 12:00", [3], 3)], "age": "5 min", "rate": "33.3%",
                                   "chart": {"kind": "bar", "x": ["06-15 12:00"], "series": []}}),
    ("alerts.html", "alerts", {"got": ALERTS, "everywhere": False, "district": "330203", "open_only": False,
                               "max_note": 1000, "prev_url": "/p", "next_url": "/n",
                               "all_url": "/a", "open_url": "/o"}),
    ("org.html", "org", {"everywhere": True, "district": "330200", "form": {"org": "a", "since": "", "until": ""},
                         "report": ORG, "chart": {"kind": "bar"}, "rows": [("2026-06-15", [1], 1)],
                         "outcomes": ("allow",), "purposes": {}}),
    ("search.html", "search", {"everywhere": True, "district": "330200", "filters": {
        k: "" for k in ("principal", "org", "role", "purpose", "decision", "since", "until")},
        "roles": ("auditor",), "purposes": ["access-audit"], "decisions": ("allow", "deny", "invalid", "error",
                                                                              "alert"),
        "searched": True, "person": "330203********1234", "entries": [E], "next_url": "/x", "export_url": "/y"}),
    ("entry.html", "entry", {"entry": E, "fields": ("time", "principal"), "proof": {"size": 1, "checkpoint": "n"},
                             "labels": {"result.pending": "…"}, "verifier": "log+01234567+AQ==",
                             "lines": [("auditor",)], "policy_current": False, "current_version": "v2"}),
    ("person.html", "person", {"searched": True, "person": "330203********1234", "entries": [E], "everywhere": False,
                               "district": "330203", "checkpoint": {"size": 1, "root": "00"},
                               "purposes": {"compulsory-education": "S-1"}}),
])
@pytest.mark.parametrize("bureau", ["", "宁波市教育局"])  # an officer of a bureau of policies/organisations.toml
def test_every_page_renders_in_every_language(lang: str, template: str, page: str, extra: dict[str, object],
                                              bureau: str) -> None:
    env = jinja2.Environment(loader=jinja2.PackageLoader("gateway.console", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    words = messages.for_language(lang)
    html = env.get_template(template).render(
        t=words.t, page=page, nav=NAV, url=lambda path, **kw: path, beijing=beijing, principal="auditor/330200/x",
        other_lang_url="/", now="2026-06-15 12:00:00", csrf="tok", bureau=bureau, **extra)
    assert words.t("title." + page) in html
    if bureau and template != "entry.html":  # every page with a list of accesses says whose
        assert f"{words.t('scope.bureau')} {bureau}" in html
    for kind in ("certificate", "denied", "invalid", "unavailable", "busy", "notfound", "conflict", "error"):
        assert env.get_template("refused.html").render(t=words.t, kind=kind, reason="R")
