"""RM6 governance: SLA policies, calendars, caps, tone rules, approvals and rule versions arrive
with the governance issue. Until then each team's `first_response_minutes` sets due times."""
