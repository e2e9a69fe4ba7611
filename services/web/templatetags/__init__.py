"""Template tags of the pages, registered as the `slipway` library in config/settings.py."""
