"""The Service Catalog product: the payment product as a launchable, versioned `ProductStack` and its catalog.

Modules: `catalog_stack` (PaymentCatalogStack, build_catalog), `product_stack` (PaymentProductStack),
`knobs` (mapping from the knob table), `settings` (context `catalog`), `versions`, `launch_role`,
`launch_permissions` (generated actions and scopes), `launch_scopes` (where the product's resources are,
reviewed), `boundary` (the product roles' permissions boundary), `assets`, `parameters` (the
launch-parameter contract, CDK-free), `launch` (the boto3 CLI application teams launch the product with,
`python -m product.catalog.launch`; CDK-free).
"""
