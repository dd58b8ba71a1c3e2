"""The action bar: buttons for control ops, an optional reason, and the confirmation step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as w

from .actions import DESTRUCTIVE, Action, Confirmer
from .format import esc

_STYLES = {"pause": "warning", "cancel": "danger", "skip": "danger", "reset": "danger",
           "resume": "success", "retry": "info", "init": "info", "clone": ""}


class ActionBar(w.VBox):
    """``ops`` as buttons; ``make(op, reason)`` builds the ``Action``; destructive ops wait for
    Confirm / Abort.  Outcomes go to ``app.after_action``."""

    def __init__(self, app, ops: Sequence[str], make: Callable[[str, str | None], Action | None],
                 css_class: str, extra: Sequence[w.Widget] = ()) -> None:
        self.app = app
        self.make = make
        self.confirmer = Confirmer(app.source)
        self.buttons: dict[str, w.Button] = {}
        for op in ops:
            button = w.Button(description=op, button_style=_STYLES.get(op, ""),
                              tooltip=f"{op} (asks to confirm)" if op in DESTRUCTIVE else op,
                              layout=w.Layout(width="auto", min_width="64px"))
            button.add_class(f"nbflow-act-{op}")
            button.on_click(app.callback(lambda _b, op=op: self._request(op)))
            self.buttons[op] = button
        self.reason = w.Text(placeholder="reason (optional)", layout=w.Layout(width="200px"))
        self.prompt = w.HTML()
        self.yes = w.Button(description="Confirm", button_style="danger", layout=w.Layout(width="auto"))
        self.yes.add_class("nbflow-confirm")
        self.no = w.Button(description="Abort", layout=w.Layout(width="auto"))
        self.no.add_class("nbflow-abort")
        self.yes.on_click(app.callback(lambda _b: self._finish(self.confirmer.confirm())))
        self.no.on_click(app.callback(lambda _b: self._finish(self.confirmer.abort())))
        self.confirm_box = w.HBox([self.prompt, self.yes, self.no], layout=w.Layout(display="none"))
        self.confirm_box.add_class("nbflow-confirm-box")
        row = w.HBox([*extra, *self.buttons.values(), self.reason], layout=w.Layout(flex_flow="row wrap"))
        super().__init__([row, self.confirm_box])
        self.add_class(css_class)
        self.add_class("nbflow-actions")

    def _request(self, op: str) -> None:
        action = self.make(op, self.reason.value.strip() or None)
        if action is None:
            return
        outcome = self.confirmer.request(action)
        if outcome.pending is not None:
            self.prompt.value = (f'<b class="nbflow-confirm-prompt">{esc(action.describe())}?</b> '
                                 "this cannot be undone")
            self.confirm_box.layout.display = "flex"
            self.app.say(outcome.message, ok=True)
            return
        self._finish(outcome)

    def _finish(self, outcome) -> None:
        self.confirm_box.layout.display = "none"
        self.prompt.value = ""
        if outcome.ok:
            self.reason.value = ""
        self.app.after_action(outcome)


def close_tree(widget: w.Widget) -> None:
    """Close ``widget`` and every widget inside it (``close()`` alone leaves children open)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    w.Widget.close(widget)
