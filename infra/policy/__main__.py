"""The goldenpath CrossGuard pack: `pulumi up --policy-pack infra/policy`.

Constructing `PolicyPack` starts the policy analyzer server, so only this file builds it.
"""

from goldenpath_policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="goldenpath-guardrails",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
)
