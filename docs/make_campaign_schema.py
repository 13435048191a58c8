"""Regenerate docs/campaign.schema.json from the campaign file's pydantic models.

Run from anywhere: ``python docs/make_campaign_schema.py``. tests/test_campaign_config.py fails
while the committed file differs from what this writes.
"""

from pathlib import Path

from smartstreet_geo.campaign._schema import write_json_schema

if __name__ == "__main__":
    print(write_json_schema(Path(__file__).with_name("campaign.schema.json")))
