"""Raw HTTP against a served app, the way an attacker (or a browser) talks to it: no gradio_client."""

import json
import uuid
from pathlib import Path

import httpx

API_ARGS = ("cube", "gt", "bands", "fusion", "backend", "detector", "windows", "cube_key", "gt_key", "weights",
            "keep_bad_bands")
API_DEFAULTS = (None, None, "auto", "default (measured)", "onnx", "rx", "5,15", "auto", "auto", None, False)


def upload(url: str, path) -> dict:
    """POST a file to Gradio's upload route -> the ``FileData`` dict a client sends afterwards."""
    path = Path(path)
    with open(path, "rb") as f:
        r = httpx.post(f"{url}gradio_api/upload", files={"files": (path.name, f)}, timeout=120)
    r.raise_for_status()
    return {"path": r.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def _sse(lines) -> tuple[str, object]:
    """The last ``(event, data)`` of a server-sent-event stream."""
    event, data = None, None
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = json.loads(line[5:].strip())
    return event, data


def call_detect(url: str, **kw) -> tuple[str, object]:
    """``POST /gradio_api/call/detect`` with every argument (JSON values as given) -> ``(event, data)``:
    ``("complete", [result])`` or ``("error", {"error": message, ...})``."""
    data = [kw.get(n, d) for n, d in zip(API_ARGS, API_DEFAULTS)]
    r = httpx.post(f"{url}gradio_api/call/detect", json={"data": data}, timeout=60)
    r.raise_for_status()
    eid = r.json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/detect/{eid}", timeout=600) as s:
        return _sse(s.iter_lines())


def fn_index(url: str, name: str) -> int:
    """The index of the event handler ``name`` (e.g. ``run_detection``) in the page's config."""
    cfg = httpx.get(f"{url}config", timeout=30).json()
    return next(i for i, d in enumerate(cfg["dependencies"]) if d.get("api_name") == name)


def queue_join(url: str, index: int, data: list) -> tuple[str, dict]:
    """Call event ``index`` as the page does (``/gradio_api/queue/join``, then its data stream) ->
    ``(msg, message)``: the last message, ``process_completed`` with ``success`` and ``output``."""
    session = uuid.uuid4().hex[:10]
    r = httpx.post(f"{url}gradio_api/queue/join", json={"data": data, "fn_index": index, "session_hash": session,
                                                        "event_data": None, "trigger_id": None}, timeout=60)
    r.raise_for_status()
    last = {}
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=600) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                last = json.loads(line[5:].strip())
                if last.get("msg") == "process_completed":
                    break
    return last.get("msg", ""), last
