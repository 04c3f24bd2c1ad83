"""Service Catalog for the emulator: what a team's launch needs, provided by the harness (moto 5.2.5).

moto implements 11 of Service Catalog's ~90 operations (portfolios, shares, create/describe product) and
no CloudFormation model for any `AWS::ServiceCatalog::*` type. The harness provides, and every report
lists as "provided by the harness":
- CloudFormation providers for the catalog stack's seven `AWS::ServiceCatalog::*` types, on moto's own
  CreatePortfolio/CreateProduct where they exist, and for `Custom::CDKBucketDeployment` (the product's
  Lambda code copied from the bootstrap bucket, where the CDK CLI published it, into the catalog's asset
  bucket, as the custom resource's function would);
- the operations the launch helper (`product.catalog.launch`) calls: DescribeProduct, ListLaunchPaths,
  DescribeProvisioningParameters, ProvisionProduct, DescribeRecord, SearchProvisionedProducts,
  GetProvisionedProductOutputs, TerminateProvisionedProduct.

What Service Catalog enforces is enforced here: only principals associated with the portfolio see the
product and may launch it (others get ResourceNotFoundException on look-ups and AccessDeniedException on
ProvisionProduct); TagOption keys accept only the portfolio's values; parameters must meet the version's
constraints (AllowedValues, AllowedPattern, lengths); a version's template is read once, when the
artifact is created, and never changes. A launch is a CloudFormation stack created from the version's
template with the launch parameters and the TagOptions as tags, by the launch role (CreateStack and
DeleteStack are called with the launch role's assumed-role credentials).
Not provided: updates of provisioned products, budgets, service actions, portfolio shares across
accounts, StackSet products, the launch notification topics.
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from moto.cloudformation import parsing
from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.s3.models import s3_backends
from moto.servicecatalog.models import ServiceCatalogBackend, servicecatalog_backends
from moto.servicecatalog.responses import ServiceCatalogResponse
from moto.sts.models import sts_backends

from rehearsal import iam
from rehearsal.shims import HarnessResource

PARTITION = "aws"
STACK_WAIT_S = 120


class ServiceCatalogError(JsonRESTError):
    """An error in Service Catalog's shape (`code` is its error code, e.g. AccessDeniedException)."""

    code = 400


def _error(code: str, message: str) -> ServiceCatalogError:
    return ServiceCatalogError(code, message)


def _short_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:13]}"


@dataclass
class Artifact:
    id: str
    name: str
    description: str
    template: dict[str, Any]  # read once, at creation: a version never changes
    created: Any = field(default_factory=utcnow)
    active: bool = True
    guidance: str = "DEFAULT"


@dataclass
class ProvisionedProduct:
    id: str
    name: str
    product_id: str
    artifact_id: str
    path_id: str
    stack_arn: str
    status: str
    last_record_id: str
    tags: list[dict[str, str]]
    created: Any = field(default_factory=utcnow)


@dataclass
class Record:
    id: str
    record_type: str
    provisioned: ProvisionedProduct
    status: str
    errors: list[dict[str, str]] = field(default_factory=list)
    outputs: list[dict[str, str]] = field(default_factory=list)
    created: Any = field(default_factory=utcnow)


@dataclass
class CatalogState:
    """The part of Service Catalog moto does not model, kept on moto's backend (reset with it)."""

    artifacts: dict[str, list[Artifact]] = field(default_factory=dict)  # product id -> versions
    portfolio_products: set[tuple[str, str]] = field(default_factory=set)
    tag_options: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # id -> key, value, active
    tag_option_links: set[tuple[str, str]] = field(default_factory=set)  # (portfolio/product id, tag option id)
    launch_roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (portfolio, product) -> role
    principals: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # portfolio -> (arn, type)
    provisioned: dict[str, ProvisionedProduct] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


def state_of(backend: ServiceCatalogBackend) -> CatalogState:
    state = backend.__dict__.get("_harness_catalog")
    if state is None:
        state = backend.__dict__.setdefault("_harness_catalog", CatalogState())
    return state


# -- CloudFormation providers --------------------------------------------------------------------------


def _properties(resource_json: dict[str, Any], resources_map: Any) -> dict[str, Any]:
    return parsing.clean_json(resource_json.get("Properties", {}), resources_map)


def _s3_object(account_id: str, url: str) -> bytes:
    """An object of the emulator's S3 by its https URL (path style or virtual-hosted style)."""
    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com":
        bucket, _, key = path.partition("/")
    else:
        bucket, key = host.split(".s3", 1)[0], path
    return s3_backends[account_id][PARTITION].get_object(bucket, key).value  # type: ignore[union-attr]  # moto


def _create_portfolio(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    p = _properties(resource_json, resources_map)
    detail, _tags = servicecatalog_backends[account_id][region_name].create_portfolio(
        accept_language=None,
        display_name=p["DisplayName"],
        description=p.get("Description"),
        provider_name=p["ProviderName"],
        tags=p.get("Tags"),
        idempotency_token=None,
    )
    return HarnessResource(logical_id, resource_json["Type"], detail["Id"], {"PortfolioName": p["DisplayName"]})


def _create_product(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    p = _properties(resource_json, resources_map)
    backend = servicecatalog_backends[account_id][region_name]
    product = backend.create_product(
        name=p["Name"],
        owner=p["Owner"],
        description=p.get("Description"),
        distributor=p.get("Distributor"),
        support_description=p.get("SupportDescription"),
        support_email=p.get("SupportEmail"),
        support_url=p.get("SupportUrl"),
        product_type="CLOUD_FORMATION_TEMPLATE",
        tags=p.get("Tags", []),
        provisioning_artifact_parameters=None,
    )
    # AWS's product ids look like prod-xxxxxxxxxxxxx; the launch helper tells names from ids by it.
    backend.products.pop(product.id)
    product.id = _short_id("prod")
    backend.products[product.id] = product
    versions = [
        Artifact(
            id=_short_id("pa"),
            name=spec["Name"],
            description=spec.get("Description", ""),
            template=json.loads(_s3_object(account_id, spec["Info"]["LoadTemplateFromURL"])),
        )
        for spec in p.get("ProvisioningArtifactParameters", [])
    ]
    state_of(backend).artifacts[product.id] = versions
    return HarnessResource(
        logical_id,
        resource_json["Type"],
        product.id,
        {
            "ProductName": p["Name"],
            "ProvisioningArtifactIds": ",".join(v.id for v in versions),
            "ProvisioningArtifactNames": ",".join(v.name for v in versions),
        },
    )


def _link(kind: str) -> Any:
    """Providers of the association-like types: they only record a relation in the catalog state."""

    def create(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> HarnessResource:
        p = _properties(resource_json, resources_map)
        state = state_of(servicecatalog_backends[account_id][region_name])
        physical_id = _short_id(kind)
        with state.lock:
            if kind == "tag":
                physical_id = _short_id("tag")
                state.tag_options[physical_id] = (p["Key"], p["Value"], p.get("Active", True) not in (False, "false"))
            elif kind == "assoc":
                state.portfolio_products.add((p["PortfolioId"], p["ProductId"]))
            elif kind == "tagassoc":
                state.tag_option_links.add((p["ResourceId"], p["TagOptionId"]))
            elif kind == "cons":
                role = p.get("RoleArn") or f"arn:{PARTITION}:iam::{account_id}:role/{p['LocalRoleName']}"
                state.launch_roles[(p["PortfolioId"], p["ProductId"])] = role
            elif kind == "principal":
                principal = (p["PrincipalARN"], p.get("PrincipalType", "IAM"))
                state.principals.setdefault(p["PortfolioId"], []).append(principal)
        return HarnessResource(logical_id, resource_json["Type"], physical_id, {})

    return create


def _bucket_deployment(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, _region_name: str
) -> HarnessResource:
    """Custom::CDKBucketDeployment: copy (or extract) the source objects into the destination bucket."""
    p = _properties(resource_json, resources_map)
    s3 = s3_backends[account_id][PARTITION]
    prefix = p.get("DestinationBucketKeyPrefix", "")
    extract = p.get("Extract", True) not in (False, "false")
    for bucket, key in zip(p["SourceBucketNames"], p["SourceObjectKeys"], strict=True):
        body = s3.get_object(bucket, key).value  # type: ignore[union-attr]  # moto's FakeKey
        if extract:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                for name in archive.namelist():
                    if not name.endswith("/"):
                        s3.put_object(p["DestinationBucketName"], f"{prefix}{name}", archive.read(name))
        else:
            s3.put_object(p["DestinationBucketName"], f"{prefix}{key}", body)
    return HarnessResource(logical_id, resource_json["Type"], f"aws.cdk.s3deployment.{uuid.uuid4()}", {})


CFN_PROVIDERS = {
    "AWS::ServiceCatalog::Portfolio": _create_portfolio,
    "AWS::ServiceCatalog::CloudFormationProduct": _create_product,
    "AWS::ServiceCatalog::PortfolioProductAssociation": _link("assoc"),
    "AWS::ServiceCatalog::TagOption": _link("tag"),
    "AWS::ServiceCatalog::TagOptionAssociation": _link("tagassoc"),
    "AWS::ServiceCatalog::LaunchRoleConstraint": _link("cons"),
    "AWS::ServiceCatalog::PortfolioPrincipalAssociation": _link("principal"),
}
CUSTOM_RESOURCE_PROVIDERS = {"Custom::CDKBucketDeployment": _bucket_deployment}


# -- the operations -------------------------------------------------------------------------------------


def _caller(response: ServiceCatalogResponse) -> str:
    """The IAM ARN behind the request's access key (assumed-role sessions name their role)."""
    access_key = response.get_access_key()
    _user_id, arn, _account = sts_backends[response.current_account][PARTITION].get_caller_identity(
        access_key, response.region
    )
    match = re.match(r"^arn:[^:]+:sts::(\d+):assumed-role/([^/]+)/", arn)
    return f"arn:{PARTITION}:iam::{match.group(1)}:role/{match.group(2)}" if match else arn


def _associated(state: CatalogState, portfolio_id: str, caller: str) -> bool:
    for arn, kind in state.principals.get(portfolio_id, []):
        if arn == caller or (kind == "IAM_PATTERN" and fnmatch.fnmatchcase(caller, arn)):
            return True
    return False


class _Catalog:
    """One request's view: the backend, the harness state and the caller."""

    def __init__(self, response: ServiceCatalogResponse) -> None:
        self.response = response
        self.backend = servicecatalog_backends[response.current_account][response.region]
        self.state = state_of(self.backend)
        self.caller = _caller(response)
        self.params: dict[str, Any] = json.loads(response.body or "{}")

    def paths(self, product_id: str) -> list[str]:
        """Portfolios holding the product that the caller is associated with."""
        return sorted(
            portfolio
            for portfolio, product in self.state.portfolio_products
            if product == product_id and _associated(self.state, portfolio, self.caller)
        )

    def visible_product(self, *, product_id: str | None = None, name: str | None = None) -> Any:
        product = None
        if product_id:
            product = self.backend.products.get(product_id)
        elif name:
            product = next((p for p in self.backend.products.values() if p.name == name), None)
        if product is None or not self.paths(product.id):
            raise _error("ResourceNotFoundException", f"Product {product_id or name} not found for {self.caller}")
        return product

    def artifact(self, product_id: str, artifact_id: str | None, name: str | None = None) -> Artifact:
        for version in self.state.artifacts.get(product_id, []):
            if version.id == artifact_id or (name is not None and version.name == name):
                return version
        raise _error(
            "ResourceNotFoundException",
            f"Provisioning artifact {artifact_id or name} not found in product {product_id}",
        )

    def tag_options(self, portfolio_id: str, product_id: str) -> dict[str, list[str]]:
        allowed: dict[str, list[str]] = {}
        for resource, option_id in sorted(self.state.tag_option_links):
            if resource in (portfolio_id, product_id):
                key, value, active = self.state.tag_options[option_id]
                if active:
                    allowed.setdefault(key, []).append(value)
        return {key: sorted(values) for key, values in sorted(allowed.items())}

    def provisioned(self) -> ProvisionedProduct:
        wanted_id = self.params.get("ProvisionedProductId")
        wanted_name = self.params.get("ProvisionedProductName")
        for item in self.state.provisioned.values():
            if wanted_id == item.id or wanted_name == item.name:
                return item
        raise _error("ResourceNotFoundException", f"Provisioned product {wanted_id or wanted_name} not found")


def _artifact_view(version: Artifact) -> dict[str, Any]:
    return {
        "Id": version.id,
        "Name": version.name,
        "Description": version.description,
        "CreatedTime": version.created,
        "Guidance": version.guidance,
    }


def describe_product(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    product = catalog.visible_product(product_id=catalog.params.get("Id"), name=catalog.params.get("Name"))
    return _result(
        {
            "ProductViewSummary": product.to_dict(),
            "ProvisioningArtifacts": [
                _artifact_view(v) for v in catalog.state.artifacts.get(product.id, []) if v.active
            ],
            "Budgets": [],
            "LaunchPaths": [_path_view(catalog, p) for p in catalog.paths(product.id)],
        }
    )


def _path_view(catalog: _Catalog, portfolio_id: str) -> dict[str, Any]:
    portfolio = catalog.backend.portfolios[portfolio_id]
    return {"Id": portfolio_id, "Name": portfolio.display_name}


def list_launch_paths(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    product = catalog.visible_product(product_id=catalog.params.get("ProductId"))
    summaries = [
        {
            **_path_view(catalog, p),
            "ConstraintSummaries": [{"Type": "LAUNCH"}] if (p, product.id) in catalog.state.launch_roles else [],
            "Tags": [],
        }
        for p in catalog.paths(product.id)
    ]
    return _result({"LaunchPathSummaries": summaries})


def _parameter_views(template: dict[str, Any]) -> list[dict[str, Any]]:
    views = []
    for key, spec in template.get("Parameters", {}).items():
        constraints = {
            name: spec[source]
            for name, source in (
                ("AllowedValues", "AllowedValues"),
                ("AllowedPattern", "AllowedPattern"),
                ("ConstraintDescription", "ConstraintDescription"),
                ("MaxLength", "MaxLength"),
                ("MinLength", "MinLength"),
                ("MaxValue", "MaxValue"),
                ("MinValue", "MinValue"),
            )
            if source in spec
        }
        view: dict[str, Any] = {
            "ParameterKey": key,
            "ParameterType": spec.get("Type", "String"),
            "IsNoEcho": spec.get("NoEcho") in (True, "true"),
            "Description": spec.get("Description", ""),
            "ParameterConstraints": {
                k: (str(v) if k.endswith(("Length", "Value")) else v) for k, v in constraints.items()
            },
        }
        if "Default" in spec:
            view["DefaultValue"] = str(spec["Default"])
        views.append(view)
    return views


def describe_provisioning_parameters(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    product = catalog.visible_product(product_id=catalog.params.get("ProductId"))
    version = catalog.artifact(product.id, catalog.params.get("ProvisioningArtifactId"))
    path = catalog.params.get("PathId") or next(iter(catalog.paths(product.id)), "")
    return _result(
        {
            "ProvisioningArtifactParameters": _parameter_views(version.template),
            "ConstraintSummaries": [{"Type": "LAUNCH"}] if (path, product.id) in catalog.state.launch_roles else [],
            "TagOptions": [{"Key": k, "Values": v} for k, v in catalog.tag_options(path, product.id).items()],
        }
    )


def _check_parameters(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    problems = [f"unknown parameter {key}" for key in given if key not in declared]
    values = {}
    for key, spec in declared.items():
        if key not in given:
            if "Default" not in spec:
                problems.append(f"parameter {key} is required")
            continue
        value = given[key]
        values[key] = value
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"parameter {key}={value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            rule = spec.get("ConstraintDescription") or spec["AllowedPattern"]
            problems.append(f"parameter {key}={value!r} does not match {rule}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            problems.append(f"parameter {key} is longer than {spec['MaxLength']}")
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            problems.append(f"parameter {key} is shorter than {spec['MinLength']}")
    if problems:
        raise _error("InvalidParametersException", "; ".join(problems))
    return values


def _check_tags(allowed: dict[str, list[str]], tags: list[dict[str, str]]) -> None:
    for tag in tags:
        values = allowed.get(tag["Key"])
        if values is not None and tag["Value"] not in values:
            raise _error(
                "InvalidParametersException",
                f"Tag {tag['Key']}={tag['Value']} is not allowed by the portfolio's TagOptions: {', '.join(values)}",
            )


def _as_launch_role(catalog: _Catalog, role_arn: str, service: str) -> Any:
    """A client of the emulator with the launch role's credentials, as Service Catalog uses it."""
    endpoint = f"http://{catalog.response.headers['Host']}"
    if iam.current_log() is not None:  # IAM enforced: the service opens the launch role's session (trust checked)
        session = iam.credentials_for_role(
            role_arn,
            account=catalog.response.current_account,
            service="servicecatalog.amazonaws.com",
            session_name="ServiceCatalogLaunch",
            caller="Service Catalog launch",
        )
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=catalog.response.region,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
        )
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name=catalog.response.region,
        aws_access_key_id="servicecatalog",
        aws_secret_access_key="servicecatalog",
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="ServiceCatalogLaunch")["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=catalog.response.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _finish(record: Record, cloudformation: Any, *, deleting: bool) -> None:
    """Wait for the stack (moto creates synchronously, but its status may lag) and settle the record."""
    deadline = time.monotonic() + STACK_WAIT_S
    while True:
        try:
            stack = cloudformation.describe_stacks(StackName=record.provisioned.stack_arn)["Stacks"][0]
        except ClientError:
            if deleting:  # a deleted stack is gone from DescribeStacks
                record.status, record.provisioned.status = "SUCCEEDED", "TERMINATED"
                return
            raise
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            record.status = "SUCCEEDED"
            record.provisioned.status = "TERMINATED" if deleting else "AVAILABLE"
            record.outputs = [
                {
                    "OutputKey": o["OutputKey"],
                    "OutputValue": o.get("OutputValue", ""),
                    "Description": o.get("Description", ""),
                }
                for o in stack.get("Outputs", [])
            ]
            return
        if status.endswith(("FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
            record.status, record.provisioned.status = "FAILED", "ERROR"
            record.errors = [{"Code": status, "Description": stack.get("StackStatusReason", "")}]
            return
        time.sleep(0.2)


def provision_product(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    params = catalog.params
    product_id = params["ProductId"]
    path_id = params.get("PathId")
    with catalog.state.lock:
        holders = [p for p, prod in catalog.state.portfolio_products if prod == product_id]
        if not path_id or path_id not in holders or not _associated(catalog.state, path_id, catalog.caller):
            raise _error(
                "AccessDeniedException",
                f"{catalog.caller} is not associated with a portfolio holding product {product_id}",
            )
        product = catalog.visible_product(product_id=product_id)
        version = catalog.artifact(
            product.id, params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName")
        )
        if not version.active:
            raise _error("InvalidParametersException", f"version {version.name} is not active")
        name = params["ProvisionedProductName"]
        if any(p.name == name and p.status != "TERMINATED" for p in catalog.state.provisioned.values()):
            raise _error("DuplicateResourceException", f"a provisioned product named {name} already exists")
        values = _check_parameters(
            version.template, {p["Key"]: p["Value"] for p in params.get("ProvisioningParameters", [])}
        )
        tags = list(params.get("Tags", []))
        _check_tags(catalog.tag_options(path_id, product.id), tags)
        role = catalog.state.launch_roles.get((path_id, product.id))
        if role is None:
            raise _error(
                "InvalidParametersException", f"no launch constraint for product {product.id} in portfolio {path_id}"
            )
        provisioned_id = _short_id("pp")
        stack_name = f"SC-{catalog.response.current_account}-{provisioned_id}"
    cloudformation = _as_launch_role(catalog, role, "cloudformation")
    record_id = _short_id("rec")
    try:
        created = cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(version.template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            Tags=tags,
        )
        failure = None
    except (ClientError, BotoCoreError) as error:  # moto fails the create in the call, AWS in the stack events
        created, failure = {"StackId": stack_name}, str(error)
    provisioned = ProvisionedProduct(
        provisioned_id, name, product.id, version.id, path_id, created["StackId"], "UNDER_CHANGE", record_id, tags
    )
    record = Record(record_id, "PROVISION_PRODUCT", provisioned, "IN_PROGRESS")
    with catalog.state.lock:
        catalog.state.provisioned[provisioned_id] = provisioned
        catalog.state.records[record_id] = record
    if failure is not None:
        record.status, provisioned.status = "FAILED", "ERROR"
        record.errors = [{"Code": "CREATE_FAILED", "Description": failure}]
    else:
        _finish(record, cloudformation, deleting=False)
    return _result({"RecordDetail": _record_view(record)})


def terminate_provisioned_product(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    provisioned = catalog.provisioned()
    if not _associated(catalog.state, provisioned.path_id, catalog.caller):
        raise _error("AccessDeniedException", f"{catalog.caller} may not terminate {provisioned.name}")
    role = catalog.state.launch_roles[(provisioned.path_id, provisioned.product_id)]
    cloudformation = _as_launch_role(catalog, role, "cloudformation")
    cloudformation.delete_stack(StackName=provisioned.stack_arn)
    record = Record(_short_id("rec"), "TERMINATE_PROVISIONED_PRODUCT", provisioned, "IN_PROGRESS")
    provisioned.last_record_id = record.id
    with catalog.state.lock:
        catalog.state.records[record.id] = record
    _finish(record, cloudformation, deleting=True)
    return _result({"RecordDetail": _record_view(record)})


def _record_view(record: Record) -> dict[str, Any]:
    p = record.provisioned
    return {
        "RecordId": record.id,
        "ProvisionedProductName": p.name,
        "Status": record.status,
        "CreatedTime": record.created,
        "UpdatedTime": utcnow(),
        "ProvisionedProductType": "CFN_STACK",
        "RecordType": record.record_type,
        "ProvisionedProductId": p.id,
        "ProductId": p.product_id,
        "ProvisioningArtifactId": p.artifact_id,
        "PathId": p.path_id,
        "RecordErrors": record.errors,
        "RecordTags": p.tags,
    }


def describe_record(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    record = catalog.state.records.get(catalog.params["Id"])
    if record is None:
        raise _error("ResourceNotFoundException", f"Record {catalog.params['Id']} not found")
    return _result({"RecordDetail": _record_view(record), "RecordOutputs": record.outputs})


def _provisioned_view(p: ProvisionedProduct) -> dict[str, Any]:
    return {
        "Name": p.name,
        "Arn": f"arn:{PARTITION}:servicecatalog:::stack/{p.name}/{p.id}",
        "Type": "CFN_STACK",
        "Id": p.id,
        "Status": p.status,
        "CreatedTime": p.created,
        "LastRecordId": p.last_record_id,
        "PhysicalId": p.stack_arn,
        "ProductId": p.product_id,
        "ProvisioningArtifactId": p.artifact_id,
        "Tags": p.tags,
    }


def search_provisioned_products(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    queries = catalog.params.get("Filters", {}).get("SearchQuery", [])
    found = []
    for item in catalog.state.provisioned.values():
        if item.status == "TERMINATED" or not _associated(catalog.state, item.path_id, catalog.caller):
            continue
        if all(q in (f"id:{item.id}", f"name:{item.name}", item.name, item.id) for q in queries):
            found.append(_provisioned_view(item))
    return _result({"ProvisionedProducts": found, "TotalResultsCount": len(found)})


def get_provisioned_product_outputs(self: ServiceCatalogResponse) -> Any:
    catalog = _Catalog(self)
    provisioned = catalog.provisioned()
    record = catalog.state.records[provisioned.last_record_id]
    return _result({"Outputs": record.outputs})


def _result(body: dict[str, Any]) -> str:
    return json.dumps(body, default=lambda value: value.timestamp() if hasattr(value, "timestamp") else str(value))


OPERATIONS = {
    "describe_product": describe_product,
    "list_launch_paths": list_launch_paths,
    "describe_provisioning_parameters": describe_provisioning_parameters,
    "provision_product": provision_product,
    "terminate_provisioned_product": terminate_provisioned_product,
    "describe_record": describe_record,
    "search_provisioned_products": search_provisioned_products,
    "get_provisioned_product_outputs": get_provisioned_product_outputs,
}


def install() -> None:
    """Add (or replace, for DescribeProduct) the operations on moto's Service Catalog responses."""
    for name, operation in OPERATIONS.items():
        setattr(ServiceCatalogResponse, name, operation)
