"""The Dash dashboard: pages, figures and callbacks over a services object (see docs/dashboard.md).

`dashboards.app.create_app(services)` builds the app; `dashboards.services.DashboardServices` is
what it needs; `dashboards.history_services.HistoryServices` provides it from the history store.
"""
