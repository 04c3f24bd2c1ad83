"""EC2 Auto Scaling: the reconciliation worker fleet, SSM-managed, in private subnets."""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.profiles import FleetCapacity


class ReconciliationFleet(Construct):
    """Launch template (IMDSv2, encrypted gp3, no public IP) and an Auto Scaling group sized per environment."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_suffix: str, vpc: ec2.IVpc, capacity: FleetCapacity
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Reconciliation fleet instances ({name_suffix})",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )
        acknowledge(
            self.role,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
                "AmazonSSMManagedInstanceCore is the AWS-maintained minimum for Session Manager and patching",
            ),
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Reconciliation fleet: no inbound, HTTPS out to AWS APIs",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs and SSM over TLS")
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            launch_template_name=ResourceNames(name_suffix).reconciliation_fleet,
            instance_type=ec2.InstanceType(capacity.instance_type),
            machine_image=ec2.MachineImage.latest_amazon_linux2023(),
            role=self.role,
            security_group=self.security_group,
            require_imdsv2=True,
            associate_public_ip_address=False,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        20, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3, delete_on_termination=True
                    ),
                )
            ],
        )
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=ResourceNames(name_suffix).reconciliation_fleet,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=self.launch_template,
            min_capacity=capacity.min,
            max_capacity=capacity.max,
            desired_capacity=capacity.desired,
        )
        acknowledge(
            self.group,
            (
                "Annotation::@aws-cdk/aws-autoscaling:desiredCapacitySet",
                "desired capacity is a per-environment knob: a deployment is meant to reset the fleet to it",
            ),
            (
                "AwsSolutions-AS3",
                "launch and terminate failures reach the operations topic through an "
                "EventBridge rule (aws.autoscaling), which can publish to the KMS-encrypted topic",
            ),
        )
