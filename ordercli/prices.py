"""AWS list prices `ordercli cost` estimates with: data, with the region and date they are for.

Each rate is USD per `per` units, with the free tier's monthly allowance of the same units.
Rates that share one allowance name the same `pool` (CloudWatch Logs' 5 GB covers ingestion
and storage together). To update: change the numbers and `AS_OF`, and the hand calculation in
tests/test_cost.py, which writes these prices out on purpose."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
AS_OF = "2025-06-01"
SOURCE = "https://aws.amazon.com/pricing/ (each service's pricing page, US East (N. Virginia))"
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates
ALWAYS_FREE = "always free"
FIRST_YEAR = "first 12 months (accounts created before 2025-07-15)"


@dataclass(frozen=True)
class Rate:
    usd: float  # price of `per` units
    per: int
    unit: str
    free: float = 0.0  # units a month the free tier covers
    free_kind: str | None = None  # ALWAYS_FREE, FIRST_YEAR, or None: no free tier
    pool: str | None = None  # rates sharing one free allowance

    def unit_price(self) -> float:
        return self.usd / self.per


RATES: dict[str, Rate] = {
    "sqs.requests": Rate(0.40, 1_000_000, "requests", 1_000_000, ALWAYS_FREE),
    "states.transitions": Rate(0.025, 1_000, "transitions", 4_000, ALWAYS_FREE),
    "lambda.requests": Rate(0.20, 1_000_000, "requests", 1_000_000, ALWAYS_FREE),
    "lambda.gb_seconds": Rate(0.0000166667, 1, "GB-s", 400_000, ALWAYS_FREE),  # x86
    "sns.publishes": Rate(0.50, 1_000_000, "publishes", 1_000_000, ALWAYS_FREE),
    "sns.email": Rate(2.00, 100_000, "emails", 1_000, ALWAYS_FREE),
    # on-demand request units have no free tier (its 25 units are provisioned capacity)
    "dynamodb.writes": Rate(0.625, 1_000_000, "WRU"),
    "dynamodb.reads": Rate(0.125, 1_000_000, "RRU"),
    "logs.ingestion": Rate(0.50, 1, "GB", 5, ALWAYS_FREE, pool="cloudwatch-logs"),
    "logs.storage": Rate(0.03, 1, "GB-month", 5, ALWAYS_FREE, pool="cloudwatch-logs"),
    "cloudwatch.dashboards": Rate(3.00, 1, "dashboard", 3, ALWAYS_FREE),
    "cloudwatch.alarms": Rate(0.10, 1, "alarm", 10, ALWAYS_FREE),
    "ec2.hours": Rate(1.0, 1, "hours", 750, FIRST_YEAR),  # usd: see INSTANCE_HOURLY
    "ebs.gp3": Rate(0.08, 1, "GB-month", 30, FIRST_YEAR),
    "ec2.public_ipv4": Rate(0.005, 1, "hours", 750, FIRST_YEAR),
}

# Linux on-demand USD per hour. The free tier's 750 hours cover only these micro types.
INSTANCE_HOURLY: dict[str, float] = {
    "t3.nano": 0.0052,
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "t2.micro": 0.0116,
    "t2.small": 0.023,
    "t4g.nano": 0.0042,
    "t4g.micro": 0.0084,
    "t4g.small": 0.0168,
    "m5.large": 0.096,
    "c5.large": 0.085,
}
FREE_TIER_INSTANCE_TYPES = ("t2.micro", "t3.micro")
