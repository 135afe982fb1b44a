"""Tests against the real control plane: fixtures come from `support.kube_fixtures`."""

from __future__ import annotations

from support.kube_fixtures import *  # noqa: F403
