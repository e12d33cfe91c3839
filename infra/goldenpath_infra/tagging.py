"""Stack-wide required tags, applied by a resource transform.

A transform reaches every resource, including those created inside components, so no
component can forget the tags that cost reports and access policies rely on.
"""

import functools
import importlib
import inspect
from collections.abc import Mapping

import pulumi

from goldenpath_infra.guardrails import check_required_tags


@functools.cache
def is_taggable(type_token: str) -> bool:
    """True for pulumi-aws resource types that accept `tags`, found by reading the SDK class."""
    package, _, rest = type_token.partition(":")
    if package != "aws" or ":" not in rest:
        return False
    module_path, _, class_name = rest.partition(":")
    module = module_path.split("/", 1)[0]
    if module == "index":
        return False
    try:
        sdk_module = importlib.import_module(f"pulumi_aws.{module.replace('-', '_')}")
    except ImportError:
        return False
    resource_class = getattr(sdk_module, class_name, None)
    init = getattr(resource_class, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def _merge(required: Mapping[str, str], existing: object) -> object:
    if isinstance(existing, pulumi.Output):
        return existing.apply(lambda tags: {**required, **(tags or {})})
    if isinstance(existing, Mapping):
        return {**required, **existing}
    return dict(required)


def required_tags_transform(tags: Mapping[str, str]) -> pulumi.ResourceTransform:
    """Build a transform that adds `tags` to every taggable AWS resource.

    A resource's own value wins for a key it sets itself (a database may be `confidential` in an
    `internal` environment); the guardrail keeps the stack-wide set complete.
    """
    check_required_tags(tags)
    required = dict(tags)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not is_taggable(args.type_):
            return None
        props = dict(args.props)
        props["tags"] = _merge(required, props.get("tags"))
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def register_required_tags(tags: Mapping[str, str]) -> None:
    """Register the transform for the rest of the program; call before creating resources."""
    pulumi.runtime.register_resource_transform(required_tags_transform(tags))
