"""The hooks a Kiln plugin may implement.

A plugin is a module registered under the ``kiln`` entry-point group, e.g. in its
``pyproject.toml``::

    [project.entry-points.kiln]
    classifier = "kiln_classifier.plugin"

and marks its hook functions with `kiln.server.plugin.hookimpl`. Every hook name starts with
``kiln_``; a misspelt hook fails plugin loading instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from kiln.server.plugin.specs import ModelSpec

#: The pluggy project name, shared with the entry-point group.
PROJECT_NAME = "kiln"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: Marks a plugin's hook implementation: ``@hookimpl def kiln_model_specs(): ...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def kiln_model_specs() -> Iterable[ModelSpec]:
    """Return the models this plugin provides.

    When: once per process, right after discovery — by ``kiln serve`` before it loads any
    model, and by the other ``kiln`` commands that need the model list.

    Must not: load weights, import heavy frameworks eagerly or compile anything. Return
    `ModelSpec` records whose ``factory`` does that work later. Model names must be unique
    across all plugins; a clash stops the server with an error naming both plugins.
    """
