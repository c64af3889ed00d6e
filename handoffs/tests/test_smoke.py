from handoffs.models import Handoff


def test_a_50000_budget_raises_an_urgent_high_value_handoff_for_sales(org, send_signal):
    response = send_signal(budget=50000, key="form-1")
    assert response.status_code == 202, response.content
    handoff = Handoff.objects.get()
    assert (handoff.team.slug, handoff.trigger, handoff.priority) == (
        "sales",
        "high_value",
        "urgent",
    )
    assert handoff.reason == "Budget 50,000 GBP ≥ 50,000 (rule: High value v1)"


def test_a_500_budget_raises_nothing(org, send_signal):
    assert send_signal(budget=500).status_code == 202
    assert not Handoff.objects.exists()
