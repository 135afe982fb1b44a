"""The sidecar: the third role of the image, injected into a reading Cluster's pods.

```
cli.py        `cnpg-wal-replica sidecar`: options mirror WAL_READER_* (settings.py)
app.py        CNPG-I Identity and WAL/Restore on /plugins/<plugin name>, until stopped
services.py   the WAL service: Restore, and NOT_FOUND only when the file is not there
restorer.py   one restore: the spool, retries of transient failures, prefetch
client.py     the WAL archive protocol's client: mutual TLS to the origin's receiver
```

The instance manager of a PostgreSQL pod calls Restore for each ``restore_command``; the
origin's receiver serves the files (`cnpg_wal_replica.receiver.walserver`).
"""
