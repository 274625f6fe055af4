"""RDS and Aurora stop/start realism on top of moto.

moto flips a DB instance or cluster to `stopped`/`available` at once, lets
an Aurora member be stopped alone, accepts stopping an instance that has
read replicas (and answers a read replica's stop with the cluster fault),
and reports no `AutomaticRestartTime`. Real RDS passes through `stopping` /
`starting`, refuses what the RDS User Guide lists (read replicas, instances
with read replicas, SQL Server Multi-AZ, Aurora members alone, clusters in a
global database or with cross-Region replicas, wrong states) and starts a
stopped DB by itself after 7 days. We therefore answer Stop/StartDBInstance
and Stop/StartDBCluster ourselves (on moto's objects), finish transitions
lazily in `tick()` (run before every request), and add
`AutomaticRestartTime` to DescribeDBInstances / DescribeDBClusters answers.
"""

import datetime
import re
import threading
import time
import uuid
from xml.sax.saxutils import escape

from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import rds_backends

from .protocol import error_for

RDS_XMLNS = "http://rds.amazonaws.com/doc/2014-10-31/"
AUTOMATIC_RESTART = datetime.timedelta(days=7)


def backend(region):
    return rds_backends[DEFAULT_ACCOUNT_ID][region or "us-east-1"]


def _rds_response(action, inner_xml):
    request_id = str(uuid.uuid4())
    body = (f'<{action}Response xmlns="{RDS_XMLNS}"><{action}Result>{inner_xml}</{action}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>")
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class RdsRealism:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.stop_ms = 300
            self.start_ms = 300
            self.overrides = {}     # identifier -> {"stopDelayMs": .., "startDelayMs": ..}
            self.pending = {}       # (kind, id) -> (due, transitional, final)
            self.restart_at = {}    # (kind, id) -> datetime (UTC)

    def configure(self, body):
        with self.lock:
            self.stop_ms = int(body.get("stopDelayMs", self.stop_ms))
            self.start_ms = int(body.get("startDelayMs", self.start_ms))
            return {"stopDelayMs": self.stop_ms, "startDelayMs": self.start_ms}

    def set_database(self, identifier, body):
        with self.lock:
            entry = self.overrides.setdefault(identifier, {})
            for key in ("stopDelayMs", "startDelayMs"):
                if key in body:
                    entry[key] = int(body[key])
            return dict(entry)

    def automatic_restart(self, identifier, body):
        """What AWS does 7 days after a stop: the stopped DB is available again."""
        region = body.get("region", "us-west-2")
        with self.lock:
            self.tick()
            for kind in ("instance", "cluster"):
                obj = self._object(region, kind, identifier)
                if obj is not None and obj.status == "stopped":
                    self._set(region, kind, identifier, "available")
                    self.restart_at.pop((region, kind, identifier), None)
                    return {"id": identifier, "kind": kind, "status": "available"}
            raise ValueError(f"no stopped DB instance or cluster {identifier}")

    def _delay(self, identifier, key):
        default = self.stop_ms if key == "stopDelayMs" else self.start_ms
        return self.overrides.get(identifier, {}).get(key, default) / 1000.0

    # ------------------------------------------------------------ objects

    @staticmethod
    def _object(region, kind, identifier):
        b = backend(region)
        return (b.databases if kind == "instance" else b.clusters).get(identifier)

    def _set(self, region, kind, identifier, status):
        obj = self._object(region, kind, identifier)
        if obj is not None:
            obj.status = status
        if kind == "cluster" and obj is not None:
            for member in obj._members:
                member.status = status

    def tick(self):
        """Finish every transition whose delay has passed."""
        now = time.monotonic()
        with self.lock:
            for (reg, kind, identifier), (due, transitional, final) in list(self.pending.items()):
                obj = self._object(reg, kind, identifier)
                if obj is None or obj.status != transitional:
                    del self.pending[(reg, kind, identifier)]
                elif due <= now:
                    self._set(reg, kind, identifier, final)
                    if final == "stopped":
                        self.restart_at[(reg, kind, identifier)] = (
                            datetime.datetime.now(datetime.timezone.utc) + AUTOMATIC_RESTART)
                    del self.pending[(reg, kind, identifier)]

    # ------------------------------------------------------------ handlers

    def handle(self, req):
        """A response for the RDS actions we own, or None to let moto answer."""
        if req.action in ("StopDBInstance", "StartDBInstance"):
            return self._instance(req, req.action == "StopDBInstance")
        if req.action in ("StopDBCluster", "StartDBCluster"):
            return self._cluster(req, req.action == "StopDBCluster")
        return None

    def _transition(self, region, kind, identifier, stopping):
        current, final = ("stopping", "stopped") if stopping else ("starting", "available")
        delay = self._delay(identifier, "stopDelayMs" if stopping else "startDelayMs")
        self.restart_at.pop((region, kind, identifier), None)
        if delay > 0:
            self._set(region, kind, identifier, current)
            self.pending[(region, kind, identifier)] = (time.monotonic() + delay, current, final)
        else:
            self._set(region, kind, identifier, final)
            if stopping:
                self.restart_at[(region, kind, identifier)] = (
                    datetime.datetime.now(datetime.timezone.utc) + AUTOMATIC_RESTART)
        return current if delay > 0 else final

    def _instance(self, req, stopping):
        identifier = req.param("DBInstanceIdentifier") or ""
        with self.lock:
            self.tick()
            db = self._object(req.region, "instance", identifier)
            if db is None:
                return error_for(req, "DBInstanceNotFound",
                                 f"DBInstance {identifier} not found.", 404)
            verb = "stopped" if stopping else "started"
            if getattr(db, "db_cluster_identifier", None):
                return error_for(req, "InvalidDBInstanceState",
                                 f"DB instance {identifier} is part of Aurora DB cluster "
                                 f"{db.db_cluster_identifier}: use "
                                 f"{'StopDBCluster' if stopping else 'StartDBCluster'} instead.")
            if stopping:
                if db.is_replica:
                    return error_for(req, "InvalidDBInstanceState",
                                     f"Cannot stop DB instance {identifier}: it is a read replica.")
                if list(db.read_replica_db_instance_identifiers):
                    return error_for(req, "InvalidDBInstanceState",
                                     f"Cannot stop DB instance {identifier}: it has read replicas.")
                if db.multi_az and db.engine.lower().startswith("sqlserver"):
                    return error_for(req, "InvalidDBInstanceState",
                                     f"Cannot stop DB instance {identifier}: SQL Server Multi-AZ "
                                     "instances cannot be stopped.")
            wanted = "available" if stopping else "stopped"
            if db.status != wanted:
                return error_for(req, "InvalidDBInstanceState",
                                 f"Instance {identifier} is not in {wanted} state, "
                                 f"so it cannot be {verb} (status {db.status}).")
            status = self._transition(req.region, "instance", identifier, stopping)
        return _rds_response(req.action, f"<DBInstance><DBInstanceIdentifier>{escape(identifier)}"
                                         f"</DBInstanceIdentifier><DBInstanceStatus>{status}"
                                         f"</DBInstanceStatus></DBInstance>")

    def _cluster(self, req, stopping):
        identifier = req.param("DBClusterIdentifier") or ""
        with self.lock:
            self.tick()
            cluster = self._object(req.region, "cluster", identifier)
            if cluster is None:
                return error_for(req, "DBClusterNotFoundFault",
                                 f"DBCluster {identifier} not found.", 404)
            if stopping and (cluster.global_cluster_identifier or cluster.read_replica_identifiers
                             or getattr(cluster, "replication_source_identifier", None)):
                return error_for(req, "InvalidDBClusterStateFault",
                                 f"DB cluster {identifier} is part of a global database or has a "
                                 "cross-Region replica and cannot be stopped.")
            wanted = "available" if stopping else "stopped"
            if cluster.status != wanted:
                return error_for(req, "InvalidDBClusterStateFault",
                                 f"DbCluster {identifier} is in {cluster.status} state but expected "
                                 f"it to be one of {wanted}.")
            status = self._transition(req.region, "cluster", identifier, stopping)
        return _rds_response(req.action, f"<DBCluster><DBClusterIdentifier>{escape(identifier)}"
                                         f"</DBClusterIdentifier><Status>{status}</Status></DBCluster>")

    # ------------------------------------------------------------ describe answers

    _BLOCK = {"instance": (re.compile(rb"<DBInstance>.*?</DBInstance>", re.S),
                           re.compile(rb"<DBInstanceIdentifier>([^<]*)</DBInstanceIdentifier>")),
              "cluster": (re.compile(rb"<DBCluster>.*?</DBCluster>", re.S),
                          re.compile(rb"<DBClusterIdentifier>([^<]*)</DBClusterIdentifier>"))}

    def annotate(self, req, response):
        """Adds AutomaticRestartTime to the stopped DBs of a describe answer."""
        kind = {"DescribeDBInstances": "instance", "DescribeDBClusters": "cluster"}.get(req.action)
        if kind is None or not self.restart_at:
            return response
        status, headers, out = response
        block, ident = self._BLOCK[kind]

        def add(match):
            text = match.group(0)
            found = ident.search(text)
            if not found:
                return text
            when = self.restart_at.get((req.region, kind, found.group(1).decode()))
            if when is None or b"AutomaticRestartTime" in text:
                return text
            end = f"</{'DBInstance' if kind == 'instance' else 'DBCluster'}>".encode()
            return text[:-len(end)] + f"<AutomaticRestartTime>{_iso(when)}</AutomaticRestartTime>".encode() + end

        with self.lock:
            return status, headers, block.sub(add, out)

    # ------------------------------------------------------------ seeding

    def seed(self, body):
        """Creates DB instances and Aurora clusters directly in moto's backend.

        body: {"region", "databases": [{"kind": "instance"|"cluster", "id", "engine",
        "tags": {k: v}, "members": [ids] (clusters), "replicaOf": id, "multiAz": bool,
        "status": "available"|"stopped", "globalCluster": id}]}
        """
        region = body.get("region", "us-west-2")
        b = backend(region)
        created = []
        with self.lock:
            for d in body.get("databases", []):
                tags = [{"Key": k, "Value": v} for k, v in (d.get("tags") or {}).items()]
                identifier = d["id"]
                if d.get("kind", "instance") == "cluster":
                    engine = d.get("engine", "aurora-postgresql")
                    kwargs = dict(db_cluster_identifier=identifier, engine=engine,
                                  master_username="admin", master_user_password="password1",
                                  tags=tags)
                    if d.get("globalCluster"):
                        if d["globalCluster"] not in b.global_clusters:
                            b.create_global_cluster(global_cluster_identifier=d["globalCluster"],
                                                    source_db_cluster_identifier=None,
                                                    engine=engine, engine_version=None,
                                                    storage_encrypted=None,
                                                    deletion_protection=None)
                        kwargs["global_cluster_identifier"] = d["globalCluster"]
                    cluster = b.create_db_cluster(kwargs)
                    cluster.status = "available"
                    for member in d.get("members", []):
                        b.create_db_instance(dict(db_instance_identifier=member,
                                                  db_instance_class="db.r6g.large",
                                                  engine=engine,
                                                  db_cluster_identifier=identifier,
                                                  tags=d.get("memberTags") and [
                                                      {"Key": k, "Value": v}
                                                      for k, v in d["memberTags"].items()] or []))
                    if d.get("status") == "stopped":
                        self._set(region, "cluster", identifier, "stopped")
                        self.restart_at[(region, "cluster", identifier)] = (
                            datetime.datetime.now(datetime.timezone.utc) + AUTOMATIC_RESTART)
                    created.append({"kind": "cluster", "id": identifier})
                    continue
                engine = d.get("engine", "postgres")
                if d.get("replicaOf"):
                    b.create_db_instance_read_replica(dict(
                        db_instance_identifier=identifier,
                        source_db_instance_identifier=d["replicaOf"], tags=tags))
                else:
                    b.create_db_instance(dict(db_instance_identifier=identifier,
                                              db_instance_class=d.get("class", "db.t3.micro"),
                                              engine=engine, multi_az=bool(d.get("multiAz")),
                                              master_username="admin",
                                              master_user_password="password1",
                                              allocated_storage=20, tags=tags,
                                              license_model="license-included"
                                              if engine.startswith("sqlserver") else None))
                if d.get("status") == "stopped":
                    self._set(region, "instance", identifier, "stopped")
                    self.restart_at[(region, "instance", identifier)] = (
                        datetime.datetime.now(datetime.timezone.utc) + AUTOMATIC_RESTART)
                created.append({"kind": "instance", "id": identifier})
        return {"databases": created}
