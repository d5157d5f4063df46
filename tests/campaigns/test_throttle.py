"""Login throttling without a server: the window, the lockout, what a success clears, and bounded memory."""

from __future__ import annotations

import pytest

from workbench.campaigns import throttle
from workbench.campaigns.throttle import LoginThrottle, ThrottlePolicy
from workbench.core.errors import InputError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_older_than_the_window_do_not_count():
    clock = Clock()
    t = LoginThrottle(ThrottlePolicy(ip_failures=100, rater_failures=3, window_s=60, lockout_s=300), clock)
    for _ in range(2):
        t.record("1.2.3.4", "ana", ok=False)
    clock.now = 61.0  # both fell out of the window
    t.record("1.2.3.4", "ana", ok=False)
    assert t.refusal("1.2.3.4", "ana") is None
    t.record("1.2.3.4", "ana", ok=False)
    t.record("1.2.3.4", "ana", ok=False)  # three within 60 s: locked
    refused = t.refusal("9.9.9.9", "ana")  # the name is locked from every address
    assert refused is not None and refused.reason == "rater" and refused.retry_after_s == 300
    assert "try again in 5 minutes" in refused.message
    clock.now += 300
    assert t.refusal("9.9.9.9", "ana") is None
    t.record("9.9.9.9", "ana", ok=False)  # a served lockout starts a fresh count
    assert t.refusal("9.9.9.9", "ana") is None


def test_a_success_clears_the_raters_count_but_not_the_addresss():
    clock = Clock()
    t = LoginThrottle(ThrottlePolicy(ip_failures=4, rater_failures=3, window_s=600, lockout_s=900), clock)
    for name in ("ana", "ana", "bob"):
        t.record("1.2.3.4", name, ok=False)
    t.record("1.2.3.4", "ana", ok=True)
    t.record("1.2.3.4", "ana", ok=False)
    assert t.refusal("5.5.5.5", "ana") is None  # ana's count restarted at the success
    assert t.address_locked("1.2.3.4") is not None  # four failures from the address, success or not
    refused = t.locked("1.2.3.4", "carl")
    assert refused is not None and refused.reason == "address"
    assert t.hash_checks == 1  # locked() and address_locked() only look; refusal() counted one check


def test_a_flood_from_many_addresses_keeps_memory_bounded(monkeypatch):
    monkeypatch.setattr(throttle, "MAX_TRACKED_KEYS", 100)
    clock = Clock()
    t = LoginThrottle(ThrottlePolicy(ip_failures=2, rater_failures=2, window_s=10, lockout_s=20), clock)
    for i in range(1000):
        clock.now = i * 0.001
        t.record(f"10.0.{i // 256}.{i % 256}", f"x{i}", ok=False)
    assert len(t._ips) <= 100 and len(t._raters) <= 100


@pytest.mark.parametrize(
    "field, value", [("ip_failures", 0), ("window_s", float("nan")), ("lockout_s", -1.0)]
)
def test_a_policy_that_never_locks_or_never_unlocks_is_refused(field, value):
    with pytest.raises(InputError, match=field):
        ThrottlePolicy(**{field: value})
