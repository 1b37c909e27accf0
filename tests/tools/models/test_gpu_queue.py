"""The GPU queue: one holder at a time, turns in arrival order, waiters told their place, re-entry allowed."""

from __future__ import annotations

import threading
import time

from tools.models.gpu_queue import GpuQueue


def test_turns_are_served_in_order_and_waiters_hear_their_place():
    queue = GpuQueue()
    order, heard = [], {}

    def worker(name: str) -> None:
        with queue.turn(lambda ahead: heard.setdefault(name, []).append(ahead)):
            order.append(name)
            time.sleep(0.05)

    with queue.turn():
        threads = []
        for name in ("a", "b", "c"):
            thread = threading.Thread(target=worker, args=(name,))
            thread.start()
            threads.append(thread)
            while queue.waiting() < len(threads):
                time.sleep(0.005)
    for thread in threads:
        thread.join()
    assert order == ["a", "b", "c"]
    assert heard["a"][0] == 1 and heard["b"][0] == 2 and heard["c"][0] == 3
    assert all(places == sorted(places, reverse=True) for places in heard.values())


def test_the_holder_may_enter_again_and_others_wait_until_it_leaves_fully():
    queue = GpuQueue()
    inside = []

    def other_session() -> None:
        with queue:
            inside.append(1)

    with queue:
        with queue.turn():
            other = threading.Thread(target=other_session)
            other.start()
            time.sleep(0.05)
            assert inside == [] and queue.waiting() == 1
        time.sleep(0.05)
        assert inside == []
    other.join(timeout=2)
    assert inside == [1] and queue.waiting() == 0
