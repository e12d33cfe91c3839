"""Published versions and support dates the stacks pin, each with its source and the date read.

Bump deliberately: change the pin, the source line and the date together.
"""

import datetime
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class EksSupport:
    released: datetime.date
    standard_end: datetime.date
    extended_end: datetime.date


# Amazon EKS Kubernetes release calendar: standard support for 14 months after release, then 12
# months of extended support (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html);
# dates from endoflife.date/amazon-eks. Both read 2026-12-02.
EKS_SUPPORT: Final = {
    "1.32": EksSupport(
        datetime.date(2025, 1, 23), datetime.date(2026, 3, 23), datetime.date(2027, 3, 23)
    ),
    "1.33": EksSupport(
        datetime.date(2025, 5, 28), datetime.date(2026, 7, 29), datetime.date(2027, 7, 29)
    ),
    "1.34": EksSupport(
        datetime.date(2025, 10, 2), datetime.date(2026, 12, 2), datetime.date(2027, 12, 2)
    ),
    "1.35": EksSupport(
        datetime.date(2026, 1, 27), datetime.date(2027, 3, 27), datetime.date(2028, 3, 27)
    ),
}
# The version every stack runs: the newest whose EKS dates are published in the sources above.
KUBERNETES_VERSION: Final = "1.35"

# Aurora PostgreSQL 17.9 (Aurora PostgreSQL release notes, "apg_plan_mgmt version 2.9 for Aurora
# PostgreSQL 17.9, April 6, 2026"; read 2026-12-02). Pinned with auto minor upgrades off.
AURORA_POSTGRES_VERSION: Final = "17.9"
