"""The emulator's RDS and Aurora realism (rds_realism.py), driven with boto3.

Run: cd tests/emulator && ../../.venv/bin/python -m unittest discover -s tests -v
"""

import time
import unittest

from botocore.exceptions import ClientError

import test_emulator as emu

REGION = emu.REGION
TAGS = {"Environment": "ENV001"}


def setUpModule():
    emu.setUpModule()


def tearDownModule():
    emu.tearDownModule()


def seed(*databases):
    return emu.admin("POST", "rds/seed", {"region": REGION, "databases": list(databases)})


class RdsTest(unittest.TestCase):
    def setUp(self):
        emu.admin("POST", "reset")
        emu.admin("POST", "rds/config", {"stopDelayMs": 200, "startDelayMs": 200})
        self.rds = emu.client("rds")

    def status(self, identifier):
        return self.rds.describe_db_instances(
            DBInstanceIdentifier=identifier)["DBInstances"][0]["DBInstanceStatus"]

    def cluster(self, identifier):
        return self.rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]

    def code(self, call, **kwargs):
        with self.assertRaises(ClientError) as caught:
            call(**kwargs)
        return caught.exception.response["Error"]["Code"]

    def test_instance_stops_and_starts_through_transitions_with_restart_time(self):
        seed({"id": "orders", "tags": TAGS})
        self.rds.stop_db_instance(DBInstanceIdentifier="orders")
        self.assertEqual(self.status("orders"), "stopping")
        self.assertEqual(self.code(self.rds.start_db_instance, DBInstanceIdentifier="orders"),
                         "InvalidDBInstanceState")
        time.sleep(0.3)
        described = self.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
        self.assertEqual(described["DBInstanceStatus"], "stopped")
        restart = described["AutomaticRestartTime"]
        days = (restart.timestamp() - time.time()) / 86400
        self.assertTrue(6.9 < days <= 7.0, restart)
        self.rds.start_db_instance(DBInstanceIdentifier="orders")
        self.assertEqual(self.status("orders"), "starting")
        time.sleep(0.3)
        described = self.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
        self.assertEqual(described["DBInstanceStatus"], "available")
        self.assertNotIn("AutomaticRestartTime", described)

    def test_automatic_restart_after_seven_days(self):
        seed({"id": "orders", "status": "stopped"},
             {"kind": "cluster", "id": "sales", "members": ["sales-1"], "status": "stopped"})
        self.assertIn("AutomaticRestartTime",
                      self.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0])
        for identifier in ("orders", "sales"):
            emu.admin("POST", f"rds/databases/{identifier}/automatic-restart", {"region": REGION})
        described = self.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
        self.assertEqual(described["DBInstanceStatus"], "available")
        self.assertNotIn("AutomaticRestartTime", described)
        self.assertEqual(self.cluster("sales")["Status"], "available")
        self.assertEqual(self.status("sales-1"), "available")

    def test_what_aws_refuses(self):
        seed({"id": "src", "tags": TAGS}, {"id": "src-replica", "replicaOf": "src"},
             {"id": "mssql", "engine": "sqlserver-se", "multiAz": True},
             {"kind": "cluster", "id": "sales", "members": ["sales-1", "sales-2"]},
             {"kind": "cluster", "id": "world", "members": ["world-1"], "globalCluster": "g1"})
        for identifier in ("src", "src-replica", "mssql", "sales-1"):
            self.assertEqual(self.code(self.rds.stop_db_instance, DBInstanceIdentifier=identifier),
                             "InvalidDBInstanceState", identifier)
        self.assertEqual(self.code(self.rds.start_db_instance, DBInstanceIdentifier="src"),
                         "InvalidDBInstanceState")
        self.assertEqual(self.code(self.rds.stop_db_cluster, DBClusterIdentifier="world"),
                         "InvalidDBClusterStateFault")
        self.assertEqual(self.code(self.rds.stop_db_instance, DBInstanceIdentifier="nope"),
                         "DBInstanceNotFound")
        self.assertEqual(self.status("src"), "available")

    def test_cluster_stops_with_its_members_and_starts_again(self):
        seed({"kind": "cluster", "id": "sales", "members": ["sales-1", "sales-2"], "tags": TAGS})
        self.rds.stop_db_cluster(DBClusterIdentifier="sales")
        self.assertEqual(self.cluster("sales")["Status"], "stopping")
        self.assertEqual(self.status("sales-1"), "stopping")
        time.sleep(0.3)
        described = self.cluster("sales")
        self.assertEqual(described["Status"], "stopped")
        self.assertIn("AutomaticRestartTime", described)
        self.assertEqual(self.status("sales-2"), "stopped")
        self.assertEqual(self.code(self.rds.stop_db_cluster, DBClusterIdentifier="sales"),
                         "InvalidDBClusterStateFault")
        self.rds.start_db_cluster(DBClusterIdentifier="sales")
        time.sleep(0.3)
        self.assertEqual(self.cluster("sales")["Status"], "available")
        self.assertEqual(self.status("sales-1"), "available")

    def test_per_database_delay_and_tagging_discovery(self):
        seed({"id": "slow", "tags": dict(TAGS, Role="db")},
             {"kind": "cluster", "id": "sales", "members": ["sales-1"], "tags": TAGS},
             {"id": "other", "tags": {"Environment": "OTHER"}})
        emu.admin("POST", "rds/databases/slow/transition", {"startDelayMs": 60000})
        tagging = emu.client("resourcegroupstaggingapi")
        found = tagging.get_resources(ResourceTypeFilters=["rds:db", "rds:cluster"],
                                      TagFilters=[{"Key": "Environment", "Values": ["ENV001"]}])
        arns = sorted(m["ResourceARN"].split(":", 5)[5] for m in found["ResourceTagMappingList"])
        self.assertEqual(arns, ["cluster:sales", "db:slow"])
        self.rds.stop_db_instance(DBInstanceIdentifier="slow")
        time.sleep(0.3)
        self.rds.start_db_instance(DBInstanceIdentifier="slow")
        time.sleep(0.3)
        self.assertEqual(self.status("slow"), "starting")
        calls = emu.admin("GET", "calls?service=rds")["calls"]
        self.assertIn("StartDBInstance", [c["action"] for c in calls])


if __name__ == "__main__":
    unittest.main()
