"""The semantic checks of the operations features, in the order pipeline.CHECKS runs them."""

from __future__ import annotations

from .alert_kinds import check_alert_kinds

OPS_CHECKS = [check_alert_kinds]
