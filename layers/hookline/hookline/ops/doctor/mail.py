"""SES: the sender is verified and each approver can receive the approval mail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hookline.ops.doctor.base import FAIL, OK, WARN, Check, DoctorBase, error_of


class MailChecks(DoctorBase):
    def check_email(self) -> Iterator[Check]:
        sender = self.config.notifications.email_sender
        if not sender:
            yield Check(
                FAIL,
                "ses sender",
                f"notifications.email_sender is not set in {self.config_source}, so approvers get no personal "
                "links: set it to an address of the organisation and verify it in SES",
            )
            return
        ses = self.client("sesv2")
        try:
            account = ses.get_account()
        except Exception as exc:
            code, message = error_of(exc)
            yield Check(FAIL, "ses account", f"cannot be read ({code}: {message})")
            return
        sandbox = not account.get("ProductionAccessEnabled", False)
        if not account.get("SendingEnabled", True):
            yield Check(
                FAIL,
                "ses account",
                f"sending is paused for this account ({account.get('EnforcementStatus', 'unknown')}): "
                "see the SES console's reputation page; re-enable with "
                "aws sesv2 put-account-sending-attributes --sending-enabled",
            )
        elif sandbox:
            yield Check(
                WARN,
                "ses account",
                "in the SES sandbox: mail reaches verified addresses only, at most 200 a day; request production "
                "access: aws sesv2 put-account-details --production-access-enabled --mail-type TRANSACTIONAL "
                f'--website-url {self.config.organisation.homepage} --use-case-description "approval links '
                'for our corporate X posts, to our own staff"',
            )
        else:
            yield Check(OK, "ses account", "production access, sending enabled")

        verified, how = self._verified(ses, sender)
        if verified:
            yield Check(OK, "ses sender", f"{sender} is verified{how}")
        else:
            yield Check(FAIL, "ses sender", f"{sender} {how}")

        for approver in self.config.approvers:
            name = f"ses approver {approver.email}"
            suppressed = self._suppressed(ses, approver.email)
            if suppressed:
                yield Check(
                    FAIL,
                    name,
                    f"is on the account's suppression list ({suppressed}), so mail to it is dropped: check the "
                    f"address, then aws sesv2 delete-suppressed-destination --email-address {approver.email}",
                )
                continue
            if not sandbox:
                yield Check(OK, name, f"{approver.name} can receive mail")
                continue
            ok, how = self._verified(ses, approver.email)
            if ok:
                yield Check(OK, name, f"{approver.name} can receive mail in the sandbox: verified{how}")
            else:
                yield Check(FAIL, name, f"SES is in the sandbox and {approver.email} {how}")

    def _verified(self, ses: Any, address: str) -> tuple[bool, str]:
        """Is the address, or its domain, a verified SES identity? (verified?, how / what to do)."""
        domain = address.rsplit("@", 1)[1].lower()
        pending = None
        for identity in (address, domain):
            try:
                found = ses.get_email_identity(EmailIdentity=identity)
            except Exception as exc:
                code, message = error_of(exc)
                if code == "NotFoundException":
                    continue
                return False, f"could not be checked ({code}: {message})"
            if found.get("VerifiedForSendingStatus"):
                return True, f" (through the domain {domain})" if identity == domain else ""
            pending = pending or (identity, found.get("VerificationStatus", "PENDING"))
        if pending:
            identity, status = pending
            if identity == domain:
                return False, (
                    f"is not verified: the domain {domain} is {status}; publish the DKIM records "
                    f"(aws sesv2 get-email-identity --email-identity {domain})"
                )
            return False, f"is not verified ({status}): open the link AWS mailed to {address}"
        return False, (
            f"is not verified: aws sesv2 create-email-identity --email-identity {address}, then open the link "
            "AWS mails to it"
        )

    def _suppressed(self, ses: Any, address: str) -> str | None:
        try:
            found = ses.get_suppressed_destination(EmailAddress=address)
        except Exception:
            return None  # not suppressed (NotFound), or not allowed to look: the identity check still runs
        return str(found.get("SuppressedDestination", {}).get("Reason") or "suppressed")
