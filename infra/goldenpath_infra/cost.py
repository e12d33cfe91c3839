"""A monthly AWS Budget and Cost Anomaly Detection for the environment, on its `environment` tag.

A budget catches the month going over; anomaly detection catches a GPU pool left at max on a
Tuesday. Cost Explorer anomaly monitors: docs.aws.amazon.com/cost-management/latest/userguide/
manage-ad.html (read 2026-12-02); a CUSTOM monitor on a cost allocation tag scopes it to this
environment.
"""

import json
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
    anomaly_monitor: aws.costexplorer.AnomalyMonitor

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
        self.anomaly_monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-anomalies",
            name=f"goldenpath-{args.environment}",
            monitor_type="CUSTOM",
            monitor_specification=json.dumps(
                {
                    "Tags": {
                        "Key": "environment",
                        "Values": [args.environment],
                        "MatchOptions": ["EQUALS"],
                    }
                }
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Alert on an anomaly worth a day of the budget or more.
        daily = max(1, round(args.monthly_limit_usd / 30))
        aws.costexplorer.AnomalySubscription(
            f"{name}-anomalies",
            name=f"goldenpath-{args.environment}-anomalies",
            frequency="DAILY",
            monitor_arn_lists=[self.anomaly_monitor.arn],
            subscribers=[
                aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="EMAIL", address=email)
                for email in emails
            ],
            threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                    key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                    match_options=["GREATER_THAN_OR_EQUAL"],
                    values=[str(daily)],
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"budget_name": self.budget.name, "anomaly_monitor": self.anomaly_monitor.arn}
        )
