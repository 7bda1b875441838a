"""The semantic checks of the operations features, in the order pipeline.CHECKS runs them."""

from __future__ import annotations

from .alert_kinds import check_alert_kinds
from .notifications import check_notifications, check_settings_credentials
from .slurm import check_nodelists

OPS_CHECKS = [check_alert_kinds, check_notifications, check_settings_credentials, check_nodelists]
