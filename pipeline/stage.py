"""`PaymentStage`: one environment of the product as a deployable unit (a `cdk.Stage`)."""

from __future__ import annotations

from aws_cdk import Environment, Stage
from constructs import Construct

from pipeline.settings import DeliverySettings
from product.catalog.catalog_stack import build_catalog
from product.catalog.settings import CatalogSettings
from product.payment_stack import PaymentStack
from product.profiles import profile_for

STACK_ID = "PaymentStack"


class PaymentStage(Stage):
    """Holds `PaymentStack` built from the environment's profile, in the environment's account/region."""

    def __init__(self, scope: Construct, environment: str, *, delivery_settings: DeliverySettings) -> None:
        target = delivery_settings.stage(environment)
        super().__init__(scope, environment, env=Environment(account=target.account, region=target.region))
        self.environment = environment
        self.stack = PaymentStack(
            self,
            STACK_ID,
            profile=profile_for(environment),
            options=delivery_settings.stage_options(environment),
            env=Environment(account=target.account, region=target.region),
        )


class CatalogStage(Stage):
    """Publishes the Service Catalog product (portfolio, versions, launch role) after prod.

    The stage has no environment of its own (the catalog stack carries the catalog account and region), so
    the product stack inside it is environment-agnostic by construction.
    """

    def __init__(self, scope: Construct, construct_id: str, *, catalog_settings: CatalogSettings) -> None:
        super().__init__(scope, construct_id)
        self.stack = build_catalog(self, catalog_settings)
