"""A venue change of funding terms (``SetFundingTerms``): Binance's metals perpetuals went from
4 h and a 0.375 % cap to 8 h and 0.05 % on 2026-01-30, announced at 12:15 UTC, from the 16:00
settlement. Sent at 12:15 it makes 16:00 the next settlement, on the new cap."""

from __future__ import annotations

from conftest import START, Venue, of

from engine import RejectReason, digest
from engine import unit_commands as u
from engine.events import Rejected
from engine.units import NS_PER_SECOND, RATE_SCALE, parse_timestamp

BTC = "BTCUSDT"
HOUR = 3600 * NS_PER_SECOND


def rich_premium_venue() -> Venue:
    """BTC at 60 000 with the whole book about 0.9 % above the index, and a long and a short."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol=BTC, price="60000.00")
    for account in ("mm", "long", "short"):
        v("deposit", account=account, amount="1000000")
    v("place", account="mm", symbol=BTC, side="sell", type="limit", qty="2", price="60600.00")
    v("place", account="mm", symbol=BTC, side="buy", type="limit", qty="2", price="60500.00")
    v("place", account="short", symbol=BTC, side="sell", type="limit", qty="0.5",
      price="60550.00")
    v("place", account="long", symbol=BTC, side="buy", type="market", qty="0.5")
    return v


def terms(v: Venue, hours: int, cap: str) -> list:
    return v.exchange.execute(u.SetFundingTerms(
        symbol=BTC, interval_ns=hours * HOUR, cap=int(float(cap) * RATE_SCALE)))


def test_the_change_moves_the_next_settlement_and_caps_it_anew() -> None:
    v = rich_premium_venue()
    assert terms(v, 4, "0.00375") == []
    assert v.exchange.view_symbol(BTC).next_funding == parse_timestamp("2026-01-07T12:00:00Z")
    settled = of(v("time", ts="2026-01-07T12:00:00Z"), "funding")
    assert [f["rate"] for f in settled] == ["0.00375"]  # the premium is ~0.85 %: capped

    v("time", ts="2026-01-07T12:15:00Z")
    assert terms(v, 8, "0.0005") == []
    view = v.exchange.view_symbol(BTC)
    assert view.next_funding == parse_timestamp("2026-01-07T16:00:00Z")
    assert view.funding_rate == RATE_SCALE * 5 // 10_000  # the new cap, at once
    assert of(v("time", ts="2026-01-07T15:59:59Z"), "funding") == []
    settled = of(v("time", ts="2026-01-07T16:00:00Z"), "funding")
    assert [f["rate"] for f in settled] == ["0.0005"]
    assert v.exchange.view_symbol(BTC).next_funding == parse_timestamp("2026-01-08T00:00:00Z")


def test_the_terms_are_part_of_the_state() -> None:
    a, b = rich_premium_venue(), rich_premium_venue()
    assert a.exchange.state_hash() == b.exchange.state_hash()
    terms(b, 4, "0.003")
    assert a.exchange.state_hash() != b.exchange.state_hash()


def state_except_seq(v: Venue) -> list:
    state = digest.canonical_state(v.exchange)
    return state[:1] + state[2:]


def test_bad_terms_are_refused_and_change_nothing() -> None:
    v = rich_premium_venue()
    before = state_except_seq(v)
    for hours_ns, cap in ((5 * HOUR, 50_000), (HOUR // 2, 50_000), (0, 50_000),
                          (8 * HOUR, 0), (8 * HOUR, RATE_SCALE // 2)):
        [event] = v.exchange.execute(u.SetFundingTerms(symbol=BTC, interval_ns=hours_ns,
                                                       cap=cap))
        assert isinstance(event, Rejected)
        assert event.reason is RejectReason.INVALID_FUNDING_TERMS
    [event] = v.exchange.execute(u.SetFundingTerms(symbol="DOGEUSDT", interval_ns=8 * HOUR,
                                                   cap=50_000))
    assert isinstance(event, Rejected) and event.reason is RejectReason.UNKNOWN_SYMBOL
    assert state_except_seq(v) == before
