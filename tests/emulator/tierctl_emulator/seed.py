"""Create a whole workload fleet in one admin call, directly in moto's EC2 backend.

1,000 HTTP RunInstances calls would take far too long; one backend
run_instances(count=N) per tier takes ~2 ms per instance.
"""

from .ec2_realism import backend


def seed(body, guests):
    region = body.get("region", "us-west-2")
    ec2 = backend(region)
    vpc_id = subnet_id = None
    vpc = body.get("vpc", True)
    if vpc:
        if isinstance(vpc, str):
            vpc_id = vpc
            if vpc_id not in ec2.vpcs:
                _create_vpc_with_id(ec2, vpc_id)
            subnets = [s for s in ec2.describe_subnets() if s.vpc_id == vpc_id]
            if subnets:
                subnet_id = subnets[0].id
            else:
                subnet_id = ec2.create_subnet(vpc_id, "10.0.0.0/18",
                                              availability_zone=f"{region}a").id
        else:
            new_vpc = ec2.create_vpc("10.0.0.0/16")
            vpc_id = new_vpc.id
            # /18 leaves room for ~16k instances.
            subnet_id = ec2.create_subnet(vpc_id, "10.0.0.0/18",
                                          availability_zone=f"{region}a").id
    out_workloads = []
    for workload in body.get("workloads", []):
        wl_tag = workload["workloadTag"]
        tier_key = workload.get("tierTagKey", "Role")
        out_tiers = []
        for tier in workload.get("tiers", []):
            count = int(tier.get("count", 1))
            if count <= 0:
                out_tiers.append({"name": tier["name"], "instanceIds": []})
                continue
            tags = {wl_tag["key"]: wl_tag["value"], tier_key: tier["name"]}
            tags.update(tier.get("extraTags") or {})
            instance_type = tier.get("instanceType", "t2.micro")
            reservation = ec2.run_instances(
                tier.get("imageId", "ami-12c6146b"), count, None, [],
                instance_type=instance_type, is_instance_type_default=False,
                region_name=region, subnet_id=subnet_id,
                placement=f"{region}a" if subnet_id is None else None,
                tags={"instance": tags},
            )
            ids = []
            for n, inst in enumerate(reservation.instances, start=1):
                if "Name" not in tags:
                    inst.add_tag("Name", f"{tier['name']}-{n}")
                # Modern AMIs are ENA-enabled; tests turn these off or on per tier.
                inst.ena_support = bool(tier.get("enaSupport", True))
                inst.ebs_optimized = bool(tier.get("ebsOptimized", False))
                if tier.get("lifecycle") == "spot":
                    inst.instance_lifecycle = "spot"
                if tier.get("hibernation"):
                    inst.hibernation_options = {"Configured": True}
                if tier.get("state", "running") == "stopped":
                    inst.stop()  # instantly, no transition
                guests.put_guest(inst.id, tier.get("guest") or {})
                ids.append(inst.id)
            out_tiers.append({"name": tier["name"], "instanceIds": ids})
        out_workloads.append({"tiers": out_tiers})
    return {"vpcId": vpc_id, "subnetId": subnet_id, "workloads": out_workloads}


def _create_vpc_with_id(ec2, vpc_id):
    """A VPC with a chosen id, so that example specs' `vpcId` finds the fleet.

    moto draws VPC ids at random; re-key the new VPC and everything created
    with it (main route table, default network ACL and security group).
    """
    vpc = ec2.create_vpc("10.0.0.0/16")
    old = vpc.id
    ec2.vpcs.pop(old)
    vpc.id = vpc_id
    ec2.vpcs[vpc_id] = vpc
    for collection in (getattr(ec2, "route_tables", {}), getattr(ec2, "network_acls", {})):
        for item in collection.values():
            if getattr(item, "vpc_id", None) == old:
                item.vpc_id = vpc_id
    groups = getattr(ec2, "groups", {})
    if old in groups:
        groups[vpc_id] = groups.pop(old)
        for group in groups[vpc_id].values():
            group.vpc_id = vpc_id
    return vpc
