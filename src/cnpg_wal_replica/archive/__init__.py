"""The WAL archive: one home for what a ``pg_receivewal`` directory holds and how to read it.

```
names.py        LSNs as PostgreSQL prints them; segment and history file names
compression.py  the --compress setting, and the file suffix of each method
headers.py      the long page header that starts every segment
history.py      timeline history files, and which timeline holds an LSN
listing.py      a frozen snapshot of a directory, classified by file kind   (names, state)
state.py        the receiver's state file and its other non-WAL entries
```

The receiver, ``verify`` and the restore path import it; it imports none of them (see
``.importlinter``). It does file I/O but no PostgreSQL, gRPC, Kubernetes or CLI.
"""
