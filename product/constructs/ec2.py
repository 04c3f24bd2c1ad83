"""EC2: the VPC over two availability zones, with flow logs, for the reconciliation fleet."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames


class PaymentNetwork(Construct):
    """Public subnets hold only the NAT gateways; instances live in private subnets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        nat_gateways: int,
        flow_log_group: logs.ILogGroup,
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
