"""How a role's settings model reports bad environment or CLI values: one line per problem,
naming the variable and the option, the value given and what is accepted."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


def env_name(prefix: str, field: str) -> str:
    """The environment variable of a settings field (``WAL_RECEIVER_SLOT_NAME``)."""
    return prefix + field.upper()


def option_name(field: str) -> str:
    """The CLI option of a settings field (``--slot-name``)."""
    return "--" + field.replace("_", "-")


def describe_errors(error: ValidationError, given: Mapping[str, object], prefix: str) -> str:
    """``VAR / --option: message (got 'value')`` for each error, joined by ``; ``.

    A rule over several settings (no field in its location) names them in its message.
    """
    problems = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:
            problems.append(message)
            continue
        field = str(problem["loc"][0])
        value = given.get(field, problem.get("input"))
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        problems.append(f"{env_name(prefix, field)} / {option_name(field)}: {message}{shown}")
    return "; ".join(problems)
