"""Frequency caps, quiet hours, tone rules and approvals: the guardrails every automated touch
passes through (docs/governance.md). The decisions themselves are pure (governance/touches.py,
governance/tone.py); this package stores the rules, applies them and logs what they did."""
