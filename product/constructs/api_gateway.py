"""API Gateway: the REST API, its request model and validator, and the environment's stage.

The stage is built explicitly (`deploy=False` + `Deployment` + `Stage`) because the Service Catalog
product passes the stage name as a token, which `RestApi(deploy_options=...)` cannot take.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.profiles import ApiThrottling

CREATE_PAYMENT_SCHEMA = (
    Path(__file__).resolve().parents[2] / "assets" / "lambda" / "payments" / "schemas" / "create_payment.json"
)
_SCHEMA_KEYWORDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "minimum": "minimum",
    "maximum": "maximum",
    "pattern": "pattern",
    "enum": "enum",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "required": "required",
    "title": "title",
    "description": "description",
}
_GATEWAY_ERROR_TEMPLATE = (
    '{{"error": {{"code": "{code}", "message": "$context.error.validationErrorString", "field": {field}}}}}'
)
# Contract-shaped bodies for requests API Gateway itself rejects before the function runs.
_GATEWAY_ERRORS = {
    "BadRequestBody": (apigw.ResponseType.BAD_REQUEST_BODY, "invalid_request", "null"),
    "BadRequestParameters": (apigw.ResponseType.BAD_REQUEST_PARAMETERS, "invalid_request", '"Idempotency-Key"'),
}


def json_schema(document: dict[str, Any]) -> apigw.JsonSchema:
    """An API Gateway `JsonSchema` from a draft-4 JSON document (the subset API Gateway supports)."""
    unknown = set(document) - set(_SCHEMA_KEYWORDS) - {"$schema", "type", "properties", "additionalProperties", "items"}
    if unknown:
        raise ValueError(f"request schema uses keywords API Gateway models do not support: {sorted(unknown)}")
    kwargs: dict[str, Any] = {_SCHEMA_KEYWORDS[k]: v for k, v in document.items() if k in _SCHEMA_KEYWORDS}
    if "$schema" in document:
        kwargs["schema"] = apigw.JsonSchemaVersion.DRAFT4
    if "type" in document:
        types = document["type"] if isinstance(document["type"], list) else [document["type"]]
        converted = [apigw.JsonSchemaType[t.upper()] for t in types]
        kwargs["type"] = converted[0] if len(converted) == 1 else converted
    if "properties" in document:
        kwargs["properties"] = {name: json_schema(sub) for name, sub in document["properties"].items()}
    if "additionalProperties" in document:
        extra = document["additionalProperties"]
        kwargs["additional_properties"] = extra if isinstance(extra, bool) else json_schema(extra)
    if "items" in document:
        kwargs["items"] = json_schema(document["items"])
    return apigw.JsonSchema(**kwargs)


class PaymentApi(Construct):
    """`POST /payments`, `GET /payments/{id}` with IAM (SigV4) authorization, traced and logged."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        stage_name: str,
        throttling: ApiThrottling,
        handler: lambda_.IFunction,
        access_log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=ResourceNames(name_suffix).rest_api,
            description="Payment API: create and read payments",
            deploy=False,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The account's CloudWatch role is one setting per account and region: see api_gateway_account.py.
            cloud_watch_role=False,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        schema = json.loads(CREATE_PAYMENT_SCHEMA.read_text())
        model = self.api.add_model(
            "CreatePaymentModel",
            content_type="application/json",
            model_name="CreatePayment",
            schema=json_schema(schema),
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        for response_id, (response_type, code, field) in _GATEWAY_ERRORS.items():
            self.api.add_gateway_response(
                response_id,
                type=response_type,
                status_code="400",
                templates={"application/json": _GATEWAY_ERROR_TEMPLATE.format(code=code, field=field)},
            )
        integration = apigw.LambdaIntegration(handler)
        payments = self.api.root.add_resource("payments")
        create = payments.add_method(
            "POST",
            integration,
            request_models={"application/json": model},
            request_parameters={"method.request.header.Idempotency-Key": True},
            request_validator=validator,
        )
        read = payments.add_resource("{id}").add_method(
            "GET", integration, request_parameters={"method.request.path.id": True}, request_validator=validator
        )

        self.deployment = apigw.Deployment(self, "Deployment", api=self.api, description="payment API")
        # On the CfnMethods only: the methods' Lambda permissions reference the stage, hence this deployment.
        self.deployment.node.add_dependency(create.node.default_child, read.node.default_child)
        # A new deployment whenever the routes or the request model change.
        self.deployment.add_to_logical_id({"routes": ["POST /payments", "GET /payments/{id}"], "model": schema})
        self.stage = apigw.Stage(
            self,
            "Stage",
            deployment=self.deployment,
            stage_name=stage_name,
            tracing_enabled=True,
            metrics_enabled=True,
            logging_level=apigw.MethodLoggingLevel.INFO,
            data_trace_enabled=False,  # request bodies carry payment tokens: never log them
            throttling_rate_limit=throttling.rate_limit,
            throttling_burst_limit=throttling.burst_limit,
            access_log_destination=apigw.LogGroupLogDestination(access_log_group),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        )
        self.api.deployment_stage = self.stage
        acknowledge(
            self.api,
            (
                "AwsSolutions-COG4",
                "methods use IAM (SigV4) authorization: callers are platform services with "
                "IAM identities, not end users with Cognito accounts",
            ),
        )
        acknowledge(
            self.stage,
            (
                "PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
                "payment state is never cached: every read must "
                "reflect the table, and POST responses must not be served from a cache",
            ),
            (
                "PCI.DSS.321-APIGWSSLEnabled",
                "Lambda proxy integration only; there is no HTTP backend to present a client certificate to",
            ),
        )

    @property
    def url(self) -> str:
        return self.stage.url_for_path("/")
