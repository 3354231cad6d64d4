"""Sends one update to a session with the Temporal Python SDK, by the names docs/contract.md documents.

Run by test/approval.test.ts and test/checks.test.ts: argv[1] is a JSON object {address, session_id, update,
input}. Prints the update's result, and the session's status after it, as one JSON object.
"""
import asyncio
import json
import os
import sys

from temporalio.client import Client


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    client = await Client.connect(cfg["address"], namespace="default")
    handle = client.get_workflow_handle(cfg["session_id"])
    result = await handle.execute_update(cfg["update"], cfg["input"])
    status = await handle.query("status")
    print(json.dumps({"result": result, "status": status}))
    sys.stdout.flush()
    os._exit(0)  # see docs/contract.md: the SDK's threads may outlive the event loop


asyncio.run(main())
