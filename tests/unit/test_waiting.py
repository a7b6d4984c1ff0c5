"""Estimated waits come from recent claims, not a constant."""

from handoff.waiting import MIN_CLAIMS, estimate_wait

NOW = 10_000.0


def test_no_estimate_without_enough_recent_claims():
    assert estimate_wait(1, [], NOW) is None
    assert estimate_wait(1, [NOW - 60] * (MIN_CLAIMS - 1), NOW) is None
    # Claims older than an hour say nothing about now.
    assert estimate_wait(1, [NOW - 4000, NOW - 3900, NOW - 3800], NOW) is None


def test_the_wait_grows_with_the_place_in_line():
    claims = [NOW - 300, NOW - 200, NOW - 100]  # one claim every 100 s, the last 100 s ago
    assert estimate_wait(1, claims, NOW) == 100
    assert estimate_wait(3, claims, NOW) == 300


def test_a_queue_nobody_takes_from_is_slower_than_its_history():
    claims = [NOW - 1000, NOW - 990, NOW - 980]  # fast then, nothing for 980 s
    assert estimate_wait(1, claims, NOW) == 980


def test_faster_agents_mean_shorter_waits():
    slow = [NOW - 600, NOW - 300, NOW - 10]
    fast = [NOW - 60, NOW - 30, NOW - 10]
    assert estimate_wait(2, fast, NOW) < estimate_wait(2, slow, NOW)
