"""Drives one phone verification with the Temporal Python SDK, from the documented contract alone.

No verifyflow code is imported: workflow type, task queue, update and query names and the JSON shapes come from
docs/CONTRACT.md. The code is read from the sandbox outbox over HTTP, as a person reads an SMS.

Usage: python3 python_client.py <temporal address> <task queue> <api base url> <workflow id> <phone number>
Prints the workflow result as JSON on the last line.
"""

import asyncio
import json
import sys
import urllib.parse
import urllib.request

from temporalio.client import Client


async def main() -> None:
    address, task_queue, api, workflow_id, to = sys.argv[1:6]
    client = await Client.connect(address)
    handle = await client.start_workflow(
        "phoneVerification",
        {"to": to, "brand": "PyClient", "channels": [{"channel": "sms"}]},
        id=workflow_id,
        task_queue=task_queue,
    )
    code = None
    for _ in range(200):
        url = f"{api}/sandbox/outbox?" + urllib.parse.urlencode({"to": to})
        entries = json.loads(urllib.request.urlopen(url).read())
        if entries:
            code = entries[-1]["code"]
            break
        await asyncio.sleep(0.1)
    if code is None:
        raise SystemExit("no code in the outbox")
    state = await handle.query("getState")
    assert state["status"] == "pending" and state["channel"] == "sms", state
    wrong = await handle.execute_update("checkCode", {"code": "000000"})
    assert wrong["status"] == "invalid_code", wrong
    result = await handle.execute_update("checkCode", {"code": code})
    assert result["status"] == "completed", result
    print(json.dumps(await handle.result()))


if __name__ == "__main__":
    asyncio.run(main())
