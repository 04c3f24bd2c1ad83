"""EC2: the VPC over two availability zones, with flow logs, for the reconciliation fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from aws_cdk import Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.errors import ConfigurationError
from product.options import Switch, apply_switch, condition_of

_L1 = TypeVar("_L1")

# What `ec2.Vpc` names the children it makes per public subnet (NAT gateway, its EIP) and per private
# subnet (the default route). The L2 takes only a count of NAT gateways, so switching gateways one by one
# has to reach them; this construct owns the VPC, so it is the one place that does.
_NAT_GATEWAY_ID, _EIP_ID, _DEFAULT_ROUTE_ID = "NATGateway", "EIP", "DefaultRoute"


class PaymentNetwork(Construct):
    """Public subnets hold only the NAT gateways; instances live in private subnets.

    `nat_gateway_switches` maps NAT gateway numbers (2 and up) to switches: a gateway switched off by its
    condition leaves its zone routing through gateway 1.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        nat_gateways: int,
        flow_log_group: logs.ILogGroup,
        nat_gateway_switches: Mapping[int, Switch] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=ResourceNames(name_suffix).vpc,
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=nat_gateways,
            # True would add a custom-resource Lambda; default-SG rules are removed by the fleet's own SG use.
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
                ),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ],
            flow_logs={
                "AllTraffic": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self._switch_nat_gateways(min(nat_gateways, len(self.vpc.public_subnets)), nat_gateway_switches or {})
        acknowledge(
            self.vpc,
            (
                "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
                "nothing is placed in the default security group: the "
                "fleet has its own group; closing it needs CDK's custom-resource Lambda, a larger surface",
            ),
        )
        for subnet in self.vpc.public_subnets:
            acknowledge(
                subnet,
                (
                    "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW",
                    "public subnets hold only the NAT gateways, which "
                    "need the default route to the internet gateway; no instance runs in them",
                ),
            )
        for flow_log in (c for c in self.vpc.node.find_all() if isinstance(c, ec2.FlowLog)):
            acknowledge(
                flow_log,
                (
                    "PCI.DSS.321-IAMNoInlinePolicy",
                    "CDK's flow-log delivery role holds one inline policy scoped to its own log group",
                ),
            )

    def _switch_nat_gateways(self, built: int, switches: Mapping[int, Switch]) -> None:
        public, private = self.vpc.public_subnets, self.vpc.private_subnets
        unknown = sorted(number for number in switches if not 2 <= number <= built)
        if unknown:
            raise ConfigurationError(
                f"NAT gateway switches {unknown} name gateways this VPC does not have (it has {built}, one per "
                "zone at most); switch gateways 2.. of the count passed as nat_gateways"
            )
        first = _vpc_child(public[0], _NAT_GATEWAY_ID, ec2.CfnNatGateway)
        for number, switch in sorted(switches.items()):
            condition = condition_of(switch)
            if condition is None:
                continue
            subnet = public[number - 1]
            gateway = _vpc_child(subnet, _NAT_GATEWAY_ID, ec2.CfnNatGateway)
            apply_switch(condition, gateway, _vpc_child(subnet, _EIP_ID, ec2.CfnEIP))
            route = _vpc_child(private[number - 1], _DEFAULT_ROUTE_ID, ec2.CfnRoute)
            route.nat_gateway_id = Fn.condition_if(condition.logical_id, gateway.ref, first.ref).to_string()


def _vpc_child(subnet: IConstruct, child_id: str, l1_type: type[_L1]) -> _L1:
    child = subnet.node.find_child(child_id)
    if not isinstance(child, l1_type):
        raise TypeError(
            f"{subnet.node.path}/{child_id} is a {type(child).__name__}, not the {l1_type.__name__} ec2.Vpc used to "
            "make: the aws-cdk-lib upgrade changed how the VPC builds NAT gateways; update PaymentNetwork"
        )
    return child
