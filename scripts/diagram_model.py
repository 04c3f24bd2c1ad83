"""Diagram models (nodes, clusters, edges) derived from a synthesized cloud assembly.

Two models, each a plain JSON-able dict whose text form is committed under `docs/architecture/`:

- `product_model`: the payment product as synthesized for the prod stage (the stack whose description is
  `Payment Processing Infrastructure Stack (prod)`). One node per primary resource (table, function,
  queue, ...); plumbing (roles, policies, permissions, subnets, routes, stage, association, ...) folds into
  the primary resource whose construct path it shares (the assembly's `aws:cdk:logicalId` metadata maps
  each logical id to its path in the construct tree), and edges come from the template's references
  (integrations, IAM grants, event rules, event source mappings, redrive, alarm actions, ...).
- `delivery_model` (`scripts/diagram_delivery.py`): the stages and actions of the `AWS::CodePipeline::Pipeline`
  in the assembly.

Nothing here needs Graphviz: `scripts/diagram.py` renders the models, and the unit test
`tests/unit/test_docs_diagrams.py` rebuilds them from the session's assembly to detect stale pictures.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rehearsal.assembly import logical_id_paths, stack_templates
from scripts.diagram_assembly import Model, Template, references, render
from scripts.diagram_delivery import delivery_model

PRODUCT_ENVIRONMENT = "prod"
PRODUCT_STACK_DESCRIPTION = "Payment Processing Infrastructure Stack ({})"
ENV_PLACEHOLDER = "<env>"
REGENERATE_HINT = "make diagram"

# Concern clusters of the product picture, in drawing order.
CLUSTERS: tuple[tuple[str, str], ...] = (
    ("entry", "Entry: edge protection and API"),
    ("processing", "Processing"),
    ("data", "Data"),
    ("events", "Events and queues"),
    ("observability", "Monitoring, logs and tracing"),
    ("alerting", "Alert topics (SNS, KMS-encrypted)"),
    ("security", "Keys, identity and threat detection"),
    ("cost", "Cost anomaly detection"),
    ("network", "Network and reconciliation fleet"),
    ("other", "Other resources"),
)

# Resource types drawn as a node: type -> (cluster, service label). "aggregate" types collapse into one
# node per stack (all alarms, all log groups, all roles). Everything in PLUMBING folds into its owner.
PRIMARY: dict[str, tuple[str, str]] = {
    "AWS::CloudFront::Distribution": ("entry", "CloudFront distribution"),
    "AWS::Shield::Protection": ("entry", "Shield Advanced protection"),
    "AWS::WAFv2::WebACL": ("entry", "WAF web ACL"),
    "AWS::ApiGateway::RestApi": ("entry", "API Gateway REST API"),
    "AWS::Lambda::Function": ("processing", "Lambda function"),
    "AWS::CodeDeploy::DeploymentGroup": ("processing", "CodeDeploy deployment group"),
    "AWS::DynamoDB::Table": ("data", "DynamoDB table"),
    "AWS::S3::Bucket": ("data", "S3 bucket"),
    "AWS::Events::EventBus": ("events", "EventBridge bus"),
    "AWS::SQS::Queue": ("events", "SQS queue"),
    "AWS::CloudWatch::Alarm": ("observability", "CloudWatch alarms"),
    "AWS::CloudWatch::Dashboard": ("observability", "CloudWatch dashboard"),
    "AWS::Logs::LogGroup": ("observability", "CloudWatch Logs"),
    "AWS::XRay::Group": ("observability", "X-Ray"),
    "AWS::SNS::Topic": ("alerting", "SNS topic"),
    "AWS::KMS::Key": ("security", "KMS customer-managed key"),
    "AWS::IAM::Role": ("security", "IAM"),
    "AWS::GuardDuty::Detector": ("security", "GuardDuty detector"),
    "AWS::CE::AnomalyMonitor": ("cost", "Cost anomaly monitor"),
    "AWS::CE::AnomalySubscription": ("cost", "Cost anomaly subscription"),
    "AWS::EC2::VPC": ("network", "VPC"),
    "AWS::AutoScaling::AutoScalingGroup": ("network", "EC2 Auto Scaling group"),
}
AGGREGATED = {"AWS::CloudWatch::Alarm", "AWS::Logs::LogGroup", "AWS::IAM::Role"}
PLUMBING_PREFIXES = ("AWS::ApiGateway::", "AWS::EC2::", "AWS::CodeDeploy::")
PLUMBING = {
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::InstanceProfile",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Version",
    "AWS::Lambda::LayerVersion",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::KMS::Alias",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::XRay::SamplingRule",
    "AWS::Events::Rule",
}
IGNORED = {"AWS::CDK::Metadata"}
# Plumbing that belongs to the resource it names, wherever its construct sits (an alias is its function).
ATTACHED_BY = {"AWS::Lambda::Alias": "FunctionName", "AWS::Lambda::Version": "FunctionName"}

# Default-bus event sources the product routes, and the resource type that emits them when it is in the stack.
EVENT_SOURCES: dict[str, tuple[str, str, str]] = {
    # source -> (emitting resource type, external node label, cluster when external)
    "aws.guardduty": ("AWS::GuardDuty::Detector", "GuardDuty findings\n(the account's detector)", "security"),
    "aws.autoscaling": ("AWS::AutoScaling::AutoScalingGroup", "EC2 Auto Scaling events", "network"),
}

# Opt-in account singletons: (context flag, how to recognise it in a template, what it adds).
OPT_INS: tuple[tuple[str, str, str], ...] = (
    ("enableShieldProtection", "AWS::Shield::Protection", "CloudFront + Shield Advanced in front of the API"),
    ("createGuardDutyDetector", "AWS::GuardDuty::Detector", "the account's GuardDuty detector"),
    ("createAccountCostMonitor", "DIMENSIONAL", "the account-wide AWS-services cost monitor"),
)

_READ_VERBS = ("Get", "List", "Describe", "Query", "Scan", "Receive", "BatchGet", "ConditionCheck")
_WRITE_VERBS = ("Put", "Update", "Delete", "Send", "Abort", "BatchWrite", "Create", "ChangeMessageVisibility")


def product_stack(templates: Mapping[str, Template], environment: str = PRODUCT_ENVIRONMENT) -> tuple[str, Template]:
    """The stage stack of `environment` (by its description); a stack inside a stage wins over a direct one."""
    wanted = PRODUCT_STACK_DESCRIPTION.format(environment)
    matches = sorted(
        (name for name, template in templates.items() if template.get("Description") == wanted),
        key=lambda name: ("/" not in name, name),
    )
    if not matches:
        raise LookupError(f"no stack with description {wanted!r} in the assembly (stacks: {sorted(templates)})")
    return matches[0], templates[matches[0]]


def _generic(name: str, environment: str) -> str:
    """A physical name with the environment's suffix replaced by `<env>` (the picture is per environment)."""
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(environment)}(?![A-Za-z0-9])", ENV_PLACEHOLDER, name)


def _path(resource: Mapping[str, Any], logical_id: str, known: Mapping[str, str]) -> tuple[str, ...]:
    path = known.get(logical_id) or resource.get("Metadata", {}).get("aws:cdk:path") or logical_id
    return tuple(str(path).split("/"))


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def _is_plumbing(resource_type: str) -> bool:
    return resource_type in PLUMBING or (resource_type.startswith(PLUMBING_PREFIXES) and resource_type not in PRIMARY)


# ---------------------------------------------------------------------------------------- product model


class _Product:
    """Folds a template into nodes and edges."""

    def __init__(self, stack_name: str, template: Template, environment: str, paths: Mapping[str, str]) -> None:
        self.stack_name = stack_name
        self.environment = environment
        self.resources: dict[str, dict[str, Any]] = dict(template.get("Resources", {}))
        self.refs: dict[str, list[tuple[tuple, str]]] = {
            lid: sorted(set(references(res.get("Properties", {}), self.resources)))
            for lid, res in self.resources.items()
        }
        self.paths = {lid: _path(res, lid, paths) for lid, res in self.resources.items()}
        self.root_depth = self._root_depth()
        self.node_of: dict[str, str] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str], dict[str, Any]] = {}
        self.fed_by: dict[str, tuple[str, list[str]]] = {}
        self._assign_primary()
        self._assign_plumbing()

    def type_of(self, lid: str) -> str:
        return str(self.resources[lid]["Type"])

    def props(self, lid: str) -> dict[str, Any]:
        return dict(self.resources[lid].get("Properties", {}))

    def name(self, value: Any) -> str:
        return _generic(render(value), self.environment)

    def _root_depth(self) -> int:
        """Depth of the product construct (PaymentService) in the construct paths: the common prefix."""
        paths = [p for lid, p in self.paths.items() if self.type_of(lid) not in IGNORED]
        prefix = len(paths[0]) if paths else 0
        for path in paths[1:]:
            prefix = min(prefix, _common_prefix(paths[0], path))
        return prefix

    def _relative(self, lid: str) -> str:
        path = self.paths[lid][self.root_depth :]
        while path and path[-1] in ("Resource", "Default"):
            path = path[:-1]
        return "/".join(path) or lid

    # nodes

    def _assign_primary(self) -> None:
        for lid in sorted(self.resources):
            resource_type = self.type_of(lid)
            if resource_type in IGNORED or _is_plumbing(resource_type):
                continue
            cluster, service = PRIMARY.get(resource_type, ("other", resource_type))
            node_id = f"*{resource_type}" if resource_type in AGGREGATED else self._relative(lid)
            node = self.nodes.setdefault(
                node_id, {"id": node_id, "type": resource_type, "cluster": cluster, "service": service, "members": []}
            )
            node["members"].append(lid)
            self.node_of[lid] = node_id

    def _assign_plumbing(self) -> None:
        """Each plumbing resource joins the primary one sharing most of its construct path (same concern),
        ties broken by the shortest reference distance; unrelated plumbing (e.g. the API account) is left out."""
        adjacency: dict[str, set[str]] = defaultdict(set)
        for lid, refs in self.refs.items():
            for _, target in refs:
                adjacency[lid].add(target)
                adjacency[target].add(lid)
        primaries = sorted(lid for lid in self.node_of if self.type_of(lid) not in AGGREGATED)
        for lid in sorted(self.resources):
            if lid in self.node_of or self.type_of(lid) in IGNORED:
                continue
            attached_to = ATTACHED_BY.get(self.type_of(lid))
            target = self.first_ref(lid, attached_to) if attached_to else None
            if target in self.node_of:
                self.node_of[lid] = self.node_of[target]
                continue
            scored = [(_common_prefix(self.paths[lid], self.paths[p]), p) for p in primaries]
            best = max((score for score, _ in scored), default=0)
            if best <= self.root_depth:  # shares no concern construct with any primary resource
                continue
            tied = [p for score, p in scored if score == best]
            distance = self._distances(lid, adjacency, set(primaries))
            owner = min(tied, key=lambda p: (distance.get(p, len(self.resources)), p))
            self.node_of[lid] = self.node_of[owner]

    @staticmethod
    def _distances(start: str, adjacency: Mapping[str, set[str]], terminals: set[str]) -> dict[str, int]:
        """Reference distance from `start`, never passing through a primary resource (a policy that names a
        table belongs to the function whose role it is attached to, not to another function using the table)."""
        seen = {start: 0}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if current in terminals and current != start:
                continue
            for neighbour in sorted(adjacency.get(current, ())):
                if neighbour not in seen:
                    seen[neighbour] = seen[current] + 1
                    queue.append(neighbour)
        return seen

    # edges

    def edge(self, source: str | None, target: str | None, label: str, style: str = "solid", rank: int = 1) -> None:
        """Keep one edge per pair of nodes (either direction): the most specific rule wins, labels merge."""
        if source is None or target is None or source == target:
            return
        key = (source, target) if (target, source) not in self.edges else (target, source)
        existing = self.edges.get(key)
        if existing is None or rank > existing["rank"]:
            self.edges[key] = {
                "from": source,
                "to": target,
                "labels": [label] if label else [],
                "style": style,
                "rank": rank,
            }
        elif rank == existing["rank"] and label and label not in existing["labels"]:
            existing["labels"].append(label)

    def external(self, node_id: str, label: str, cluster: str, kind: str) -> str:
        self.nodes.setdefault(
            node_id,
            {"id": node_id, "type": kind, "cluster": cluster, "service": label, "members": [], "external": True},
        )
        return node_id

    def owner(self, lid: str | None) -> str | None:
        return self.node_of.get(lid) if lid else None

    def first_ref(self, lid: str, *path_start: str) -> str | None:
        for path, target in self.refs[lid]:
            if path[: len(path_start)] == path_start:
                return target
        return None

    def derive_edges(self) -> None:
        for lid in sorted(self.resources):
            rule = EDGE_RULES.get(self.type_of(lid))
            if rule is not None:
                rule(self, lid)
        self._logging_edges()
        self._tracing_edges()
        self._generic_edges()
        self._client_edges()

    def _logging_edges(self) -> None:
        """Who writes to the log groups (anything but an IAM policy naming one): a line on the logs node rather
        than an edge from every producer, which would cross the whole picture."""
        writers = []
        for lid in sorted(self.resources):
            if not self.type_of(lid).startswith("AWS::IAM::") and any(
                self.type_of(t) == "AWS::Logs::LogGroup" for _, t in self.refs[lid]
            ):
                writers.append(lid)
        self.fed_by["AWS::Logs::LogGroup"] = ("written by", writers)

    def _tracing_edges(self) -> None:
        """What sends traces to X-Ray (active tracing on functions, tracing on the API stage), as a line."""
        traced = []
        for lid in sorted(self.resources):
            props = self.props(lid)
            function = self.type_of(lid) == "AWS::Lambda::Function"
            if (function and props.get("TracingConfig", {}).get("Mode") == "Active") or (
                self.type_of(lid) == "AWS::ApiGateway::Stage" and props.get("TracingEnabled")
            ):
                traced.append(lid)
        self.fed_by["AWS::XRay::Group"] = ("traces from", traced)

    def fed_by_line(self, kind: str) -> list[str]:
        verb, sources = self.fed_by.get(kind, ("", []))
        counts: dict[str, int] = defaultdict(int)
        for lid in sources:
            counts[_SHORT.get(self.type_of(lid), self.type_of(lid).split("::")[-1])] += 1
        if not counts:
            return []
        parts = [f"{n} {name}s" if n > 1 else name for name, n in sorted(counts.items())]
        return [f"{verb} {', '.join(parts)}"]

    def _generic_edges(self) -> None:
        """Remaining references between primary resources (e.g. a dashboard showing the alarms)."""
        for lid in sorted(self.resources):
            if self.type_of(lid) not in PRIMARY or self.type_of(lid) in ("AWS::CloudWatch::Alarm", "AWS::XRay::Group"):
                continue
            for _, target in self.refs[lid]:
                if self.type_of(target) in ("AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::IAM::Role"):
                    continue
                if self.type_of(lid) == "AWS::Lambda::Function":
                    continue  # environment variables: the IAM grants say what the function does with them
                dashboard = self.type_of(lid) == "AWS::CloudWatch::Dashboard"
                if dashboard and self.type_of(target) != "AWS::CloudWatch::Alarm":
                    continue  # its graphs name every watched resource; the alarm status widget is what matters
                self.edge(self.owner(lid), self.owner(target), "", style="dotted", rank=1)

    def _client_edges(self) -> None:
        apis = [n for n in sorted(self.nodes) if self.nodes[n]["type"] == "AWS::ApiGateway::RestApi"]
        if not apis:
            return
        methods = [lid for lid in self.resources if self.type_of(lid) == "AWS::ApiGateway::Method"]
        auth = sorted({str(self.props(m).get("AuthorizationType", "NONE")) for m in methods})
        label = "API callers\n" + ("(IAM SigV4)" if auth == ["AWS_IAM"] else f"({', '.join(auth)})")
        clients = self.external("clients", label, "", "external:clients")
        entry = [n for n in sorted(self.nodes) if self.nodes[n]["type"] == "AWS::CloudFront::Distribution"]
        if not entry:
            entry = [
                e["from"]
                for e in self.edges.values()
                if e["to"] in apis and self.nodes[e["from"]]["type"] == "AWS::WAFv2::WebACL"
            ]
        for target in entry or apis[:1]:
            self.edge(clients, target, "HTTPS", rank=3)

    # labels

    def describe(self) -> None:
        for node in self.nodes.values():
            node["name"], node["details"] = self._label(node)

    def _label(self, node: Mapping[str, Any]) -> tuple[str, list[str]]:
        """(name, detail lines) of a node, by its resource type; unknown types show their construct path."""
        members = node["members"]
        if not members:
            return "", []
        label = LABELS.get(node["type"])
        if label is not None:
            return label(self, members)
        props = self.props(members[0])
        for key in ("TopicName", "DashboardName", "EventBusName", "Name"):
            if isinstance(props.get(key), str):
                return self.name(props[key]), []
        return self._relative(members[0]), []

    def model(self) -> Model:
        self.derive_edges()
        self.describe()
        used_clusters = {n["cluster"] for n in self.nodes.values()}
        present = {self.type_of(lid) for lid in self.resources}
        monitor_types = {
            str(self.props(lid).get("MonitorType"))
            for lid in self.resources
            if self.type_of(lid) == "AWS::CE::AnomalyMonitor"
        }
        off = [(flag, what) for flag, marker, what in OPT_INS if marker not in present | monitor_types]
        caption = f"Payment product as synthesized for {self.stack_name} (generated from its template by make diagram)"
        if off:
            caption += ". Opt-in, off here: " + "; ".join(f"{what} ({flag})" for flag, what in off)
        return {
            "title": "Payment product",
            "caption": caption,
            "source": {"kind": "template", "stack": self.stack_name},
            "clusters": [{"id": c, "label": label} for c, label in CLUSTERS if c in used_clusters],
            "nodes": [
                {k: v for k, v in node.items() if k not in ("members",)} | {"resources": len(node["members"])}
                for _, node in sorted(self.nodes.items())
            ],
            "edges": sorted(
                (
                    {"from": e["from"], "to": e["to"], "label": "\n".join(e["labels"]), "style": e["style"]}
                    for e in self.edges.values()
                ),
                key=lambda e: (e["from"], e["to"]),
            ),
        }


# ------------------------------------------------------------------------------ edges, by resource type


def _api_method_edges(product: _Product, lid: str) -> None:
    function = product.first_ref(lid, "Integration", "Uri")
    if function is None:
        return
    props = product.props(lid)
    product.edge(
        product.owner(lid), product.owner(function), f"{props.get('HttpMethod', '')} {_api_path(product, lid)}", rank=3
    )


def _api_path(product: _Product, method: str) -> str:
    parts: list[str] = []
    resource = product.first_ref(method, "ResourceId")
    while resource is not None and product.type_of(resource) == "AWS::ApiGateway::Resource":
        parts.insert(0, str(product.props(resource).get("PathPart", "")))
        resource = product.first_ref(resource, "ParentId")
    return "/" + "/".join(parts)


def _event_source_mapping_edges(product: _Product, lid: str) -> None:
    batch = product.props(lid).get("BatchSize")
    label = f"event source mapping{f', batches of {batch}' if batch else ''}"
    product.edge(
        product.owner(product.first_ref(lid, "EventSourceArn")),
        product.owner(product.first_ref(lid, "FunctionName")),
        label,
        rank=3,
    )


def _queue_redrive_edges(product: _Product, lid: str) -> None:
    redrive = product.props(lid).get("RedrivePolicy")
    target = product.first_ref(lid, "RedrivePolicy")
    if isinstance(redrive, dict) and target:
        product.edge(
            product.owner(lid),
            product.owner(target),
            f"after {redrive.get('maxReceiveCount')} receives",
            style="dashed",
            rank=3,
        )


def _event_rule_edges(product: _Product, lid: str) -> None:
    props = product.props(lid)
    pattern = props.get("EventPattern", {})
    label = _merge_phrases([str(t) for t in pattern.get("detail-type", [])]) or str(props.get("Name", ""))
    bus = product.first_ref(lid, "EventBusName")
    sources: list[str | None] = []
    if bus is not None:
        sources.append(product.owner(bus))
    else:
        for source in pattern.get("source", []):
            sources.append(_event_source(product, str(source)))
    for path, target in product.refs[lid]:
        if path[:1] == ("Targets",) and path[-1:] == ("Arn",):
            for source_node in sources:
                product.edge(source_node, product.owner(target), label, rank=3)


def _event_source(product: _Product, source: str) -> str:
    emitter_type, label, cluster = EVENT_SOURCES.get(source, ("", f"{source} events\n(default event bus)", "other"))
    emitters = sorted({product.node_of[lid] for lid in product.node_of if product.type_of(lid) == emitter_type})
    if emitters:
        return emitters[0]
    return product.external(f"events:{source}", label, cluster, f"external:{source}")


def _grant_edges(product: _Product, lid: str) -> None:
    statements = product.props(lid).get("PolicyDocument", {}).get("Statement", [])
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        for _, target in references(statement.get("Resource", []), product.resources):
            if product.type_of(target) in ("AWS::KMS::Key", "AWS::Logs::LogGroup"):
                continue  # the key and the log groups are summarised, not drawn as edges
            product.edge(product.owner(lid), product.owner(target), _access(actions), rank=2)


def _web_acl_association_edges(product: _Product, lid: str) -> None:
    product.edge(
        product.owner(product.first_ref(lid, "WebACLArn")),
        product.owner(product.first_ref(lid, "ResourceArn")),
        "inspects every request",
        rank=3,
    )


def _alarm_action_edges(product: _Product, lid: str) -> None:
    for path, target in product.refs[lid]:
        if path[:1] in (("AlarmActions",), ("OKActions",), ("InsufficientDataActions",)):
            product.edge(product.owner(lid), product.owner(target), "alarm actions", rank=3)


def _anomaly_subscription_edges(product: _Product, lid: str) -> None:
    props = product.props(lid)
    for path, target in product.refs[lid]:
        if path[:1] == ("MonitorArnList",):
            product.edge(product.owner(target), product.owner(lid), "anomalies", rank=3)
        if path[:1] == ("Subscribers",):
            product.edge(product.owner(lid), product.owner(target), str(props.get("Frequency", "")).lower(), rank=3)


def _bucket_access_log_edges(product: _Product, lid: str) -> None:
    target = product.first_ref(lid, "LoggingConfiguration")
    if target:
        product.edge(product.owner(lid), product.owner(target), "server access logs", style="dashed", rank=3)


def _auto_scaling_group_edges(product: _Product, lid: str) -> None:
    subnets = [t for p, t in product.refs[lid] if p[:1] == ("VPCZoneIdentifier",)]
    kinds = sorted({_subnet_kind(product.resources[s]) for s in subnets})
    for subnet in subnets[:1]:
        product.edge(product.owner(lid), product.owner(subnet), f"runs in {'/'.join(kinds)} subnets", rank=3)


def _rollback_edges(product: _Product, lid: str) -> None:
    for path, target in product.refs[lid]:
        if path[:1] == ("AlarmConfiguration",) and product.type_of(target) == "AWS::CloudWatch::Alarm":
            product.edge(product.owner(target), product.owner(lid), "roll back", style="dashed", rank=3)


def _alias_shift_edges(product: _Product, lid: str) -> None:
    """An alias whose update policy hands version changes to a CodeDeploy deployment group."""
    update = product.resources[lid].get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
    for _, group in references(update, product.resources):
        if product.type_of(group) == "AWS::CodeDeploy::DeploymentGroup":
            product.edge(
                product.owner(group), product.owner(lid), f"shifts alias {product.props(lid).get('Name', '')}", rank=3
            )


def _distribution_origin_edges(product: _Product, lid: str) -> None:
    origin = product.first_ref(lid, "DistributionConfig", "Origins")
    product.edge(product.owner(lid), product.owner(origin), "origin (HTTPS)", rank=3)


def _shield_protection_edges(product: _Product, lid: str) -> None:
    product.edge(
        product.owner(lid), product.owner(product.first_ref(lid, "ResourceArn")), "protects", style="dashed", rank=3
    )


# What each resource type adds to the picture's edges (called once per resource of that type); the edges
# every type shares (logging, tracing, generic references, callers) are `_Product`'s own methods.
EDGE_RULES: dict[str, Callable[[_Product, str], None]] = {
    "AWS::ApiGateway::Method": _api_method_edges,
    "AWS::Lambda::EventSourceMapping": _event_source_mapping_edges,
    "AWS::SQS::Queue": _queue_redrive_edges,
    "AWS::Events::Rule": _event_rule_edges,
    "AWS::IAM::Policy": _grant_edges,
    "AWS::WAFv2::WebACLAssociation": _web_acl_association_edges,
    "AWS::CloudWatch::Alarm": _alarm_action_edges,
    "AWS::CE::AnomalySubscription": _anomaly_subscription_edges,
    "AWS::S3::Bucket": _bucket_access_log_edges,
    "AWS::AutoScaling::AutoScalingGroup": _auto_scaling_group_edges,
    "AWS::CodeDeploy::DeploymentGroup": _rollback_edges,
    "AWS::Lambda::Alias": _alias_shift_edges,
    "AWS::CloudFront::Distribution": _distribution_origin_edges,
    "AWS::Shield::Protection": _shield_protection_edges,
}


# ----------------------------------------------------------------------------- labels, by resource type


def _alarms_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    prefix = f"payment-{ENV_PLACEHOLDER}-"
    names = sorted(product.name(product.props(m).get("AlarmName", m)) for m in members)
    return f"{len(members)} alarms {prefix}<what>", [n.removeprefix(prefix) for n in names]


def _log_groups_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    retention = sorted({str(product.props(m).get("RetentionInDays", "never expire")) for m in members})
    details = [f"retention {', '.join(retention)} days, KMS", *product.fed_by_line("AWS::Logs::LogGroup")]
    return f"{len(members)} log groups", details


def _roles_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    policies = sum(1 for r in product.resources.values() if r["Type"] == "AWS::IAM::Policy")
    return f"{len(members)} roles", [f"{policies} grant policies, no * on data"]


def _rest_api_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    stages = [product.props(s) for s in product.resources if product.type_of(s) == "AWS::ApiGateway::Stage"]
    endpoint = ",".join(props.get("EndpointConfiguration", {}).get("Types", []))
    details = [f"{endpoint.lower()} endpoint"] if endpoint else []
    details += [f"stage {product.name(s.get('StageName', ''))}" for s in stages]
    return product.name(props.get("Name", members[0])), details


def _function_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    sizing = f"{props.get('Runtime', '')}, {props.get('MemorySize', 128)} MB, {props.get('Timeout', 3)} s"
    return product.name(props.get("FunctionName", members[0])), [sizing]


def _table_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    features = {
        "on-demand": props.get("BillingMode") == "PAY_PER_REQUEST",
        "PITR": props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"),
        "TTL": props.get("TimeToLiveSpecification", {}).get("Enabled"),
        "deletion protection": props.get("DeletionProtectionEnabled"),
    }
    return product.name(props.get("TableName", members[0])), [", ".join(f for f, on in features.items() if on)]


def _bucket_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    details = ["versioned"] if props.get("VersioningConfiguration", {}).get("Status") == "Enabled" else []
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    days = sorted({r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r})
    if days:
        details.append(f"expires after {', '.join(map(str, days))} d")
    return product.name(props.get("BucketName", members[0])), [", ".join(details)]


def _queue_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    name = product.name(props.get("QueueName", members[0]))
    if "VisibilityTimeout" in props:
        return name, [f"visibility {props['VisibilityTimeout']} s"]
    retention = props.get("MessageRetentionPeriod")
    return name, [f"kept {int(retention) // 86400} d"] if retention else []


def _web_acl_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    statements = [rule.get("Statement", {}) for rule in props.get("Rules", [])]
    details = [
        f"rate limit {s['RateBasedStatement'].get('Limit')} / 5 min / IP"
        for s in statements
        if "RateBasedStatement" in s
    ]
    details.append(f"{sum(1 for s in statements if 'ManagedRuleGroupStatement' in s)} AWS managed rule groups")
    return product.name(props.get("Name", "")), details


def _key_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    key = members[0]
    users = {r for r, refs in product.refs.items() if any(t == key for _, t in refs)}
    services = sorted(
        {
            product.type_of(r).split("::")[1]
            for r in users
            if not product.type_of(r).startswith(("AWS::IAM::", "AWS::KMS::"))
        }
    )
    aliases = [
        product.name(product.props(a).get("AliasName", ""))
        for a in sorted(users)
        if product.type_of(a) == "AWS::KMS::Alias"
    ]
    rotation = "rotation on" if product.props(key).get("EnableKeyRotation") else "rotation OFF"
    return ", ".join(aliases), [rotation, "used by " + ", ".join(services)]


def _anomaly_monitor_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    spec = props.get("MonitorSpecification")
    details = [str(props.get("MonitorType", ""))]
    if isinstance(spec, str) and "Tags" in spec:
        tags = json.loads(spec)["Tags"]
        details = [f"CUSTOM: tag {tags['Key']} = {product.name(','.join(tags['Values']))}"]
    elif props.get("MonitorDimension"):
        details = [f"{props['MonitorType']} {props['MonitorDimension']} (account-wide)"]
    return product.name(props.get("MonitorName", members[0])), details


def _anomaly_subscription_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    values = re.findall(r'"Values"\s*:\s*\[\s*"([^"]+)"', str(props.get("ThresholdExpression", "")))
    frequency = str(props.get("Frequency", ""))
    details = [f"{frequency}, impact >= {values[0]} USD" if values else frequency]
    return product.name(props.get("SubscriptionName", members[0])), details


def _vpc_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    """Subnets, zones and NAT gateways of this VPC (what names it), flow logs on it."""
    inside = [r for r, refs in sorted(product.refs.items()) if any(t == members[0] for _, t in refs)]
    subnets = [product.resources[r] for r in inside if product.type_of(r) == "AWS::EC2::Subnet"]
    subnet_ids = {r for r in inside if product.type_of(r) == "AWS::EC2::Subnet"}
    zones = {json.dumps(s["Properties"].get("AvailabilityZone")) for s in subnets}
    kinds: dict[str, int] = defaultdict(int)
    for subnet in subnets:
        kinds[_subnet_kind(subnet)] += 1
    nat = sum(
        1
        for r, refs in product.refs.items()
        if product.type_of(r) == "AWS::EC2::NatGateway" and any(t in subnet_ids for _, t in refs)
    )
    flow = any(product.type_of(r) == "AWS::EC2::FlowLog" for r in inside)
    gateways = f"{nat} NAT gateway{'s' if nat != 1 else ''}" + (", flow logs" if flow else "")
    return f"{len(zones)} AZs", [", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + " subnets", gateways]


def _auto_scaling_group_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    template = product.first_ref(members[0], "LaunchTemplate")
    data = product.props(template).get("LaunchTemplateData", {}) if template else {}
    imds = "IMDSv2" if data.get("MetadataOptions", {}).get("HttpTokens") == "required" else ""
    return product.name(props.get("AutoScalingGroupName", members[0])), [
        f"min {props.get('MinSize')} / desired {props.get('DesiredCapacity')} / max {props.get('MaxSize')}",
        ", ".join(x for x in (str(data.get("InstanceType", "")), imds, "launch template") if x),
    ]


def _xray_group_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    rules = [
        product.props(r).get("SamplingRule", {})
        for r in product.resources
        if product.type_of(r) == "AWS::XRay::SamplingRule"
    ]
    details = [f"sampling {float(r.get('FixedRate', 0)) * 100:g}%" for r in rules]
    return product.name(product.props(members[0]).get("GroupName", "")), details + product.fed_by_line(
        "AWS::XRay::Group"
    )


def _deployment_group_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    config = render(props.get("DeploymentConfigName", "")).removeprefix("CodeDeployDefault.")
    events = props.get("AutoRollbackConfiguration", {}).get("Events", [])
    rollback = ["auto rollback on alarm"] if "DEPLOYMENT_STOP_ON_ALARM" in events else []
    return product.name(props.get("DeploymentGroupName", members[0])), [product.name(config), *rollback]


def _detector_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    props = product.props(members[0])
    frequency = str(props.get("FindingPublishingFrequency", "")).lower().replace("_", " ")
    return "enabled" if props.get("Enable") else "disabled", [f"updates every {frequency}"] if frequency else []


def _distribution_label(product: _Product, members: list[str]) -> tuple[str, list[str]]:
    config = product.props(members[0]).get("DistributionConfig", {})
    behavior = config.get("DefaultCacheBehavior", {})
    return product.name(config.get("Comment", "")), [str(behavior.get("ViewerProtocolPolicy", "")).lower()]


# (name, detail lines) of a node of each resource type, from its member resources; other types are named by
# their physical name or construct path (`_Product._label`).
LABELS: dict[str, Callable[[_Product, list[str]], tuple[str, list[str]]]] = {
    "AWS::CloudWatch::Alarm": _alarms_label,
    "AWS::Logs::LogGroup": _log_groups_label,
    "AWS::IAM::Role": _roles_label,
    "AWS::ApiGateway::RestApi": _rest_api_label,
    "AWS::Lambda::Function": _function_label,
    "AWS::DynamoDB::Table": _table_label,
    "AWS::S3::Bucket": _bucket_label,
    "AWS::SQS::Queue": _queue_label,
    "AWS::WAFv2::WebACL": _web_acl_label,
    "AWS::KMS::Key": _key_label,
    "AWS::CE::AnomalyMonitor": _anomaly_monitor_label,
    "AWS::CE::AnomalySubscription": _anomaly_subscription_label,
    "AWS::EC2::VPC": _vpc_label,
    "AWS::AutoScaling::AutoScalingGroup": _auto_scaling_group_label,
    "AWS::XRay::Group": _xray_group_label,
    "AWS::CodeDeploy::DeploymentGroup": _deployment_group_label,
    "AWS::GuardDuty::Detector": _detector_label,
    "AWS::CloudFront::Distribution": _distribution_label,
}


_SHORT = {
    "AWS::ApiGateway::Stage": "API stage",
    "AWS::ApiGateway::RestApi": "API",
    "AWS::WAFv2::LoggingConfiguration": "WAF",
    "AWS::EC2::FlowLog": "VPC flow logs",
    "AWS::Lambda::Function": "function",
}


def _access(actions: Iterable[str]) -> str:
    verbs = {a.split(":", 1)[-1] for a in actions}
    read = any(v.startswith(_READ_VERBS) for v in verbs)
    write = any(v.startswith(_WRITE_VERBS) for v in verbs)
    if verbs == {"PutEvents"}:
        return "PutEvents"
    return "read/write" if read and write else "read" if read else "write" if write else ", ".join(sorted(verbs))


def _merge_phrases(phrases: Sequence[str]) -> str:
    """'EC2 Instance Launch Unsuccessful' + 'EC2 Instance Terminate Unsuccessful' ->
    'EC2 Instance Launch/Terminate Unsuccessful' (common leading and trailing words kept once)."""
    if len(phrases) < 2:
        return "".join(phrases)
    words = [p.split() for p in phrases]
    head = 0
    while all(len(w) > head + 1 and w[head] == words[0][head] for w in words):
        head += 1
    tail = 0
    while all(len(w) > head + tail + 1 and w[-1 - tail] == words[0][-1 - tail] for w in words):
        tail += 1
    middles = ["/".join(" ".join(w[head : len(w) - tail]) for w in words)]
    return " ".join(words[0][:head] + middles + (words[0][len(words[0]) - tail :] if tail else []))


def _subnet_kind(subnet: Mapping[str, Any]) -> str:
    tags = {t.get("Key"): t.get("Value") for t in subnet.get("Properties", {}).get("Tags", [])}
    return str(tags.get("aws-cdk:subnet-type", "unknown")).lower()


def product_model(
    templates: Mapping[str, Template],
    paths: Mapping[str, Mapping[str, str]] | None = None,
    environment: str = PRODUCT_ENVIRONMENT,
) -> Model:
    """The product picture's model, from the `environment` stage's template (and its construct paths)."""
    stack_name, template = product_stack(templates, environment)
    return _Product(stack_name, template, environment, (paths or {}).get(stack_name, {})).model()


def models(assembly: Path) -> dict[str, Model]:
    """Every model of a synthesized assembly, by the file stem it is committed and rendered under in
    `docs/architecture/`."""
    templates = stack_templates(assembly)
    return {
        "payment-product": product_model(templates, logical_id_paths(assembly)),
        "delivery-flow": delivery_model(templates),
    }
