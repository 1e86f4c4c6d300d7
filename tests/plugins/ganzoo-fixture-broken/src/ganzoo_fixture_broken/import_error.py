"""Fails at import: a dependency that is not installed."""

import ganzoo_fixture_missing_dependency  # noqa: F401
