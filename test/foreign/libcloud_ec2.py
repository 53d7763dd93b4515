"""Apache libcloud's EC2 driver, as Debian ships it, against a cloudsim: sizes, create, list, destroy.

Reads SIM_HOST, SIM_PORT, SIM_IMAGE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; prints one JSON line
with what it saw, for the jest test to check.
"""
import json
import os
import time

from libcloud.compute.base import NodeImage
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider

driver = get_driver(Provider.EC2)(
    os.environ["AWS_ACCESS_KEY_ID"],
    os.environ["AWS_SECRET_ACCESS_KEY"],
    secure=False,
    host=os.environ["SIM_HOST"],
    port=int(os.environ["SIM_PORT"]),
    region="us-east-1",
)
out = {"signature_version": str(driver.signature_version)}
sizes = driver.list_sizes()
size = next(s for s in sizes if s.id == "t3.micro")
out["sizes"] = len(sizes)
out["nodes_before"] = [n.id for n in driver.list_nodes()]
image = NodeImage(id=os.environ["SIM_IMAGE"], name=None, driver=driver)
node = driver.create_node(
    name="libcloud-node", size=size, image=image, ex_mincount=1, ex_maxcount=1, ex_metadata={"made-by": "libcloud"}
)
out["created"] = {"id": node.id, "name": node.name}
deadline = time.time() + 20
while True:
    listed = [n for n in driver.list_nodes() if n.id == node.id]
    if listed and listed[0].state == NodeState.RUNNING:
        break
    if time.time() > deadline:
        raise SystemExit("node %s not running in time: %r" % (node.id, listed))
    time.sleep(0.1)
found = listed[0]
out["listed"] = {
    "id": found.id,
    "name": found.name,
    "state": str(found.state),
    "private_ips": found.private_ips,
    "public_ips": found.public_ips,
    "tags": found.extra.get("tags"),
}
out["destroyed"] = driver.destroy_node(found)
print(json.dumps(out))
