"""The official `pagerduty` client (it requires https) sending Events API v2 to Fireline's
`/v2/enqueue` through a TLS-terminating proxy, as docs/ingest.md describes."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pagerduty
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fireline.serving import free_port
from tests.support.fireline import Fireline


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_proxy(fl: Fireline, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """https://127.0.0.1:<port> terminating TLS in front of Fireline's plain HTTP port."""
    cert, key = _certificate(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port, backend = free_port(), int(fl.url.rsplit(":", 1)[1])
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    done = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
        ready.set()
        await done.wait()
        server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"https://127.0.0.1:{port}", cert
    loop.call_soon_threadsafe(done.set)
    thread.join(10)
    loop.close()


def test_pagerduty_events_client_over_https(fl: Fireline, tls_proxy: tuple[str, Path]) -> None:
    url, cert = tls_proxy
    with pytest.raises(pagerduty.UrlError):  # why a proxy is needed: the client refuses plain http
        pagerduty.EventsApiV2Client(fl.keys["ingest"], base_url=fl.url)
    client = pagerduty.EventsApiV2Client(fl.keys["ingest"], base_url=url,  # the routing key is a Fireline key
                                         verify=ssl.create_default_context(cafile=str(cert)))
    dedup = client.trigger("Checkout assistant answers in the wrong language", "checkout-bot",
                           severity="error", custom_details={"app": "checkout-bot"})
    assert dedup
    deadline = time.monotonic() + 15
    with fl.client("responder") as http:
        while True:
            titles = [i["title"] for i in http.get("/api/v1/incidents").json()["incidents"]]
            if any("wrong language" in t for t in titles) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert any("wrong language" in t for t in titles), titles
    assert client.resolve(dedup) == dedup
