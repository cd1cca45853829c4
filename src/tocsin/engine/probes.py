"""Probes: one run of a check against the network, as an `Observation`.

HTTP through one shared httpx.AsyncClient (without keep-alive: each run
connects anew); TCP by `asyncio.open_connection`; DNS with
dnspython's async resolver, at the check's nameserver or the system's; TLS by a
handshake, reading the certificate's notAfter. Whatever goes wrong — refused,
timed out, no such name, a bad certificate — is an observation with an
`error`, so the check is down with that message: a probe never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from datetime import UTC, datetime

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx

from tocsin.domain import checks as domain

USER_AGENT = "Tocsin-Check/1"


class Prober:
    def __init__(self, max_connections: int = 1000) -> None:
        self._max_connections = max_connections
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, verify: bool) -> httpx.AsyncClient:
        # Made in the loop that uses it; one for verified TLS, one for checks that opt out.
        client = self._clients.get(verify)
        if client is None:
            client = httpx.AsyncClient(
                verify=verify,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
                # No keep-alive: every run opens a new connection, as a user's browser would, so a
                # service that stopped accepting them is down even while an old connection lingers.
                limits=httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=0),
            )
            self._clients[verify] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def probe(self, spec: domain.Spec, timeout_s: float) -> domain.Observation:
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(self._probe(spec, timeout_s, started), timeout_s)
        except TimeoutError:
            return _failed(started, f"no answer within {timeout_s:g} s")
        except Exception as exc:  # a probe's every failure is a down result, never the scheduler's crash
            return _failed(started, _describe(exc))

    async def _probe(self, spec: domain.Spec, timeout_s: float, started: float) -> domain.Observation:
        if isinstance(spec, domain.HttpSpec):
            return await self._http(spec, timeout_s, started)
        if isinstance(spec, domain.TcpSpec):
            _reader, writer = await asyncio.open_connection(spec.host, spec.port)
            elapsed = _ms(started)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return domain.Observation(elapsed_ms=elapsed)
        if isinstance(spec, domain.DnsSpec):
            return await _dns(spec, timeout_s, started)
        return await _tls(spec, started)

    async def _http(self, spec: domain.HttpSpec, timeout_s: float, started: float) -> domain.Observation:
        client = self._client(spec.verify_tls)
        request = client.build_request(
            spec.method,
            spec.url,
            headers=dict(spec.headers),
            content=spec.body.encode() if spec.body else None,
            timeout=timeout_s,
        )
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            if _needs_body(spec):
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= domain.BODY_LIMIT:
                        break
        finally:
            await response.aclose()
        return domain.Observation(
            elapsed_ms=_ms(started),
            status_code=response.status_code,
            body=bytes(body[: domain.BODY_LIMIT]).decode(response.encoding or "utf-8", errors="replace"),
        )


def _needs_body(spec: domain.HttpSpec) -> bool:
    return spec.keyword is not None or spec.regex is not None or bool(spec.conditions)


async def _dns(spec: domain.DnsSpec, timeout_s: float, started: float) -> domain.Observation:
    resolver = dns.asyncresolver.Resolver(configure=spec.nameserver is None)
    if spec.nameserver is not None:
        parsed = domain.split_host_port(spec.nameserver, 53)
        assert parsed is not None  # the spec was validated
        resolver.nameservers = [parsed[0]]
        resolver.port = parsed[1]
    resolver.lifetime = timeout_s
    resolver.timeout = timeout_s
    try:
        answer = await resolver.resolve(spec.name, spec.record_type, search=False)
    except dns.resolver.NXDOMAIN:
        return _failed(started, f"{spec.name} does not exist (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return domain.Observation(elapsed_ms=_ms(started))  # no record of that type: down by evaluate
    except dns.resolver.NoNameservers as exc:
        return _failed(started, f"no nameserver answered for {spec.name}: {exc}")
    except dns.exception.Timeout:
        return _failed(started, f"no DNS answer for {spec.name} within {timeout_s:g} s")
    answers = tuple(record.to_text().strip('"') for record in answer)
    return domain.Observation(elapsed_ms=_ms(started), answers=answers)


async def _tls(spec: domain.TlsSpec, started: float) -> domain.Observation:
    context = ssl.create_default_context()
    if not spec.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    server_name = spec.server_name or spec.host
    _reader, writer = await asyncio.open_connection(spec.host, spec.port, ssl=context, server_hostname=server_name)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        not_after = _not_after(ssl_object)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not_after is None:
        return _failed(started, "the server sent no certificate")
    return domain.Observation(elapsed_ms=_ms(started), cert_not_after=not_after)


def _not_after(ssl_object: ssl.SSLObject | None) -> datetime | None:
    if ssl_object is None:
        return None
    peer = ssl_object.getpeercert()
    if peer and peer.get("notAfter"):
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), UTC)
    # Unverified, `getpeercert()` is empty: read the notAfter off the certificate itself.
    der = ssl_object.getpeercert(binary_form=True)
    return _der_not_after(der) if der else None


def _der_not_after(der: bytes) -> datetime | None:
    """notAfter of a DER certificate, without a parser: the second time of its validity."""
    times: list[datetime] = []
    at = 0
    while at < len(der) - 2 and len(times) < 2:
        tag = der[at]
        if tag in (0x17, 0x18) and der[at + 1] in (13, 15):  # UTCTime / GeneralizedTime
            length = der[at + 1]
            text = der[at + 2 : at + 2 + length].decode("ascii", errors="replace")
            try:
                shape = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"
                times.append(datetime.strptime(text, shape).replace(tzinfo=UTC))
                at += 2 + length
                continue
            except ValueError:
                pass
        at += 1
    return times[1] if len(times) == 2 else None


def _failed(started: float, message: str) -> domain.Observation:
    return domain.Observation(elapsed_ms=_ms(started), error=message)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc}"
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return f"connection refused or unreachable: {exc}" if str(exc) else "connection refused or unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


async def reachable(host: str, port: int, timeout_s: float) -> bool:
    """Whether a TCP connection to host:port opens within the timeout."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
