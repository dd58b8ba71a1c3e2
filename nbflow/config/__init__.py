"""Loading YAML config into the validated spec model, with errors that name their place.

``load_config("configs/")`` returns a frozen :class:`nbflow.spec.Config` or raises one
:class:`nbflow.errors.ConfigError` listing every problem (``.errors``), each with its
``path`` (``events[0].flows[1].tasks[2].depends_on``), ``file`` and ``line``.
"""

from .loader import load_config as load_config
from .loader import load_config_text as load_config_text
from .loader import load_config_texts as load_config_texts
from .vars import TASK_BUILTINS as TASK_BUILTINS

__all__ = ["TASK_BUILTINS", "load_config", "load_config_text", "load_config_texts"]
