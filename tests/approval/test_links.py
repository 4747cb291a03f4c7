"""Signed links: who can open what, for how long, and what survives a key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from hookline.approval.links import DECIDE, LinkSigner
from hookline.errors import Forbidden
from hookline.services import signing_keys
from hookline.settings import Settings
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.drafts import make_draft

CONFIG = make_config()
ALEX = "alex@example.org"


@pytest.fixture
def links() -> LinkSigner:
    return LinkSigner([SIGNING_KEY], timedelta(days=7), "https://approve.example.org")


def test_a_personal_link_names_its_draft_and_its_approver(links):
    # Given Alex's personal link for a draft
    draft = make_draft(NOW)
    token = links.decide_token(draft, "Alex@Example.org")

    # When it is read for that draft
    claims = links.read_draft_token(token, draft.id, CONFIG)

    # Then it can decide, in Alex's name, and it fits this very draft
    assert claims.can_decide
    assert claims.approver == ALEX
    claims.check_draft(draft)
    assert links.decide_url(draft, ALEX).startswith(f"https://approve.example.org/drafts/{draft.id}?token=")


def test_a_link_for_one_draft_never_opens_another(links):
    # Given two drafts and Alex's link for the first
    first, second = make_draft(NOW, identity="a"), make_draft(NOW, identity="b")
    token = links.decide_token(first, ALEX)

    # When it is used on the second, even with the second's id pasted into the URL
    # Then it is refused
    with pytest.raises(Forbidden, match="different draft"):
        links.read_draft_token(token, second.id, CONFIG)


def test_a_link_for_an_earlier_draft_with_the_same_id_opens_nothing(links):
    # Given a link sent for a draft that was later removed and drafted again from the same entry
    old = make_draft(NOW)
    token = links.decide_token(old, ALEX)
    again = make_draft(NOW + timedelta(days=2))
    assert again.id == old.id

    # When it is used on the new draft
    claims = links.read_draft_token(token, again.id, CONFIG)

    # Then it is refused: nobody has reviewed the new draft yet
    with pytest.raises(Forbidden, match="earlier draft"):
        claims.check_draft(again)


@pytest.mark.parametrize(
    "tamper",
    [
        # Not the last character: its low bits are base64 padding, so some changes decode the same.
        pytest.param(lambda t: t[:-5] + ("A" if t[-5] != "A" else "B") + t[-4:], id="signature changed"),
        pytest.param(lambda t: t[:-10], id="cut short"),
        pytest.param(lambda t: "", id="missing"),
        pytest.param(lambda t: "not-a-token", id="garbage"),
    ],
)
def test_a_tampered_link_is_refused(links, tamper):
    draft = make_draft(NOW)
    with pytest.raises(Forbidden):
        links.read_draft_token(tamper(links.decide_token(draft, ALEX)), draft.id, CONFIG)


def test_a_forged_link_that_names_another_approver_is_refused(links):
    # Given someone who rewrites the payload of their own link to name Alex
    draft = make_draft(NOW)
    token = links.decide_token(draft, "sam@example.org")
    _payload, rest = token.split(".", 1)
    forged_payload = base64.urlsafe_b64encode(
        f'{{"d":"{draft.id}","a":"{ALEX}","c":{int(draft.created_at.timestamp() * 1000)}}}'.encode()
    ).decode()
    forged = f"{forged_payload.rstrip('=')}.{rest}"
    assert forged != token

    # Then the signature no longer matches
    with pytest.raises(Forbidden, match="not valid"):
        links.read_draft_token(forged, draft.id, CONFIG)


def test_a_link_signed_with_another_key_is_refused(links):
    draft = make_draft(NOW)
    stranger = LinkSigner(["someone-elses-key-0123456789"], timedelta(days=7))
    with pytest.raises(Forbidden, match="not valid"):
        links.read_draft_token(stranger.decide_token(draft, ALEX), draft.id, CONFIG)


def test_links_are_hmac_sha256_with_a_salt_per_purpose(links):
    # Given a decide token
    draft = make_draft(NOW)
    token = links.decide_token(draft, ALEX)

    # Then its signature is HMAC-SHA256 under itsdangerous' derived key for the decide salt
    body, signature = token.rsplit(".", 1)
    derived = hashlib.sha256(DECIDE.encode() + b"signer" + SIGNING_KEY.encode()).digest()
    expected = base64.urlsafe_b64encode(hmac.new(derived, body.encode(), hashlib.sha256).digest())
    assert signature == expected.decode().rstrip("=")
    # And the same payload signed with SHA-1 (itsdangerous' default) is refused
    sha1 = URLSafeTimedSerializer(SIGNING_KEY, salt=DECIDE)
    with pytest.raises(Forbidden):
        links.read_draft_token(
            sha1.dumps({"d": draft.id, "a": ALEX, "c": int(draft.created_at.timestamp() * 1000)}),
            draft.id,
            CONFIG,
        )


def test_a_link_expires_after_the_configured_days(links):
    # Given a link issued now
    draft = make_draft(NOW)
    with time_machine.travel(NOW, tick=False):
        token = links.decide_token(draft, ALEX)

    # When it is opened just inside its 7 days, it works
    with time_machine.travel(NOW + timedelta(days=7) - timedelta(minutes=1), tick=False):
        assert links.read_draft_token(token, draft.id, CONFIG).can_decide

    # And just after, it is refused as expired
    with (
        time_machine.travel(NOW + timedelta(days=7, minutes=1), tick=False),
        pytest.raises(Forbidden, match="expired"),
    ):
        links.read_draft_token(token, draft.id, CONFIG)


def test_a_view_only_link_opens_the_draft_but_cannot_decide(links):
    draft = make_draft(NOW)
    claims = links.read_draft_token(links.view_token(draft), draft.id, CONFIG)
    assert claims.approver is None
    assert not claims.can_decide


def test_a_queue_link_is_not_a_review_link_and_the_reverse(links):
    # Given Alex's queue link and Alex's review link
    draft = make_draft(NOW)
    queue = links.queue_token(ALEX)
    review = links.decide_token(draft, ALEX)

    # Then neither opens the other's page: the salts keep the purposes apart
    with pytest.raises(Forbidden):
        links.read_draft_token(queue, draft.id, CONFIG)
    with pytest.raises(Forbidden):
        links.read_queue_token(review, CONFIG)
    assert links.read_queue_token(queue, CONFIG).approver == ALEX


def test_an_approver_removed_from_the_config_can_no_longer_use_earlier_links(links):
    # Given links sent to Sam while Sam was an approver
    draft = make_draft(NOW)
    review, queue = links.decide_token(draft, "sam@example.org"), links.queue_token("sam@example.org")

    # When Sam is removed from the config
    without_sam = make_config(approvers=[{"name": "Alex Morgan", "email": ALEX}])

    # Then neither link works any more
    with pytest.raises(Forbidden, match="no longer an approver"):
        links.read_draft_token(review, draft.id, without_sam)
    with pytest.raises(Forbidden, match="no longer an approver"):
        links.read_queue_token(queue, without_sam)


def test_after_a_key_rotation_old_and_new_links_both_work_until_the_old_key_is_dropped():
    draft = make_draft(NOW)
    # Given a link signed before the rotation
    before = LinkSigner(["old-key-0123456789abcdef"], timedelta(days=7))
    old_link = before.decide_token(draft, ALEX)

    # When the key is rotated (newest first, the old one kept to verify)
    rotated = LinkSigner(["new-key-0123456789abcdef", "old-key-0123456789abcdef"], timedelta(days=7))
    new_link = rotated.decide_token(draft, ALEX)

    # Then new links are signed with the new key only, and both links open the draft
    assert LinkSigner(["new-key-0123456789abcdef"], timedelta(days=7)).read_draft_token(
        new_link, draft.id, CONFIG
    )
    with pytest.raises(Forbidden):
        before.read_draft_token(new_link, draft.id, CONFIG)
    assert rotated.read_draft_token(old_link, draft.id, CONFIG).approver == ALEX

    # And once the old key is dropped (after its links expired), the old link is refused
    dropped = LinkSigner(["new-key-0123456789abcdef"], timedelta(days=7))
    with pytest.raises(Forbidden):
        dropped.read_draft_token(old_link, draft.id, CONFIG)


def test_the_deployed_keys_are_secrets_managers_current_then_previous(aws):
    # Given a rotated signing secret: AWSCURRENT holds the new key, AWSPREVIOUS the old one
    aws.secrets["hookline/signing"] = {
        "AWSCURRENT": '{"key": "new-key"}',
        "AWSPREVIOUS": '{"key": "old-key"}',
    }
    settings = Settings.model_validate({"HOOKLINE_TABLE": "t", "HOOKLINE_SIGNING_SECRET": "hookline/signing"})
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()

    # Then the function signs with the current key and still verifies with the previous one
    assert signing_keys(settings) == ["new-key", "old-key"]
    asked = [
        (c.params["SecretId"], c.params.get("VersionStage", "AWSCURRENT")) for c in aws.of("GetSecretValue")
    ]
    assert asked == [("hookline/signing", "AWSCURRENT"), ("hookline/signing", "AWSPREVIOUS")]
    parameters.clear_caches()


def test_before_the_first_rotation_only_the_current_key_is_used(aws):
    aws.secrets["hookline/signing"] = {"AWSCURRENT": "only-key"}
    settings = Settings.model_validate({"HOOKLINE_TABLE": "t", "HOOKLINE_SIGNING_SECRET": "hookline/signing"})
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    assert signing_keys(settings) == ["only-key"]
    parameters.clear_caches()


def test_locally_the_key_list_comes_from_the_environment_newest_first():
    settings = Settings.model_validate({"HOOKLINE_TABLE": "t", "HOOKLINE_SIGNING_KEY": "new,old"})
    assert signing_keys(settings) == ["new", "old"]
