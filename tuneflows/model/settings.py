"""The settings an algorithm was built with, kept as it is built: schedulers and searchers
(and any class taking :class:`KeepsSettings` as a base) answer :meth:`KeepsSettings.settings`
with every constructor argument, defaults included, so records (the MLflow parent run)
never read their private attributes. Pure.

Example:
    >>> class Halving(KeepsSettings):
    ...     def __init__(self, grace_period=1, reduction_factor=3):
    ...         self._rf = reduction_factor
    >>> Halving(reduction_factor=4).settings()
    {'grace_period': 1, 'reduction_factor': 4}
"""

from __future__ import annotations

import inspect
from typing import Any

#: The instance attribute holding the settings (not state: ``get_state`` leaves it out).
SETTINGS_ATTR = "_settings"


class KeepsSettings:
    """A base class whose instances remember the arguments they were built with.

    The arguments are bound to the constructor's signature before ``__init__`` runs
    (``**kwargs`` are spread out, ``*args`` kept as a list), so a subclass keeps its
    settings however it stores them; a copy or an unpickled instance has the original's.
    Constructor arguments are configuration: a state restored later does not change them.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(instance, *args, **kwargs)
        except TypeError:  # built without its arguments (a copy, an unpickling)
            return instance
        bound.apply_defaults()
        settings: dict[str, Any] = {}
        parameters = inspect.signature(cls.__init__).parameters
        for name, value in list(bound.arguments.items())[1:]:
            kind = parameters[name].kind
            if kind == inspect.Parameter.VAR_KEYWORD:
                settings.update(value)
            elif kind == inspect.Parameter.VAR_POSITIONAL:
                if value:
                    settings[name] = list(value)
            else:
                settings[name] = value
        instance.__dict__[SETTINGS_ATTR] = settings
        return instance

    def settings(self) -> dict[str, Any]:
        """Every argument this object was built with, by name, defaults included (a
        copy: changing it changes nothing)."""
        return dict(self.__dict__.get(SETTINGS_ATTR, {}))
