"""Review and decide: what the approvals endpoint does, free of HTTP and Lambda.

This module is the room's door: `Approvals` puts together the review and result pages
(pages.py), the decisions (decisions.py, change_link.py) and the queue and pause switch
(queue.py). A GET never changes anything (mail scanners fetch links).
"""

from __future__ import annotations

from hookline.approval.base import Page
from hookline.approval.decisions import ACTIONS, Decisions
from hookline.approval.pages import check_verdict
from hookline.approval.queue import QueuePages, pause_from_cli
from hookline.approval.schedule import expected_publish_at

__all__ = ["ACTIONS", "Approvals", "Page", "check_verdict", "expected_publish_at", "pause_from_cli"]


class Approvals(Decisions, QueuePages):
    """The approvals endpoint's pages and decisions (see each base for its part)."""
