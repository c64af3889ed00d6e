"""The leaders' governance dashboard: KPI rollups kept current by a beat task, the page that
reads only them, drill-down, CSV and the hybrid-journey maturity panel (docs/dashboard.md)."""
