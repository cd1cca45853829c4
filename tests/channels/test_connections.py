"""The event loop's HTTP/1.1 client: kept-alive connections, the answer's framings, its limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest

from tests.support.fake_http import FakeHTTPServer
from tests.support.server import free_port
from tocsin.channels import connections
from tocsin.channels.connections import Connections


class FarEnd:
    """An HTTP server on the test's own loop that answers each request with `answer(n)`
    (n counts requests from 0) and counts the connections it was given."""

    def __init__(self, answer: Callable[[int], bytes], *, close_after: bool = False, hold: float = 0.0) -> None:
        self.answer = answer
        self.close_after = close_after
        self.hold = hold
        self.connections = 0
        self.requests: list[bytes] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> FarEnd:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?token=abc"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()
        for writer in self._writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                await asyncio.sleep(self.hold)
                self.in_flight -= 1
                writer.write(self.answer(len(self.requests) - 1))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def ok(_: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def post(pool: Connections, url: str, body: bytes = b"{}", timeout: float = 5.0) -> Awaitable[httpx.Response]:
    return pool.post(httpx.URL(url), body, {"Content-Type": "application/json"}, timeout=timeout)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_a_connection_is_kept_alive_and_reused_from_one_post_to_the_next() -> None:
    async def test() -> None:
        async with FarEnd(ok) as far:
            pool = Connections()
            answers = [await post(pool, far.url, b'{"n":%d}' % n) for n in range(3)]
            assert [(a.status_code, a.text) for a in answers] == [(200, "ok")] * 3
            assert far.connections == 1
            assert far.requests[0].startswith(b"POST /hook?token=abc HTTP/1.1\r\nHost: 127.0.0.1:")
            assert far.requests[2].endswith(b'\r\nContent-Length: 7\r\n\r\n{"n":2}')
            await pool.aclose()

    run(test)


def test_chunked_answers_and_informational_ones_before_them_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'7\r\n{"retry\r\nb\r\n_after": 3}\r\n0\r\n\r\n'
    )

    async def test() -> None:
        async with FarEnd(lambda n: chunked if n == 0 else ok(n)) as far:
            pool = Connections()
            answer = await post(pool, far.url)
            assert (answer.status_code, answer.headers["retry-after"], answer.json()) == (429, "3", {"retry_after": 3})
            assert (await post(pool, far.url)).status_code == 200
            assert far.connections == 1
            await pool.aclose()

    run(test)


def test_an_answer_that_ends_when_the_server_closes_is_read_to_the_end() -> None:
    async def test() -> None:
        async with FarEnd(lambda n: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", close_after=True) as far:
            pool = Connections()
            assert (await post(pool, far.url)).text == "all of it"
            assert (await post(pool, far.url)).text == "all of it"
            assert (far.connections, pool.idle()) == (2, 0)

    run(test)


def test_an_http_1_0_server_gets_a_new_connection_for_each_post() -> None:
    with FakeHTTPServer() as far:

        async def test() -> None:
            pool = Connections()
            for _ in range(2):
                assert (await post(pool, f"{far.url}/hook")).status_code == 204
            assert pool.idle() == 0

        run(test)
        assert len(far.requests) == 2


def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def test() -> None:
        # The far end closes each kept-alive connection after one answer (a short keep-alive timeout).
        async with FarEnd(ok, close_after=True) as far:
            pool = Connections()
            await post(pool, far.url)
            await asyncio.sleep(0.05)  # its EOF reaches the idle connection
            assert (await post(pool, far.url)).status_code == 200
            assert far.connections == 2
            await pool.aclose()

    run(test)


def test_an_idle_connection_past_its_keepalive_is_replaced() -> None:
    now = [0.0]

    async def test() -> None:
        async with FarEnd(ok) as far:
            pool = Connections(keepalive_s=30.0, timer=lambda: now[0])
            await post(pool, far.url)
            now[0] = 31.0
            await post(pool, far.url)
            assert far.connections == 2
            await pool.aclose()

    run(test)


def test_at_most_per_host_requests_go_to_one_host_at_once() -> None:
    async def test() -> None:
        async with FarEnd(ok, hold=0.05) as far:
            pool = Connections(per_host=3)
            answers = await asyncio.gather(*(post(pool, far.url) for _ in range(9)))
            assert {answer.status_code for answer in answers} == {200}
            assert (far.most_in_flight, far.connections) == (3, 3)
            await pool.aclose()

    run(test)


def test_a_server_that_does_not_answer_in_time_is_a_read_timeout() -> None:
    async def test() -> None:
        async with FarEnd(ok, hold=2.0) as far:
            pool = Connections()
            with pytest.raises(httpx.ReadTimeout):
                await post(pool, far.url, timeout=0.2)
            assert pool.idle() == 0  # a connection whose answer never came is not reused

    run(test)


def test_a_refused_connection_is_a_connect_error() -> None:
    async def test() -> None:
        with pytest.raises(httpx.ConnectError):
            await post(Connections(), f"http://127.0.0.1:{free_port()}/hook")

    run(test)


def test_an_answer_cut_off_before_its_length_is_a_protocol_error() -> None:
    async def test() -> None:
        async with FarEnd(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", close_after=True) as far:
            with pytest.raises(httpx.RemoteProtocolError):
                await post(Connections(), far.url)

    run(test)


def test_a_huge_answer_is_cut_at_the_limit_and_its_connection_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections, "MAX_BODY", 100)

    async def test() -> None:
        async with FarEnd(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000) as far:
            pool = Connections()
            answer = await post(pool, far.url)
            assert (answer.status_code, len(answer.content), pool.idle()) == (200, 100, 0)

    run(test)


def test_a_header_with_a_line_break_is_never_sent() -> None:
    async def test() -> None:
        async with FarEnd(ok) as far:
            with pytest.raises(httpx.LocalProtocolError):
                await Connections().post(httpx.URL(far.url), b"{}", {"X-Evil": "a\r\nX-Injected: 1"}, timeout=5)
            assert far.requests == []

    run(test)
