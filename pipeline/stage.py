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

    def __init__(self, scope: Construct, environment: str, *, settings: DeliverySettings) -> None:
        target = settings.stage(environment)
        super().__init__(scope, environment, env=Environment(account=target.account, region=target.region))
        self.environment = environment
        self.stack = PaymentStack(
            self,
            STACK_ID,
            profile=profile_for(environment),
            options=settings.stage_options(environment),
            env=Environment(account=target.account, region=target.region),
        )


class CatalogStage(Stage):
    """Publishes the Service Catalog product (portfolio, versions, launch role) after prod."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: CatalogSettings) -> None:
        super().__init__(scope, construct_id, env=Environment(account=settings.account, region=settings.region))
        self.stack = build_catalog(self, settings)
