"""The eligibility feed (docs/eligibility.md#the-feed): the current decisions of a rule set in order of
their last change, read page by page from a cursor. Patients appear by pseudonym only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session

from grading.eligibility import RuleSet
from registry.cursors import decode_cursor, encode_cursor
from registry.errors import InvalidInput
from registry.models import EligibilityDecision
from registry.repositories import eligibility as eligibility_repo


@dataclass(frozen=True)
class FeedItem:
    """One decision as published: the patient appears by pseudonym only."""

    decision: EligibilityDecision
    pseudonym: str


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed and the cursor to continue (or poll) from."""

    items: list[FeedItem]
    next_cursor: str


def parse_cursor(since: str | None) -> int:
    """The feed position a cursor names; the beginning when ``since`` is omitted."""
    if since is None or since == "":
        return 0
    (position,) = decode_cursor(since, (int,), "since", "feed")
    return int(position)


def feed(session: Session, rule_set: RuleSet, since: str | None, limit: int) -> FeedPage:
    """The decisions of ``rule_set`` that changed after the cursor ``since``, oldest change first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit {limit} is out of range; allowed: 1 to 1000")
    after = parse_cursor(since)
    rows = eligibility_repo.feed_page(session, rule_set.trial, rule_set.version, after, limit)
    items = [FeedItem(decision, pseudonym) for decision, pseudonym in rows]
    return FeedPage(items, encode_cursor(items[-1].decision.seq if items else after))


def iter_feed(session: Session, rule_set: RuleSet, since: str | None, page_size: int = 1000) -> Iterator[FeedItem]:
    """Every decision after ``since``, page by page (for exports)."""
    cursor = since
    while True:
        page = feed(session, rule_set, cursor, page_size)
        yield from page.items
        if len(page.items) < page_size:
            return
        cursor = page.next_cursor
