"""daphne as HeyGem runs it: `python -m heygem_site.webserver` takes daphne's
command line (e.g. `-b 127.0.0.1 -p 8000 --proxy-headers
heygem_site.asgi:application`).

Stock daphne 4.2 keeps memory bounded neither way for big bodies:

- Request: Twisted stores the body in a temporary file as it arrives (good),
  but then parses multipart forms in memory for its own `request.args` (which
  daphne never reads), daphne pushes the whole file through an unbounded
  asyncio queue before Django reads it, and the size limit can only be
  checked once all of it has arrived. Here the limit of `request_body.body_limit` is checked on
  the Content-Length header and on every chunk as it arrives: past it, the
  client gets 413 at once and the connection is closed without reading the
  rest. A body within the limit stays in Twisted's file, which is handed to
  the application (scope extension `heygem.body_file`) instead of the queue.
- Response: daphne writes whatever the application sends into Twisted's
  transport buffer without waiting for the client, so a fast producer and a
  slow client pile the file up in memory. Here the response waits while the
  transport says its buffer is full (Twisted's push-producer pause/resume).
"""

from __future__ import annotations

import asyncio
import os
from io import BytesIO

import django
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from heygem_site.request_body import BODY_FILE_EXTENSION, body_limit, path_from_target, too_large


@implementer(IPushProducer)
class _Drain:
    """Registered with Twisted as the response's producer: paused while the
    transport buffer is full, so the sender can wait for `ready`."""

    def __init__(self, paused: bool) -> None:
        self.ready = asyncio.Event()
        if not paused:
            self.ready.set()

    def pauseProducing(self) -> None:
        self.ready.clear()

    def resumeProducing(self) -> None:
        self.ready.set()

    def stopProducing(self) -> None:  # connection lost: stop waiting, the app sees the disconnect
        self.ready.set()


class BoundedRequest(WebRequest):
    refused = False
    body_file = None
    drain: _Drain | None = None
    _limit: int | None = None
    _received = 0

    def __init__(self, *args, **kwargs) -> None:
        # Twisted parses POSTed forms into request.args, reading the whole body
        # into memory and copying it several times (a 400 MB multipart upload
        # cost 5 GB); daphne never uses request.args, Django parses the body itself.
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    def gotLength(self, length: int | None) -> None:
        super().gotLength(length)
        self._limit = body_limit(path_from_target(getattr(self.channel, "_path", b"/")))
        if length is not None and length > self._limit:
            self._refuse()

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self._received += len(data)
        if self._limit is not None and self._received > self._limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        """413 now, then close: the rest of the body is never read."""
        self.refused = True
        path = path_from_target(getattr(self.channel, "_path", b"/"))
        headers, body = too_large(path, _flat_headers(self.requestHeaders))
        head = b"HTTP/1.1 413 Payload Too Large\r\n"
        for name, value in headers + [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")]:
            head += name + b": " + value + b"\r\n"
        self.content.close()
        self.content = BytesIO()
        self.channel.transport.write(head + b"\r\n" + body)
        self.channel.transport.loseConnection()

    def start_draining(self) -> None:
        self.drain = _Drain(paused=getattr(self.channel, "_waitingForTransport", False))
        self.registerProducer(self.drain, True)

    def finish(self) -> None:
        # Twisted does not unregister a request's producer when it finishes;
        # the next request on a kept-alive connection could not register one.
        if self.drain is not None:
            self.drain = None
            self.unregisterProducer()
        super().finish()

    def process(self):
        if self.refused:
            return None
        if not self.requestHeaders.hasHeader(b"Upgrade"):
            # Keep the body where Twisted wrote it; daphne queues an empty one.
            self.content.seek(0)
            self.body_file, self.content = self.content, BytesIO()
        return super().process()


def _flat_headers(headers) -> list[tuple[bytes, bytes]]:
    return [(name.lower(), value) for name, values in headers.getAllRawHeaders() for value in values]


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


class BoundedServer(Server):
    # Server.run() builds its HTTP factory as `self.http_factory = HTTPFactory(self)`
    # and listens with it; taking the assignment over is the one way in
    # without copying run().
    @property
    def http_factory(self) -> BoundedHTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self._http_factory = factory if isinstance(factory, BoundedHTTPFactory) else BoundedHTTPFactory(self)

    def create_application(self, protocol, scope):
        if isinstance(protocol, BoundedRequest) and protocol.body_file is not None:
            scope.setdefault("extensions", {})[BODY_FILE_EXTENSION] = {"file": protocol.body_file}
            protocol.body_file = None  # the application owns (and closes) it now
        return super().create_application(protocol, scope)

    async def handle_reply(self, protocol, message) -> None:
        await super().handle_reply(protocol, message)
        if not isinstance(protocol, BoundedRequest) or protocol.finished:
            return
        if message["type"] == "http.response.start":
            protocol.start_draining()
        elif message["type"] == "http.response.body" and protocol.drain is not None:
            await protocol.drain.ready.wait()


class CLI(CommandLineInterface):
    server_class = BoundedServer


def main() -> None:
    # The body limits come from Django's settings and URLconf, needed before
    # the first request even when the application loads Django lazily.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
    django.setup(set_prefix=False)
    CLI.entrypoint()


if __name__ == "__main__":
    main()
