"""AWS list prices `ordercli cost` estimates with: data, with the region and date they are for.

Each rate is USD per `per` units, with the free tier's monthly allowance of the same units and
the AWS pricing page it was checked against. Rates that share one allowance name the same
`pool` (CloudWatch Logs' 5 GB covers ingestion and storage together). To update: check each
page, change the numbers and `AS_OF`, and the hand calculation in tests/test_cost.py, which
writes these prices out on purpose."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
AS_OF = "2026-11-28"  # the day every rate below was last checked against its page
SOURCE = "https://aws.amazon.com/pricing/ (each service's pricing page, US East (N. Virginia))"
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates
ALWAYS_FREE = "always free"
FIRST_YEAR = "first 12 months (accounts created before 2025-07-15)"

SQS = "https://aws.amazon.com/sqs/pricing/"
STATES = "https://aws.amazon.com/step-functions/pricing/"
LAMBDA = "https://aws.amazon.com/lambda/pricing/"
SNS = "https://aws.amazon.com/sns/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
EBS = "https://aws.amazon.com/ebs/pricing/"
IPV4 = "https://aws.amazon.com/vpc/pricing/"


@dataclass(frozen=True)
class Rate:
    usd: float  # price of `per` units
    per: int
    unit: str
    free: float = 0.0  # units a month the free tier covers
    free_kind: str | None = None  # ALWAYS_FREE, FIRST_YEAR, or None: no free tier
    pool: str | None = None  # rates sharing one free allowance
    source: str = SOURCE  # the page the rate and its allowance were checked against

    def unit_price(self) -> float:
        return self.usd / self.per


RATES: dict[str, Rate] = {
    # standard queue, first 100 billion requests a month; 1M requests always free
    "sqs.requests": Rate(0.40, 1_000_000, "requests", 1_000_000, ALWAYS_FREE, source=SQS),
    # Standard workflows; retries count as transitions; 4,000 always free
    "states.transitions": Rate(0.025, 1_000, "transitions", 4_000, ALWAYS_FREE, source=STATES),
    "lambda.requests": Rate(0.20, 1_000_000, "requests", 1_000_000, ALWAYS_FREE, source=LAMBDA),
    # x86, first 6 billion GB-s a month; 400,000 GB-s always free
    "lambda.gb_seconds": Rate(0.0000166667, 1, "GB-s", 400_000, ALWAYS_FREE, source=LAMBDA),
    "sns.publishes": Rate(0.50, 1_000_000, "publishes", 1_000_000, ALWAYS_FREE, source=SNS),
    "sns.email": Rate(2.00, 100_000, "emails", 1_000, ALWAYS_FREE, source=SNS),
    # on-demand request units have no free tier (its 25 units are provisioned capacity)
    "dynamodb.writes": Rate(0.625, 1_000_000, "WRU", source=DYNAMODB),
    # Lambda's logs are vended logs: $0.50/GB is their first tier (the first 10 TB a month)
    "logs.ingestion": Rate(
        0.50, 1, "GB", 5, ALWAYS_FREE, pool="cloudwatch-logs", source=CLOUDWATCH
    ),
    "logs.storage": Rate(
        0.03, 1, "GB-month", 5, ALWAYS_FREE, pool="cloudwatch-logs", source=CLOUDWATCH
    ),
    "cloudwatch.dashboards": Rate(3.00, 1, "dashboard", 3, ALWAYS_FREE, source=CLOUDWATCH),
    # a standard-resolution alarm on one metric; 10 always free
    "cloudwatch.alarms": Rate(0.10, 1, "alarm", 10, ALWAYS_FREE, source=CLOUDWATCH),
    "ec2.hours": Rate(1.0, 1, "hours", 750, FIRST_YEAR, source=EC2),  # usd: INSTANCE_HOURLY
    "ebs.gp3": Rate(0.08, 1, "GB-month", 30, FIRST_YEAR, source=EBS),
    "ec2.public_ipv4": Rate(0.005, 1, "hours", 750, FIRST_YEAR, source=IPV4),
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
