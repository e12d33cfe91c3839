"""Local stand-ins for the model endpoints, served over real HTTP on 127.0.0.1 so the
LangChain clients run unchanged: OpenAI-compatible chat (incl. streaming) and embeddings,
Bedrock Converse / ConverseStream / InvokeModel (Titan embeddings), and a JWKS for JWT tests.

Their answers are computed from the request (the context sentence sharing most words with the
question), so tests can tell that the prompt and context really travelled."""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import socket
import threading
import time
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

WORD = re.compile(r"[a-z0-9]+")
GUARD_MODEL = "guard-stub"  # the chat model name that makes the stub act as a guard model
GUARD_MARKER = "grey parrot"  # what that guard calls an attack (no rule or exemplar knows it)


def stub_vector(text: str, dimension: int) -> list[float]:
    """Hashed bag of words: texts sharing words get similar vectors."""
    vector = np.zeros(dimension, dtype=np.float32)
    for word in WORD.findall(text.lower()):
        stem = word[:6]
        vector[int(hashlib.md5(stem.encode()).hexdigest(), 16) % dimension] += 1.0
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm else vector).tolist()


def stub_answer(system: str, question: str) -> str:
    wanted = set(WORD.findall(question.lower()))
    best, best_score = "I don't know.", 0
    for number, block in re.findall(r"\[(\d+)\] \([^)]*\)\n(.*?)(?=\n\n\[\d+\] |\Z)", system, re.S):
        for sentence in re.split(r"(?<=[.!?])\s+", block):
            score = len(wanted & set(WORD.findall(sentence.lower())))
            if score > best_score:
                best, best_score = f"{sentence.strip()} [{number}]", score
    return best


def _event(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (the ConverseStream wire format)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):  # fmt: skip
        key, data = name.encode(), value.encode()
        headers += bytes([len(key)]) + key + bytes([7]) + len(data).to_bytes(2, "big") + data
    body = json.dumps(payload).encode()
    prelude = (16 + len(headers) + len(body)).to_bytes(4, "big") + len(headers).to_bytes(4, "big")
    message = prelude + binascii.crc32(prelude).to_bytes(4, "big") + headers + body
    return message + binascii.crc32(message).to_bytes(4, "big")


def build_stub_app(dimension: int, jwks: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    app.state.calls = []

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        app.state.calls.append("openai-embeddings")
        return {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": stub_vector(t, dimension)}
                for i, t in enumerate(texts)
            ],  # fmt: skip
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        system = next(m["content"] for m in body["messages"] if m["role"] == "system")
        question = body["messages"][-1]["content"]
        if body["model"] == GUARD_MODEL:  # a guard model: flags what carries the marker
            app.state.calls.append(f"guard:{question}")
            verdict = "ATTACK" if GUARD_MARKER in question and "ATTACK" in system else "SAFE"
            return {"id": "stub-guard", "created": int(time.time()), "model": body["model"],
                    "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": verdict}}]}  # fmt: skip
        answer = stub_answer(system, question)
        app.state.calls.append("openai-chat")
        usage = {"prompt_tokens": len(system.split()), "completion_tokens": len(answer.split()),
                 "total_tokens": len(system.split()) + len(answer.split())}  # fmt: skip
        base = {"id": "stub-1", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            return {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": answer}}]}  # fmt: skip

        def events() -> Any:
            chunk = {**base, "object": "chat.completion.chunk"}
            for word in answer.split(" "):
                delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
                yield f"data: {json.dumps({**chunk, 'choices': [delta]})}\n\n"
            end = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield f"data: {json.dumps({**chunk, 'choices': [end]})}\n\n"
            yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def _converse_input(body: dict[str, Any]) -> tuple[str, str]:
        system = " ".join(block.get("text", "") for block in body.get("system", []))
        question = " ".join(b.get("text", "") for b in body["messages"][-1]["content"])
        return system, question

    @app.post("/model/{model_id:path}/converse")
    async def converse(model_id: str, request: Request) -> Any:
        system, question = _converse_input(await request.json())
        answer = stub_answer(system, question)
        app.state.calls.append("bedrock-converse")
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": len(system.split()), "outputTokens": len(answer.split()),
                      "totalTokens": len(system.split()) + len(answer.split())},
            "metrics": {"latencyMs": 1},
        }  # fmt: skip

    @app.post("/model/{model_id:path}/converse-stream")
    async def converse_stream(model_id: str, request: Request) -> Response:
        system, question = _converse_input(await request.json())
        answer = stub_answer(system, question)
        app.state.calls.append("bedrock-converse-stream")
        stream = _event("messageStart", {"role": "assistant"})
        for word in answer.split(" "):
            stream += _event("contentBlockDelta", {"contentBlockIndex": 0,
                                                   "delta": {"text": word + " "}})  # fmt: skip
        stream += _event("contentBlockStop", {"contentBlockIndex": 0})
        stream += _event("messageStop", {"stopReason": "end_turn"})
        usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
        stream += _event("metadata", {"usage": usage, "metrics": {"latencyMs": 1}})
        return Response(stream, media_type="application/vnd.amazon.eventstream")

    @app.post("/model/{model_id:path}/invoke")
    async def invoke(model_id: str, request: Request) -> Any:
        body = await request.json()
        app.state.calls.append("bedrock-invoke")
        return JSONResponse({"embedding": stub_vector(body["inputText"], dimension),
                             "inputTextTokenCount": len(body["inputText"].split())})  # fmt: skip

    @app.get("/.well-known/jwks.json")
    async def keys() -> Any:
        return jwks

    return app


class StubServer:
    """Runs an app (a stub, or the service itself) under uvicorn in a thread, on a free port
    of 127.0.0.1."""

    def __init__(self, app: FastAPI, lifespan: str = "off") -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> StubServer:
        self._thread.start()
        deadline = time.monotonic() + 60  # a service's lifespan loads its models first
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()
