"""`python -m cnpg_wal_replica` runs the command-line interface."""

from cnpg_wal_replica.cli import main

if __name__ == "__main__":
    main()
