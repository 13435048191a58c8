"""Campaigns: who gets a leaflet, a letter or a phone call, and why; every customer reconciled."""

from .config import CAMPAIGNS, CampaignConfig, load_config
from .phones import normalise_uk_phone
from .psr import assess_needs, load_needs_table
from .result import CampaignResult
from .run import premise_keys, run_campaign

__all__ = [
    "CAMPAIGNS",
    "CampaignConfig",
    "CampaignResult",
    "assess_needs",
    "load_config",
    "load_needs_table",
    "normalise_uk_phone",
    "premise_keys",
    "run_campaign",
]
