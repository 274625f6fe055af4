"""Auto Scaling in the emulator: moto's backend plus transition times and holds."""

import time
import unittest

import test_emulator as emu
from test_emulator import admin, client


def setUpModule():
    emu.setUpModule()


def tearDownModule():
    emu.tearDownModule()


def make_group(asg, name="web", desired=2, tags=None):
    asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId="ami-12c6146b",
                                    InstanceType="t2.micro")
    tags = tags or {"Environment": "ENV001", "Role": "web"}
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchConfigurationName=f"{name}-lc", MinSize=1, MaxSize=4,
        DesiredCapacity=desired, AvailabilityZones=[f"{emu.REGION}a"],
        Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
               "ResourceType": "auto-scaling-group"} for k, v in tags.items()])


def group(asg, name="web"):
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


class AutoScalingTest(unittest.TestCase):
    def setUp(self):
        admin("POST", "reset")
        self.asg = client("autoscaling")
        self.ec2 = client("ec2")

    def test_scale_in_terminates_and_scale_out_launches_tagged_instances(self):
        make_group(self.asg)
        ids = [i["InstanceId"] for i in group(self.asg)["Instances"]]
        self.assertEqual(len(ids), 2)
        tags = {t["Key"]: t["Value"] for t in self.ec2.describe_instances(InstanceIds=ids[:1])
                ["Reservations"][0]["Instances"][0]["Tags"]}
        self.assertEqual(tags["aws:autoscaling:groupName"], "web")
        self.assertEqual(tags["Role"], "web")
        self.asg.update_auto_scaling_group(AutoScalingGroupName="web", MinSize=0, DesiredCapacity=0)
        self.assertEqual(group(self.asg)["Instances"], [])
        self.assertEqual(emu.state_of(self.ec2, ids[0]), "terminated")
        self.asg.update_auto_scaling_group(AutoScalingGroupName="web", MinSize=1, MaxSize=4,
                                           DesiredCapacity=2)
        fresh = [i["InstanceId"] for i in group(self.asg)["Instances"]]
        self.assertEqual(len(fresh), 2)
        self.assertFalse(set(fresh) & set(ids))

    def test_tag_filters_and_tags(self):
        make_group(self.asg)
        make_group(self.asg, "other", tags={"Environment": "ENV002", "Role": "web"})
        found = self.asg.describe_auto_scaling_groups(
            Filters=[{"Name": "tag:Environment", "Values": ["ENV001"]}])["AutoScalingGroups"]
        self.assertEqual([g["AutoScalingGroupName"] for g in found], ["web"])
        self.asg.create_or_update_tags(Tags=[{"ResourceId": "web", "ResourceType": "auto-scaling-group",
                                              "Key": "tierctl:stopped-sizes", "Value": "min=1,max=4,desired=2",
                                              "PropagateAtLaunch": False}])
        tags = {t["Key"]: t["Value"] for t in group(self.asg)["Tags"]}
        self.assertEqual(tags["tierctl:stopped-sizes"], "min=1,max=4,desired=2")
        self.asg.delete_tags(Tags=[{"ResourceId": "web", "ResourceType": "auto-scaling-group",
                                    "Key": "tierctl:stopped-sizes"}])
        self.assertNotIn("tierctl:stopped-sizes", {t["Key"] for t in group(self.asg)["Tags"]})

    def test_scaled_out_instances_are_pending_for_a_while(self):
        admin("POST", "asg", {"inServiceMs": 300})
        make_group(self.asg, desired=0)
        self.asg.update_auto_scaling_group(AutoScalingGroupName="web", DesiredCapacity=2)
        states = {i["LifecycleState"] for i in group(self.asg)["Instances"]}
        self.assertEqual(states, {"Pending"})
        time.sleep(0.4)
        states = {i["LifecycleState"] for i in group(self.asg)["Instances"]}
        self.assertEqual(states, {"InService"})

    def test_hold_keeps_a_group_pending_until_reset(self):
        make_group(self.asg)
        admin("POST", "asg/hold", {"groupName": "web", "state": "Pending"})
        self.assertEqual({i["LifecycleState"] for i in group(self.asg)["Instances"]}, {"Pending"})
        admin("POST", "reset")
        self.assertEqual(admin("POST", "asg", {}), {"inServiceMs": 0})

    def test_warm_pool_and_standby_are_described(self):
        make_group(self.asg)
        self.asg.put_warm_pool(AutoScalingGroupName="web", MinSize=1)
        self.assertIn("WarmPoolConfiguration", group(self.asg))
        make_group(self.asg, "app", tags={"Environment": "ENV001", "Role": "app"})
        iid = group(self.asg, "app")["Instances"][0]["InstanceId"]
        self.asg.enter_standby(AutoScalingGroupName="app", InstanceIds=[iid],
                               ShouldDecrementDesiredCapacity=True)
        states = {i["InstanceId"]: i["LifecycleState"] for i in group(self.asg, "app")["Instances"]}
        self.assertEqual(states[iid], "Standby")


if __name__ == "__main__":
    unittest.main()
