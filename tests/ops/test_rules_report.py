"""`python -m hookline rules report` (and the rules section of `status`) on a table seeded with a
known history of drafts and decisions, in DynamoDB Local."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
import yaml

from hookline.models import Draft, State
from hookline.ops.cli import main
from hookline.store import Move, Store
from local.dynamodb import DynamoDBLocal
from tests.conftest import NOW, base_config_data
from tests.support.drafts import make_draft

ALEX = "Alex Morgan <alex@example.org>"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def seed(store: Store, n: int, *, outcome: State, reasons: list[str] | None = None, **fields: Any) -> None:
    created = NOW - timedelta(days=fields.pop("age_days", 0))
    for i in range(n):
        draft: Draft = make_draft(
            created, identity=f"{fields.get('term')}-{outcome}-{i}-{id(fields)}", **fields
        )
        assert store.create_draft(draft)
        if outcome is State.PENDING:
            continue
        if outcome is State.EXPIRED:
            store.transition(draft, Move(State.EXPIRED, actor="hookline", action="expire"))
            continue
        target = State.REJECTED if outcome is State.REJECTED else State.APPROVED
        reason = reasons[i % len(reasons)] if reasons else None
        after = store.transition(draft, Move(target, actor=ALEX, action=target.value.lower(), reason=reason))
        if outcome is State.PUBLISHED:
            after = store.transition(after, Move(State.PUBLISHING, actor="hookline", action="publish"))
            store.transition(after, Move(State.PUBLISHED, actor="hookline", action="published"))


def seeded(store: Store) -> None:
    consultation = {"rule": "publications", "term": "keyword:consultation"}
    seed(store, 9, outcome=State.REJECTED, reasons=["not ours", "not ours", "routine"], **consultation)
    seed(store, 1, outcome=State.PUBLISHED, **consultation)
    report = {"rule": "publications", "term": "category:Report"}
    seed(store, 12, outcome=State.APPROVED, **report)
    seed(store, 2, outcome=State.REJECTED, reasons=["too old"], **report)
    seed(store, 3, outcome=State.EXPIRED, feed_id="partner", **report)
    seed(store, 1, outcome=State.PENDING, **report)
    # Skips the rules made that people drafted by hand: strategies (no include term) and minutes
    strategy = {
        "rule": "publications",
        "term": "unmatched",
        "by_hand": "Sam Patel",
        "categories": ["Strategy"],
    }
    seed(store, 6, outcome=State.APPROVED, **strategy)
    seed(store, 1, outcome=State.REJECTED, reasons=["draft strategy only"], **strategy)
    minutes = {
        "rule": "publications",
        "term": "keyword:minutes",
        "by_hand": "Sam Patel",
        "categories": ["Board"],
    }
    seed(store, 3, outcome=State.APPROVED, **minutes)
    # And history older than the report's window, which it leaves out
    seed(store, 5, outcome=State.REJECTED, age_days=120, rule="publications", term="keyword:research")


def config_file(tmp_path: Path) -> str:
    path = tmp_path / "hookline.yaml"
    path.write_text(yaml.safe_dump(base_config_data()), encoding="utf-8")
    return str(path)


def test_the_rules_report_counts_each_terms_decisions_and_suggests_the_config_changes_they_imply(
    store: Store, dynamodb_local: DynamoDBLocal, tmp_path: Path
) -> None:
    # Given 90 days of drafts and the team's decisions on them
    seeded(store)
    where = ["--table", store.table, "--endpoint", dynamodb_local.endpoint, "--config", config_file(tmp_path)]

    # When the report is asked for
    with time_machine.travel(NOW, tick=False):
        code, out, err = cli("rules", "report", *where, "--json")
        text_code, text, _ = cli("rules", "report", *where)

    # Then each rule term's drafts are counted by outcome, per feed, with the reasons given
    assert (code, text_code) == (0, 0), err
    report = json.loads(out)
    terms = report["rules"]["publications"]
    consultation = terms["keyword:consultation"]
    assert {k: consultation[k] for k in ("drafted", "approved", "rejected", "expired", "pending")} == {
        "drafted": 10,
        "approved": 1,
        "rejected": 9,
        "expired": 0,
        "pending": 0,
    }
    assert consultation["rejected_because"] == {"not ours": 6, "routine": 3}
    by_report = terms["category:Report"]
    assert (by_report["drafted"], by_report["approved"], by_report["rejected"], by_report["expired"]) == (
        18,
        12,
        2,
        3,
    )
    assert by_report["feeds"]["partner"]["expired"] == 3
    assert by_report["feeds"]["news"]["drafted"] == 15
    by_hand = terms["by hand"]
    assert (by_hand["drafted"], by_hand["drafted_by_hand"], by_hand["approved"]) == (10, 10, 9)
    # And the drafts older than 90 days are not counted
    assert "keyword:research" not in terms

    # And the suggestions are concrete config changes where the decisions disagree with the rule
    assert report["suggestions"] == [
        "approvers rejected 9 of 10 drafts matched by keyword 'consultation': add it to exclude_keywords "
        "of rule 'publications' (or remove it from include_keywords)",
        "3 skips excluded by keyword 'minutes' were drafted by hand: remove it from exclude_keywords "
        "of rule 'publications'",
        "7 skips of category 'Strategy' were drafted by hand: add it to include_categories of rule 'publications'",
    ]
    # (12 of 14 approved is agreement: no suggestion for 'Report'; 'Board' was skipped for 'minutes')
    assert not any("'Report'" in s for s in report["suggestions"])

    # And the text form says the same to a person
    assert "Rules: drafts made in the last 90 days (since 2026-08-27)" in text
    assert (
        "    keyword 'consultation': drafted 10, approved 1, rejected 9, expired 0, pending 0, "
        "drafted by hand from skips 0"
    ) in text
    assert "      rejected because: 'not ours' (6)" in text
    assert "  - 7 skips of category 'Strategy' were drafted by hand" in text


def test_status_has_a_rules_section_with_the_suggestions(
    store: Store, dynamodb_local: DynamoDBLocal, tmp_path: Path
) -> None:
    seeded(store)
    with time_machine.travel(NOW, tick=False):
        code, out, err = cli(
            "status",
            "--table",
            store.table,
            "--endpoint",
            dynamodb_local.endpoint,
            "--config",
            config_file(tmp_path),
        )
    assert code == 0, err
    assert "Rules (last 90 days): 38 drafts, 22 approved, 12 rejected, 10 drafted by hand from skips" in out
    assert "  suggestion: approvers rejected 9 of 10 drafts matched by keyword 'consultation'" in out


def test_a_report_on_days_below_one_is_a_clear_error(store: Store, dynamodb_local: DynamoDBLocal) -> None:
    code, _, err = cli(
        "rules", "report", "--table", store.table, "--endpoint", dynamodb_local.endpoint, "--days", "0"
    )
    assert code == 2
    assert err == "hookline: --days must be at least 1\n"


def test_the_review_page_says_how_the_team_decided_earlier_drafts_from_the_same_rule_term(
    store: Store,
) -> None:
    # Given the seeded history, and a new draft matched by keyword 'consultation'
    seeded(store)
    from hookline.approval.review import Approvals
    from tests.conftest import SIGNING_KEY, Clock, make_config
    from tests.support.drafts import add_draft, signer

    later = NOW + timedelta(minutes=5)
    draft = add_draft(
        store, later, identity="new-consultation", rule="publications", term="keyword:consultation"
    )
    other = add_draft(store, later, identity="new-guidance", rule="publications", term="keyword:guidance")
    links = signer(SIGNING_KEY)
    approvals = Approvals(make_config(), store, links, Clock(later))

    def why(d: Draft) -> str:
        html = approvals.review(d.id, links.decide_token(d, "alex@example.org")).html
        section = html.split('id="why-heading"', 1)[1].split("</section>", 1)[0]
        return " ".join(section.split())

    # When an approver opens it, "why it was queued" says how the earlier ones went
    assert (
        "The team approved 1 of the last 10 drafts from this rule (keyword &#39;consultation&#39;, "
        "rule &#39;publications&#39;)." in why(draft)
    )
    # And a draft matched by a term nobody has decided on yet has no such line
    assert "The team approved" not in why(other)
