"""A signaling socket reads in its handler's own task (issue 8: no reader task, no task waiting
for the close) and stops reading once the socket is to close from our side: the handler then
goes on, un-cancelled, to take the member out of the room; a cancellation from outside (the
server shutting down) still ends it."""

from __future__ import annotations

import asyncio

import pytest

from server.sockets.connection import Flag
from server.sockets.signaling import _Interrupt


async def _reads_forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.get_running_loop().create_future()  # a client that never sends


async def test_closing_from_our_side_stops_the_read_and_the_handler_carries_on() -> None:
    closed = Flag()
    started = asyncio.Event()
    cleaned_up = asyncio.Event()

    async def handler() -> None:
        interrupt = _Interrupt()
        watching = closed.watch()
        watching.add_done_callback(interrupt)
        await interrupt.run(_reads_forever(started))
        # Not left cancelled: the clean-up's own awaits go through.
        await asyncio.sleep(0)
        cleaned_up.set()

    task = asyncio.create_task(handler())
    await started.wait()
    closed.set()
    await asyncio.wait_for(task, 2)
    assert cleaned_up.is_set()
    assert not task.cancelled()


async def test_a_flag_already_set_interrupts_at_once() -> None:
    closed = Flag()
    closed.set()
    interrupt = _Interrupt()
    closed.watch().add_done_callback(interrupt)
    await asyncio.wait_for(interrupt.run(_reads_forever(asyncio.Event())), 2)


async def test_a_read_that_ends_by_itself_is_not_cancelled_later() -> None:
    closed = Flag()
    interrupt = _Interrupt()
    watching = closed.watch()
    watching.add_done_callback(interrupt)

    async def one_frame() -> None:
        await asyncio.sleep(0)

    await interrupt.run(one_frame())
    closed.set()  # the close decided after the read ended (the client left first)
    # One turn of the loop: the close's callback runs, then this task resumes, uncancelled.
    await asyncio.sleep(0)
    assert watching.done()


async def test_a_cancellation_from_outside_still_ends_the_handler() -> None:
    closed = Flag()
    started = asyncio.Event()

    async def handler() -> None:
        interrupt = _Interrupt()
        closed.watch().add_done_callback(interrupt)
        await interrupt.run(_reads_forever(started))

    task = asyncio.create_task(handler())
    await started.wait()
    closed.set()
    task.cancel()  # the server shutting down, in the same turn as the close
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_watch_given_up_on_leaves_the_flag_working() -> None:
    closed = Flag()
    given_up = closed.watch()
    given_up.cancel()
    kept = closed.watch()
    waiter = asyncio.create_task(closed.wait())
    await asyncio.sleep(0)
    closed.set()
    await asyncio.wait_for(waiter, 2)
    assert kept.done()
    assert not kept.cancelled()
