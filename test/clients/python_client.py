"""Drives one phone verification with the Temporal Python SDK, from the documented contract alone.

No verifyflow code is imported: workflow type, task queue, update and query names and the JSON shapes come from
docs/CONTRACT.md, and the payload encryption (AES-256-GCM, the format of Temporal's encryption samples) from its
"Payload encryption" section, written here with the `cryptography` package. The code is read from the sandbox
outbox over HTTP, as a person reads an SMS.

Usage: python3 python_client.py <temporal address> <task queue> <api base url> <workflow id> <phone number> <keys>
where <keys> is PAYLOAD_CODEC_KEYS (`id:base64key[,id:base64key…]`, the first encrypts).
Prints the workflow result as JSON on the last line.
"""

import asyncio
import base64
import dataclasses
import json
import os
import sys
import urllib.parse
import urllib.request
from typing import Iterable, List

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter, PayloadCodec


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM: data = 12-byte nonce || ciphertext || tag of the serialized Payload; metadata names the key."""

    def __init__(self, spec: str) -> None:
        entries = [e.split(":", 1) for e in spec.split(",")]
        self.keys = {kid: AESGCM(base64.b64decode(key)) for kid, key in entries}
        self.current = entries[0][0]

    async def encode(self, payloads: Iterable[Payload]) -> List[Payload]:
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            data = nonce + self.keys[self.current].encrypt(nonce, p.SerializeToString(), None)
            out.append(
                Payload(
                    metadata={"encoding": b"binary/encrypted", "encryption-key-id": self.current.encode()},
                    data=data,
                )
            )
        return out

    async def decode(self, payloads: Iterable[Payload]) -> List[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding", b"").decode() != "binary/encrypted":
                out.append(p)
                continue
            key = self.keys[p.metadata["encryption-key-id"].decode()]
            clear = Payload()
            clear.ParseFromString(key.decrypt(p.data[:12], p.data[12:], None))
            out.append(clear)
        return out


async def main() -> None:
    address, task_queue, api, workflow_id, to, keys = sys.argv[1:7]
    client = await Client.connect(
        address,
        data_converter=dataclasses.replace(DataConverter.default, payload_codec=EncryptionCodec(keys)),
    )
    handle = await client.start_workflow(
        "phoneVerification",
        {"to": to, "brand": "PyClient", "channels": [{"channel": "sms"}]},
        id=workflow_id,
        task_queue=task_queue,
    )
    code = None
    # Up to 45 s: on a loaded machine the worker may take a while to send the SMS.
    deadline = asyncio.get_running_loop().time() + 45
    while asyncio.get_running_loop().time() < deadline:
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
    # Done: leave without interpreter finalization, where the SDK's native runtime threads can still hold the GIL
    # and abort the process ("PyGILState_Release: thread state … must be current") after everything succeeded.
    sys.stdout.flush()
    os._exit(0)
