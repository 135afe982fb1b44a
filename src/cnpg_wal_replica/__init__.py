"""cnpg-wal-replica: a CNPG-I plugin that streams a cluster's WAL to its own volume."""

__version__ = "0.1.0"
