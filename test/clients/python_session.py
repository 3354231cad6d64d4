"""Drives coding sessions with the Temporal Python SDK, using only the names and JSON docs/contract.md documents.

Run by test/foreign-clients.test.ts: argv[1] is a JSON object {address, task_queue, repo_url, backend, prefix}.
Prints one JSON report on stdout; the mocha test checks it against the git server and the workflow history.
"""
import asyncio
import json
import os
import sys
from datetime import timedelta

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError


def failure_of(err: BaseException) -> dict:
    cause = err.cause if isinstance(err, (WorkflowUpdateFailedError, WorkflowFailureError)) else err
    if isinstance(cause, ApplicationError):
        return {"type": cause.type, "message": cause.message}
    return {"type": None, "message": str(cause)}


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    client = await Client.connect(cfg["address"], namespace="default")
    tq, url, backend, prefix = cfg["task_queue"], cfg["repo_url"], cfg["backend"], cfg["prefix"]
    report: dict = {}

    # 1. A plain start (no session_id in the input), then an update at once: it waits until the session is open.
    sid = f"{prefix}_full"
    handle = await client.start_workflow("codingSession", {"repo_url": url, "branch": "main", "backend": backend}, id=sid, task_queue=tq)
    report["branch"] = await handle.execute_update("branch", {"branch": f"feature/py-{backend}", "create": True})
    report["code"] = await handle.execute_update("code", {"instruction": "Add a greeting file"})
    report["diff"] = await handle.execute_update("diff", {})
    report["commit"] = await handle.execute_update("commit", {"message": "Add greeting (python client)"})
    report["push"] = await handle.execute_update("push", {})
    report["diff_committed"] = await handle.execute_update("diff", {"uncommitted": False, "base": "origin/main"})

    # 2. A bad payload is refused with a typed failure naming the field; the session lives on.
    try:
        await handle.execute_update("branch", {"branch": "bad name", "create": True})
        report["bad_payload"] = None
    except WorkflowUpdateFailedError as err:
        report["bad_payload"] = failure_of(err)

    # 3. Cancel names its task: two code updates, the second one queued behind the first, cancelled by update id.
    first = await handle.start_update("code", {"instruction": "First queued task"}, id=f"{sid}-task-a", wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    second = await handle.start_update("code", {"instruction": "Second queued task"}, id=f"{sid}-task-b", wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    await handle.signal("cancel", {"update_id": f"{sid}-task-b"})
    report["cancel_first"] = await first.result()
    report["cancel_second"] = await second.result()

    report["status"] = await handle.query("status")
    report["close"] = await handle.execute_update("close", {})
    report["result"] = await handle.result()

    # 4. coding_open in one round trip: update-with-start on the open update.
    sid2 = f"{prefix}_uws"
    start = WithStartWorkflowOperation(
        "codingSession", {"repo_url": url, "backend": backend}, id=sid2, task_queue=tq, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING
    )
    report["open"] = await client.execute_update_with_start_workflow("open", {"repo_url": url, "backend": backend}, start_workflow_operation=start)
    handle2 = await start.workflow_handle()
    report["open_status"] = await handle2.query("status")
    # Found by search attribute, whoever started it.
    found = []
    for _ in range(50):
        found = [w.id async for w in client.list_workflows(f"CodingBackend='{backend}' AND WorkflowId='{sid2}'")]
        if found:
            break
        await asyncio.sleep(0.2)
    report["found_by_search_attribute"] = found
    report["close2"] = await handle2.execute_update("close", {"success": True})

    # 5. An invalid start input ends the session at once with a typed failure naming the field.
    bad = await client.start_workflow("codingSession", {"repo_url": url, "scope": "galaxy"}, id=f"{prefix}_bad", task_queue=tq)
    try:
        await asyncio.wait_for(bad.result(), timeout=30)
        report["bad_start"] = None
    except WorkflowFailureError as err:
        report["bad_start"] = failure_of(err)

    print(json.dumps(report), flush=True)


asyncio.run(main())
# The SDK's Rust threads can outlive the event loop and abort the interpreter's teardown (about 1 run in 13 here:
# "Fatal Python error: PyGILState_Release", temporalio/sdk-python#300). The report is out; skip the teardown.
os._exit(0)
