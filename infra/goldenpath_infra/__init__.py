"""Components and stack assembly for the goldenpath platform infrastructure.

`__main__.py` reads Pulumi config and calls `stack.build_stack`; tests call the same function
under Pulumi mocks, so what is tested is what `pulumi up` deploys.
"""
