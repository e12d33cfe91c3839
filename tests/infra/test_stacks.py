"""Each stack config (dev, staging, prod) built under Pulumi mocks, checked resource by resource."""

import ipaddress
import json
import re
from typing import Any

from goldenpath_infra import rules
from goldenpath_infra.stack import OUTPUT_NAMES
from goldenpath_infra.tagging import is_taggable


def test_every_taggable_resource_carries_the_required_tags(stack: Any) -> None:
    taggable = [r for r in stack.resources if r.custom and is_taggable(r.type)]
    assert len(taggable) > 50, "the transform found too few taggable resources"
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        for key in rules.REQUIRED_TAGS:
            assert tags.get(key), f"{resource.urn}: missing tag {key!r} in {tags}"
        assert tags["environment"] == stack.environment, resource.urn


def test_kubernetes_resources_are_not_tagged(stack: Any) -> None:
    for resource in stack.resources:
        if resource.type.startswith("kubernetes:"):
            assert "tags" not in resource.inputs, resource.urn


def test_kms_key_rotates_and_encrypts_everything(stack: Any) -> None:
    (key,) = stack.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True, key.urn
    key_arn = stack.outputs["kms_key_arn"]
    (cluster,) = stack.of_type("aws:eks/cluster:Cluster")
    (encryption,) = cluster.inputs["encryptionConfig"] and [cluster.inputs["encryptionConfig"]]
    assert encryption["resources"] == ["secrets"], cluster.urn
    assert encryption["provider"]["keyArn"] == key_arn, cluster.urn
    (db,) = stack.of_type("aws:rds/cluster:Cluster")
    assert db.inputs["storageEncrypted"] is True, db.urn
    assert db.inputs["kmsKeyId"] == key_arn, db.urn
    assert db.inputs["masterUserSecretKmsKeyId"] == key_arn, db.urn
    for group in stack.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == key_arn, group.urn
        assert group.inputs["retentionInDays"] >= rules.MIN_LOG_RETENTION_DAYS, group.urn
    for secret in stack.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs["kmsKeyId"] == key_arn, secret.urn
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        for mapping in template.inputs["blockDeviceMappings"]:
            ebs = mapping["ebs"]
            assert ebs["encrypted"] == "true", template.urn
            assert ebs["volumeType"] == "gp3", template.urn
            assert ebs["kmsKeyId"] == key_arn, template.urn
    for instance in stack.of_type("aws:rds/clusterInstance:ClusterInstance"):
        assert instance.inputs["performanceInsightsKmsKeyId"] == key_arn, instance.urn


def test_no_open_ingress_except_load_balancer_https(stack: Any) -> None:
    lb_group = stack.outputs["load_balancer_security_group_id"]
    open_rules = []
    for rule in stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule.inputs.get("cidrIpv4") in rules.OPEN_CIDRS:
            open_rules.append(rule)
            assert rule.inputs["securityGroupId"] == lb_group, rule.urn
            assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443), rule.urn
            assert rule.inputs["ipProtocol"] == "tcp", rule.urn
    assert len(open_rules) == 1
    for group in stack.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress"), f"{group.urn}: inline rules bypass the guardrail"
    (default,) = stack.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []


def test_launch_templates_require_imdsv2_and_every_node_group_uses_one(stack: Any) -> None:
    templates = stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required", template.urn
        assert metadata["httpPutResponseHopLimit"] == 1, template.urn
    template_ids = {f"{t.name}-id" for t in templates}
    for group in stack.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["launchTemplate"]["id"] in template_ids, group.urn


def node_pools(stack: Any) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in stack.of_type("kubernetes:karpenter.sh/v1:NodePool")
    }


def test_gpu_capacity_is_karpenter_node_pools_tainted_bounded_and_allow_listed(
    stack: Any,
) -> None:
    """Karpenter is the autoscaler: one GPU NodePool per configured pool, a GPU limit each,
    spot pools with on-demand fallback, consolidation on (finding 11)."""
    pools = node_pools(stack)
    assert set(pools) == {"cpu", *(p.name for p in stack.config.gpu_node_pools)}
    total = 0
    for spec in stack.config.gpu_node_pools:
        pool = pools[spec.name]
        template = pool["template"]["spec"]
        assert template["taints"] == [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        ]
        requirements = {r["key"]: r["values"] for r in template["requirements"]}
        types = requirements["node.kubernetes.io/instance-type"]
        assert all(rules.instance_family(t) in rules.GPU_INSTANCE_FAMILIES for t in types)
        expected = ["spot", "on-demand"] if spec.capacity_type == "SPOT" else ["on-demand"]
        assert requirements["karpenter.sh/capacity-type"] == expected, spec.name
        assert int(pool["limits"]["nvidia.com/gpu"]) >= spec.max_size, spec.name
        assert pool["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
        total += spec.max_size
    assert total <= rules.GPU_NODE_CAP[stack.environment]
    assert "limits" in pools["cpu"] and "taints" not in pools["cpu"]["template"]["spec"]
    classes = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in stack.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    }
    assert set(classes) == set(pools)
    for node_class in classes.values():
        assert node_class["metadataOptions"]["httpTokens"] == "required"
        (disk,) = node_class["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] is True
        assert disk["ebs"]["kmsKeyID"] == stack.outputs["kms_key_arn"]
        assert node_class["subnetSelectorTerms"] == [
            {"id": s} for s in stack.outputs["private_subnet_ids"]
        ]
    (system,) = stack.of_type("aws:eks/nodeGroup:NodeGroup")
    assert system.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert not system.inputs.get("taints")


def test_karpenter_controller_is_scoped_and_hears_interruptions(stack: Any) -> None:
    (release,) = [
        r for r in stack.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "karpenter"
    ]
    settings = release.inputs["values"]["settings"]
    assert settings["clusterName"] == stack.outputs["cluster_name"]
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    assert settings["interruptionQueue"] == queue.inputs["name"]
    rules_ = stack.of_type("aws:cloudwatch/eventRule:EventRule")
    kinds = {json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in rules_}
    assert "EC2 Spot Instance Interruption Warning" in kinds
    policy = next(
        json.loads(p.inputs["policy"])
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("karpenter-controller")
    )
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert "Condition" in statements["ManageOwned"]
    assert statements["PassNodeRole"]["Resource"].endswith("eks-node-role")


def test_cluster_endpoint_logging_version_and_oidc(stack: Any) -> None:
    (cluster,) = stack.of_type("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    if stack.environment == "prod":
        assert vpc["endpointPublicAccess"] is False, cluster.urn
        assert cluster.inputs["deletionProtection"] is True, cluster.urn
    else:
        assert vpc["endpointPublicAccess"] is True
        assert vpc["publicAccessCidrs"], cluster.urn
        assert "0.0.0.0/0" not in vpc["publicAccessCidrs"], cluster.urn
    assert re.fullmatch(r"1\.\d+", cluster.inputs["version"]), cluster.urn
    assert set(cluster.inputs["enabledClusterLogTypes"]) == set(rules.CONTROL_PLANE_LOG_TYPES)
    (oidc,) = stack.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"] == stack.outputs["oidc_issuer_url"]
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_network_shape_follows_the_environment(stack: Any) -> None:
    azs = stack.config.az_count
    assert azs == (3 if stack.environment == "prod" else 2)
    subnets = stack.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 3 * azs
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    vpc = ipaddress.ip_network(stack.config.vpc_cidr)
    blocks = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    nats = stack.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == (azs if stack.config.nat_gateway_per_az else 1)
    services = sorted(
        e.inputs["serviceName"].rsplit(".", 1)[-1]
        if "ecr" not in e.inputs["serviceName"]
        else e.inputs["serviceName"].split("us-east-1.")[1]
        for e in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    )
    assert services == ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager", "sts"]
    for endpoint in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert endpoint.inputs["privateDnsEnabled"] is True, endpoint.urn
    (flow_log,) = stack.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    flow_group = [g for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup") if "flow" in g.name]
    assert flow_group[0].inputs["retentionInDays"] == stack.config.flow_log_retention_days


def test_vector_store_is_private_encrypted_and_iam_authenticated(stack: Any) -> None:
    (db,) = stack.of_type("aws:rds/cluster:Cluster")
    spec = stack.config.vector_store
    scaling = db.inputs["serverlessv2ScalingConfiguration"]
    assert (scaling["minCapacity"], scaling["maxCapacity"]) == (
        spec.min_capacity,
        spec.max_capacity,
    )
    assert db.inputs["engine"] == "aurora-postgresql"
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert db.inputs["manageMasterUserPassword"] is True
    assert "masterPassword" not in db.inputs
    assert db.inputs["backupRetentionPeriod"] == spec.backup_retention_days
    if stack.environment == "prod":
        assert db.inputs["deletionProtection"] is True, db.urn
        assert db.inputs["skipFinalSnapshot"] is False, db.urn
        assert db.inputs["finalSnapshotIdentifier"], db.urn
    (params,) = stack.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert "vector" in values["rds.allowed_extensions"].split(",")
    assert values["rds.force_ssl"] == "1"
    instances = stack.of_type("aws:rds/clusterInstance:ClusterInstance")
    assert len(instances) == spec.instances
    assert all(i.inputs["publiclyAccessible"] is False for i in instances)
    assert all(i.inputs["instanceClass"] == "db.serverless" for i in instances)
    (subnet_group,) = stack.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == stack.outputs["isolated_subnet_ids"]
    (db_group,) = [
        g
        for g in stack.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name.endswith("vectors-sg")
    ]
    db_rules = [
        r
        for r in stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == f"{db_group.name}-id"
    ]
    assert [(r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"]) for r in db_rules] == [
        (stack.outputs["node_security_group_id"], 5432)
    ]
    assert "cidrIpv4" not in db_rules[0].inputs


def test_opensearch_collection_follows_the_flag(stack: Any) -> None:
    collections = stack.of_type("aws:opensearch/serverlessCollection:ServerlessCollection")
    if not stack.config.vector_store.opensearch_collection:
        assert collections == [] and stack.outputs["opensearch_collection_endpoint"] is None
        return
    (collection,) = collections
    assert collection.inputs["type"] == "VECTORSEARCH"
    policies = {
        p.inputs["type"]: json.loads(p.inputs["policy"])
        for p in stack.of_type("aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy")
    }
    assert policies["encryption"]["KmsARN"] == stack.outputs["kms_key_arn"]
    assert policies["encryption"]["AWSOwnedKey"] is False
    assert policies["network"][0]["AllowFromPublic"] is False
    (access,) = stack.of_type("aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy")
    principals = json.loads(access.inputs["policy"])[0]["Principal"]
    assert sorted(principals) == sorted(
        t["role_arn"] for t in stack.outputs["team_namespaces"].values()
    )


def test_helm_releases_are_pinned(stack: Any) -> None:
    releases = {r.inputs["name"]: r for r in stack.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {
        "nvidia-device-plugin",
        "dcgm-exporter",
        "kuberay-operator",
        "kube-prometheus-stack",
        "metrics-server",
        "external-secrets",
        "aws-load-balancer-controller",
        "karpenter",
    }
    for release in releases.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", release.inputs["version"]), release.urn
        source = (release.inputs.get("repositoryOpts") or {}).get("repo") or release.inputs["chart"]
        assert source.startswith(("https://", "oci://")), release.urn
    for name in ("nvidia-device-plugin", "dcgm-exporter"):
        tolerations = releases[name].inputs["values"]["tolerations"]
        assert {
            "key": "nvidia.com/gpu",
            "operator": "Exists",
            "effect": "NoSchedule",
        } in tolerations


def test_team_namespaces_have_gpu_quota_default_deny_and_scoped_roles(stack: Any) -> None:
    teams = {t.name: t for t in stack.config.teams}
    quotas = {
        q.inputs["metadata"]["namespace"]: q
        for q in stack.of_type("kubernetes:core/v1:ResourceQuota")
    }
    assert set(quotas) == set(teams)
    for team, quota in quotas.items():
        assert quota.inputs["spec"]["hard"] == {
            "requests.nvidia.com/gpu": str(teams[team].gpu_quota)
        }
    deny = [
        p
        for p in stack.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "default-deny"
    ]
    assert {p.inputs["metadata"]["namespace"] for p in deny} == set(teams)
    for policy in deny:
        assert policy.inputs["spec"]["podSelector"] == {}
        assert sorted(policy.inputs["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in policy.inputs["spec"] and "egress" not in policy.inputs["spec"]
    roles = {r.name: r for r in stack.of_type("aws:iam/role:Role")}
    for team in teams:
        trust = json.loads(
            roles[f"gp-{stack.environment}-team-{team}-workload"].inputs["assumeRolePolicy"]
        )
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        subjects = [v for k, v in condition.items() if k.endswith(":sub")]
        assert subjects == [f"system:serviceaccount:{team}:workload"]
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        if "-team-" not in policy.name:
            continue
        team = policy.name.split("-team-")[1].removesuffix("-workload")
        document = json.loads(policy.inputs["policy"])
        read = [s for s in document["Statement"] if s["Sid"] == "ReadTeamSecrets"]
        assert all(f"-keys-{team}-" in arn for arn in read[0]["Resource"]), policy.urn
        resources = [s["Resource"] for s in document["Statement"]]
        flat = [r for group in resources for r in ([group] if isinstance(group, str) else group)]
        assert "*" not in flat, policy.urn


def test_budget_alerts_on_thresholds(stack: Any) -> None:
    (budget,) = stack.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == str(stack.config.budget.monthly_limit_usd)
    actual = sorted(
        n["threshold"] for n in budget.inputs["notifications"] if n["notificationType"] == "ACTUAL"
    )
    assert actual == sorted(stack.config.budget.thresholds_percent)
    assert budget.inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:environment${stack.environment}"]}
    ]


def test_outputs_for_deploy_programs(stack: Any) -> None:
    assert set(OUTPUT_NAMES) <= set(stack.outputs)
    assert stack.secret_outputs == {"kubeconfig"}
    kubeconfig = json.loads(stack.outputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "aws"
    assert "token" not in json.dumps(kubeconfig["users"][0]["user"]).replace("get-token", "")
    assert stack.outputs["cluster_name"] == f"goldenpath-{stack.environment}"
    assert stack.outputs["vector_store_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert len(stack.outputs["private_subnet_ids"]) == stack.config.az_count


def test_kms_key_lets_auto_scaling_launch_encrypted_node_volumes(stack: Any) -> None:
    """Managed node groups launch through the AWSServiceRoleForAutoScaling service-linked role;
    without these grants on the customer key instances fail to launch (keys.key_policy)."""
    (key,) = stack.of_type("aws:kms/key:Key")
    statements = json.loads(key.inputs["policy"])["Statement"]
    role = (
        "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    granted = {
        action
        for s in statements
        if s["Effect"] == "Allow" and s["Principal"].get("AWS") == role
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"} <= granted
    (grant,) = [s for s in statements if s["Action"] == "kms:CreateGrant"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": True}}


def test_data_api_is_off_and_engine_pin_matches_upgrades(stack: Any) -> None:
    (db,) = stack.of_type("aws:rds/cluster:Cluster")
    assert db.inputs.get("enableHttpEndpoint") is False, db.urn
    assert re.fullmatch(r"\d+\.\d+", db.inputs["engineVersion"]), db.urn
    for instance in stack.of_type("aws:rds/clusterInstance:ClusterInstance"):
        assert instance.inputs["autoMinorVersionUpgrade"] is False, instance.urn
    (params,) = stack.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert params.inputs["family"] == f"aurora-postgresql{db.inputs['engineVersion'].split('.')[0]}"


def test_team_namespaces_inject_the_load_balancer_readiness_gate(stack: Any) -> None:
    """ALB targets are pod IPs: without the gate a rollout can leave a target group with
    only initial or draining targets (AWS Load Balancer Controller, "Pod readiness gate")."""
    for namespace in stack.of_type("kubernetes:core/v1:Namespace"):
        labels = namespace.inputs["metadata"]["labels"]
        if "goldenpath.dev/team" in labels:
            assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled", namespace.urn


def test_team_namespaces_enforce_pod_security_restricted(stack: Any) -> None:
    namespaces = {
        n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]
        for n in stack.of_type("kubernetes:core/v1:Namespace")
    }
    for team in stack.config.teams:
        labels = namespaces[team.name]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", team.name


def test_kubernetes_version_is_in_standard_support_today(stack: Any) -> None:
    import datetime

    from goldenpath_infra import versions

    (cluster,) = stack.of_type("aws:eks/cluster:Cluster")
    support = versions.EKS_SUPPORT[cluster.inputs["version"]]
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert datetime.date.today() < support.standard_end, cluster.inputs["version"]


def test_chart_versions_are_the_cited_ones(stack: Any) -> None:
    releases = {
        r.inputs["name"]: r.inputs["version"]
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
    }
    stale = {
        "kube-prometheus-stack": "70.4.2",
        "nvidia-device-plugin": "0.17.1",
        "dcgm-exporter": "4.1.3",
        "kuberay-operator": "1.3.2",
        "metrics-server": "3.12.2",
    }
    for chart, old in stale.items():
        assert tuple(map(int, releases[chart].split("."))) > tuple(map(int, old.split("."))), chart


def test_managed_addons_enforce_network_policy_and_run_ebs_csi(stack: Any) -> None:
    addons = {a.inputs["addonName"]: a for a in stack.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
    }
    # NetworkPolicies (the team namespaces' default-deny) are enforced only with this on.
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true"
    }
    role_arn = addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"]
    (role,) = [r for r in stack.of_type("aws:iam/role:Role") if role_arn.endswith(f":{r.name}")]
    condition = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    subjects = [v for k, v in condition["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]


def test_gp3_is_the_default_encrypted_storage_class_and_prometheus_uses_it(stack: Any) -> None:
    (storage,) = stack.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage.inputs["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert storage.inputs["provisioner"] == "ebs.csi.aws.com"
    assert storage.inputs["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": stack.outputs["kms_key_arn"],
    }
    assert storage.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    (prometheus,) = [
        r
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["name"] == "kube-prometheus-stack"
    ]
    spec = prometheus.inputs["values"]["prometheus"]["prometheusSpec"]["storageSpec"]
    assert spec["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3"


def test_access_entries_admit_admins_ci_and_each_team_to_its_namespace(stack: Any) -> None:
    (cluster,) = stack.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    entries = stack.of_type("aws:eks/accessEntry:AccessEntry")
    principals = {e.inputs["principalArn"]: e for e in entries}
    admin = "arn:aws:iam::123456789012:role/goldenpath-platform-admin"
    ci = "arn:aws:iam::123456789012:role/goldenpath-ci-deploy"
    associations = {
        a.inputs["principalArn"]: a
        for a in stack.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    for principal in (admin, ci):
        assert principal in principals
        assert associations[principal].inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
        assert associations[principal].inputs["accessScope"] == {"type": "cluster"}
    teams = stack.outputs["team_namespaces"]
    bindings = stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    for team, out in teams.items():
        entry = principals[out["deploy_role_arn"]]
        assert entry.inputs["kubernetesGroups"] == [f"goldenpath:deploy:{team}"]
        assert out["deploy_role_arn"] not in associations, "team roles get no cluster-wide policy"
        bound = {
            b.inputs["roleRef"]["name"]
            for b in bindings
            if b.inputs["metadata"]["namespace"] == team
            and b.inputs["subjects"]
            == [
                {
                    "kind": "Group",
                    "name": f"goldenpath:deploy:{team}",
                    "apiGroup": "rbac.authorization.k8s.io",
                }
            ]
        }
        assert bound == {"edit", "goldenpath-deploy-monitoring"}, team
        role = next(
            r
            for r in stack.of_type("aws:iam/role:Role")
            if out["deploy_role_arn"].endswith(f":{r.name}")
        )
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"AWS": ci}]


def test_the_runner_reaches_the_private_api_through_its_security_group(stack: Any) -> None:
    runner = stack.outputs["runner_security_group_id"]
    api_rules = [
        r
        for r in stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("referencedSecurityGroupId") == runner
    ]
    assert [
        (r.inputs["securityGroupId"], r.inputs["fromPort"], r.inputs["toPort"]) for r in api_rules
    ] == [(stack.outputs["node_security_group_id"], 443, 443)]


def test_load_balancers_reach_the_nodes_on_the_service_port_only(stack: Any) -> None:
    """ALB targets are pod IPs in the nodes' group: that group admits the load-balancer group
    on 8000 and on nothing else (the load-balancer group itself takes only tcp/443)."""
    balancer = stack.outputs["load_balancer_security_group_id"]
    from_balancer = [
        (
            r.inputs["securityGroupId"],
            r.inputs["ipProtocol"],
            r.inputs["fromPort"],
            r.inputs["toPort"],
        )
        for r in stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("referencedSecurityGroupId") == balancer
    ]
    assert from_balancer == [(stack.outputs["node_security_group_id"], "tcp", 8000, 8000)]


def test_stack_names_resolve_on_the_self_managed_backend() -> None:
    """A DIY (S3) backend has no organisations: stacks are `organization/<project>/<stack>`
    (Pulumi docs, "State and backends", fully qualified stack names; read 2026-12-02)."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    project = yaml.safe_load((root / "infra" / "Pulumi.yaml").read_text())["name"]
    shared = root / "templates" / "_shared" / "deploy" / "service"
    names = {}
    for environment in ("dev", "staging", "prod"):
        text = (shared / f"Pulumi.{environment}.yaml").read_text()
        (names[environment],) = re.findall(r"platformStack: (\S+)", text)
    assert names == {e: f"organization/{project}/{e}" for e in names}
    readme = (root / "infra" / "README.md").read_text()
    referenced = set(re.findall(r"(\w[\w-]*)/goldenpath-infra/", readme))
    assert referenced <= {"organization"}, referenced


def test_each_team_gets_its_own_bucket_repositories_and_bedrock(stack: Any) -> None:
    """Batch with storage=s3 and rag with bedrock need these (finding 8)."""
    buckets = {b.name: b for b in stack.of_type("aws:s3/bucket:Bucket")}
    blocks = {
        b.inputs["bucket"]
        for b in stack.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    }
    encryption = {
        e.inputs["bucket"]: e.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        for e in stack.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    repositories = {r.inputs["name"]: r for r in stack.of_type("aws:ecr/repository:Repository")}
    policies = {
        p.name: json.loads(p.inputs["policy"])
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
    }
    for team in stack.config.teams:
        bucket = buckets[f"gp-{stack.environment}-team-{team.name}-data"]
        bucket_id = f"{bucket.name}-id"
        assert bucket_id in blocks
        assert encryption[bucket_id] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": stack.outputs["kms_key_arn"],
        }
        for service in team.services:
            repo = repositories[f"goldenpath/{team.name}/{service}"]
            assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
            assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        statements = {
            s["Sid"]: s
            for s in policies[f"gp-{stack.environment}-team-{team.name}-workload"]["Statement"]
        }
        bucket_arn = f"arn:aws:s3:us-east-1:123456789012:{bucket.name}"
        assert statements["ListTeamBucket"]["Resource"] == bucket_arn
        assert statements["UseTeamBucketObjects"]["Resource"] == f"{bucket_arn}/*"
        assert "bedrock:InvokeModel" in statements["InvokeBedrockModels"]["Action"]
        assert all(
            r.startswith("arn:aws:bedrock:us-east-1:")
            for r in statements["InvokeBedrockModels"]["Resource"]
        )
        assert statements["ConnectAsNamespaceUser"]["Action"] == "rds-db:connect"
        other = [t.name for t in stack.config.teams if t.name != team.name]
        for name in other:
            assert f"team-{name}-data" not in json.dumps(statements), (team.name, name)


def test_cost_anomalies_on_the_environment_tag_alert_the_budget_emails(stack: Any) -> None:
    (monitor,) = stack.of_type("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert monitor.inputs["monitorType"] == "CUSTOM"
    assert json.loads(monitor.inputs["monitorSpecification"])["Tags"]["Values"] == [
        stack.environment
    ]
    (subscription,) = stack.of_type("aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert [s["address"] for s in subscription.inputs["subscribers"]] == list(
        stack.config.budget.alert_emails
    )
    threshold = subscription.inputs["thresholdExpression"]["dimension"]
    assert threshold["values"] == [str(round(stack.config.budget.monthly_limit_usd / 30))]


def test_load_balancer_controller_may_change_only_its_own_load_balancers(stack: Any) -> None:
    (release,) = [
        r
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["name"] == "aws-load-balancer-controller"
    ]
    values = release.inputs["values"]
    assert values["clusterName"] == stack.outputs["cluster_name"]
    assert values["vpcId"] == stack.outputs["vpc_id"]
    assert (values["enableWaf"], values["enableWafv2"], values["enableShield"]) == (False,) * 3
    policy = next(
        json.loads(p.inputs["policy"])
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-addons-load-balancer-controller")
    )
    for statement in policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        mutating = [
            a for a in actions if a.split(":")[1].startswith(("Delete", "Modify", "Revoke"))
        ]
        if mutating and statement["Sid"] != "ListenersAndRules":
            assert "Condition" in statement, statement["Sid"]
    (own,) = [s for s in policy["Statement"] if s["Sid"] == "ManageOwnLoadBalancers"]
    assert own["Condition"] == {
        "StringEquals": {"aws:ResourceTag/elbv2.k8s.aws/cluster": stack.outputs["cluster_name"]}
    }
