"""The write gate's turns (kapfast.server.write.WriteGate): a free turn is taken without a trip
round the event loop (a small write is not queued behind other requests' work), a taken one is
waited for in arrival order, and a wait past the timeout is refused."""

from __future__ import annotations

import asyncio

import pytest

from kapfast.server.write import WriteGate


def test_a_free_turn_is_taken_without_suspending() -> None:
    async def main() -> None:
        gate = WriteGate(concurrent=2, enqueued=4, timeout_s=10.0)
        for _ in range(2):
            coro = gate.turn()
            # the coroutine finishes on its first step: it never yielded to the loop
            with pytest.raises(StopIteration) as done:
                coro.send(None)
            assert done.value.value is True
        # both turns taken: the next one waits
        waiting = asyncio.ensure_future(gate.turn())
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.done()
        assert await waiting is True

    asyncio.run(main())


def test_turns_go_in_arrival_order_and_a_late_comer_does_not_jump_the_queue() -> None:
    async def main() -> None:
        gate = WriteGate(concurrent=1, enqueued=4, timeout_s=10.0)
        assert await gate.turn()
        order: list[str] = []

        async def write(name: str) -> None:
            assert await gate.turn()
            order.append(name)

        first = asyncio.ensure_future(write("first"))
        await asyncio.sleep(0)
        gate.done()  # the turn goes to the waiting write, not to whoever asks next
        second = asyncio.ensure_future(write("second"))
        await first
        assert order == ["first"] and not second.done()
        gate.done()
        await second
        assert order == ["first", "second"]

    asyncio.run(main())


def test_a_wait_past_the_timeout_is_refused() -> None:
    async def main() -> None:
        gate = WriteGate(concurrent=1, enqueued=1, timeout_s=0.01)
        assert await gate.turn()
        assert await gate.turn() is False

    asyncio.run(main())


def test_without_a_limit_every_turn_is_free() -> None:
    async def main() -> None:
        gate = WriteGate()
        assert all([await gate.turn() for _ in range(100)])

    asyncio.run(main())
