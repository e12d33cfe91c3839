"""OpenSearch Serverless vector collection: KMS-encrypted, reachable only through a VPC endpoint."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra.guardrails import GuardrailError, check_environment, check_kms_key


@dataclass(frozen=True)
class VectorCollectionArgs:
    environment: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    # IAM principals (the team IRSA roles) granted index and document access.
    reader_arns: Sequence[pulumi.Input[str]]


class VectorCollection(pulumi.ComponentResource):
    """The three policies must exist before the collection, so the collection depends on them."""

    collection: aws.opensearch.ServerlessCollection

    def __init__(
        self, name: str, args: VectorCollectionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:data:VectorCollection", name, None, opts)
        check_environment(args.environment)
        check_kms_key(args.kms_key_arn)
        if not args.reader_arns:
            raise GuardrailError("reader_arns", [], "a collection nobody may read is a mistake")
        child = pulumi.ResourceOptions(parent=self)
        collection_name = f"gp-{args.environment}-vectors"
        resource = [f"collection/{collection_name}"]
        encryption = aws.opensearch.ServerlessSecurityPolicy(
            f"{name}-encryption",
            name=f"{collection_name}-enc",
            type="encryption",
            policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                lambda key: json.dumps(
                    {
                        "Rules": [{"ResourceType": "collection", "Resource": resource}],
                        "AWSOwnedKey": False,
                        "KmsARN": key,
                    }
                )
            ),
            opts=child,
        )
        endpoint = aws.opensearch.ServerlessVpcEndpoint(
            f"{name}-vpce",
            name=f"{collection_name}-vpce",
            vpc_id=args.vpc_id,
            subnet_ids=list(args.subnet_ids),
            security_group_ids=[args.security_group_id],
            opts=child,
        )
        network = aws.opensearch.ServerlessSecurityPolicy(
            f"{name}-network",
            name=f"{collection_name}-net",
            type="network",
            policy=endpoint.id.apply(
                lambda vpce: json.dumps(
                    [
                        {
                            "Rules": [
                                {"ResourceType": "collection", "Resource": resource},
                                {"ResourceType": "dashboard", "Resource": resource},
                            ],
                            "AllowFromPublic": False,
                            "SourceVPCEs": [vpce],
                        }
                    ]
                )
            ),
            opts=child,
        )
        access = aws.opensearch.ServerlessAccessPolicy(
            f"{name}-access",
            name=f"{collection_name}-access",
            type="data",
            policy=pulumi.Output.all(*args.reader_arns).apply(
                lambda principals: json.dumps(
                    [
                        {
                            "Rules": [
                                {
                                    "ResourceType": "index",
                                    "Resource": [f"index/{collection_name}/*"],
                                    "Permission": [
                                        "aoss:CreateIndex",
                                        "aoss:DescribeIndex",
                                        "aoss:ReadDocument",
                                        "aoss:WriteDocument",
                                        "aoss:UpdateIndex",
                                    ],
                                },
                                {
                                    "ResourceType": "collection",
                                    "Resource": resource,
                                    "Permission": ["aoss:DescribeCollectionItems"],
                                },
                            ],
                            "Principal": list(principals),
                        }
                    ]
                )
            ),
            opts=child,
        )
        self.collection = aws.opensearch.ServerlessCollection(
            f"{name}-collection",
            name=collection_name,
            type="VECTORSEARCH",
            description=f"goldenpath {args.environment} vector collection",
            standby_replicas="ENABLED" if args.environment == "prod" else "DISABLED",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption, network, access]),
        )
        self.register_outputs({"collection_endpoint": self.collection.collection_endpoint})
