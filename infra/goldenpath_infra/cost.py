"""A monthly AWS Budget for the environment, filtered on its `environment` cost tag."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra.guardrails import GuardrailError, check_environment


@dataclass(frozen=True)
class CostGuardrailsArgs:
    environment: str
    monthly_limit_usd: int
    alert_emails: Sequence[str]
    thresholds_percent: Sequence[int]


class CostGuardrails(pulumi.ComponentResource):
    """Alerts on actual spend at each threshold and on forecast spend at the limit."""

    budget: aws.budgets.Budget

    def __init__(
        self, name: str, args: CostGuardrailsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cost:CostGuardrails", name, None, opts)
        check_environment(args.environment)
        if args.monthly_limit_usd <= 0:
            raise GuardrailError("monthly_limit_usd", args.monthly_limit_usd, "must be positive")
        if not args.alert_emails:
            raise GuardrailError("alert_emails", [], "a budget nobody hears about is no guardrail")
        if not args.thresholds_percent or any(not 0 < t <= 200 for t in args.thresholds_percent):
            raise GuardrailError(
                "thresholds_percent", list(args.thresholds_percent), "each in (0, 200]"
            )
        emails = list(args.alert_emails)
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type="ACTUAL",
                threshold=threshold,
                threshold_type="PERCENTAGE",
                subscriber_email_addresses=emails,
            )
            for threshold in sorted(set(args.thresholds_percent))
        ]
        notifications.append(
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type="FORECASTED",
                threshold=100,
                threshold_type="PERCENTAGE",
                subscriber_email_addresses=emails,
            )
        )
        self.budget = aws.budgets.Budget(
            f"{name}-monthly",
            name=f"goldenpath-{args.environment}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=str(args.monthly_limit_usd),
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:environment${args.environment}"]
                )
            ],
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budget_name": self.budget.name})
