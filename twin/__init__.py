"""The domain: plant model, orders, schedules, live state, KPIs; `twin.history` is its memory."""
