"""Calibration of a plant model from what the floor did: estimators, the fit of a whole plant,
and the rewrite of its YAML file (pure: data and text in, data and text out)."""
