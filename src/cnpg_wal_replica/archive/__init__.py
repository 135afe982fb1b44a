"""The WAL archive: one home for what a ``pg_receivewal`` directory holds and how to read it.

```
serving.py                   which file answers a restore request; its bytes, decompressed,
    │                        the newest partial padded to a segment
history.py  partial.py       timeline history files (which timeline holds an LSN, the line
    │           │            a restore reads); the .partial being written (how far it goes)
    └─ listing.py            a directory's files, classified by kind; never deletes
         ├─ names.py         LSNs; segment and history file names; segment sizes
         │    └─ compression.py   the --compress setting and each method's file suffix
         └─ state.py         the receiver's state file and its other non-WAL entries
headers.py                   the long page header that starts every segment; reading it
```

An arrow goes from a module to what it imports (`.importlinter` keeps it so). The receiver,
``verify`` and the WAL server import the archive; it imports none of them. It reads and
writes files but does no PostgreSQL, gRPC, Kubernetes or CLI work.
"""
