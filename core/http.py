"""HTTP clients of outside services (and of our own sandboxes), sharing one TLS context.

httpx builds a TLS context for every client it makes, loading the whole CA bundle each time:
10-20 ms of CPU per client, whether it ever speaks TLS or not. The process builds it once here
(the same way httpx does, honouring SSL_CERT_FILE and SSL_CERT_DIR) and every client shares it;
an SSLContext may be shared by clients, connections and threads."""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context, verifying servers against the CA bundle httpx would use."""
    return httpx.create_ssl_context()


def async_client(**options: Any) -> httpx.AsyncClient:
    """httpx.AsyncClient(**options) verifying TLS with the shared context."""
    return httpx.AsyncClient(verify=tls_context(), **options)
