"""Fixtures of the plugin server tests; the helpers live in support/grpcserver.py."""

from support.grpcserver import *  # noqa: F403 - registers the fixtures defined there
