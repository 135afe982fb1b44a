"""Environment grpcio reads once, at import: TLS 1.3 only, and quiet C-core logging.

Call ``prepare()`` before anything imports ``grpc``. Values the user set are kept.

TLS 1.3 only: grpcio (1.85) has no minimum-TLS-version option for ``ssl_server_credentials``;
by default its BoringSSL accepts TLS 1.2 and 1.3. It does read ``GRPC_SSL_CIPHER_SUITES``
and passes it to ``SSL_CTX_set_cipher_list``, which governs only TLS 1.2 and older (TLS 1.3
suites are fixed by BoringSSL). We set a single PSK suite: the server has no pre-shared key,
so no TLS 1.2 handshake can agree on a cipher (``NO_SHARED_CIPHER``), while TLS 1.3, what
the CNPG operator uses, is untouched. ``tests/grpc/test_plugin_tls.py`` checks both sides
with a Python ``ssl`` client.

Fork support off: grpcio registers fork handlers that run in every child between ``fork``
and ``exec`` (subprocesses started while grpc is loaded: the receiver's `pg_receivewal`, the
tests' PostgreSQL tools). They are only for children that use grpc, which ours never do, and
there they have crashed the child before it could exec (SIGBUS, with "Epoll1Poller ...
epoll_wait error: Bad file descriptor" on its stderr; seen once in CI).

Logging: grpc's C core writes plain-text lines (for example one per failed handshake) to
stderr, which would break the JSON-lines log; ``GRPC_VERBOSITY=ERROR`` keeps only errors.
"""

from __future__ import annotations

import os
import sys

CIPHER_SUITES_ENV = "GRPC_SSL_CIPHER_SUITES"
TLS12_UNUSABLE_SUITES = "ECDHE-PSK-CHACHA20-POLY1305"
VERBOSITY_ENV = "GRPC_VERBOSITY"
FORK_SUPPORT_ENV = "GRPC_ENABLE_FORK_SUPPORT"


def prepare() -> bool:
    """Set grpc's environment unless the user did; ``True`` if TLS 1.2 will be refused.

    Returns ``False`` when ``grpc`` was imported already (too late) or the user chose their
    own ``GRPC_SSL_CIPHER_SUITES``.
    """
    if "grpc" in sys.modules:
        return os.environ.get(CIPHER_SUITES_ENV) == TLS12_UNUSABLE_SUITES
    os.environ.setdefault(VERBOSITY_ENV, "ERROR")
    os.environ.setdefault(FORK_SUPPORT_ENV, "false")
    os.environ.setdefault(CIPHER_SUITES_ENV, TLS12_UNUSABLE_SUITES)
    return os.environ[CIPHER_SUITES_ENV] == TLS12_UNUSABLE_SUITES
