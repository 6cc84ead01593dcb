"""A page as Debian's headless Chromium loads it, through the DevTools protocol (aiohttp's
websocket client, which MLflow already brings): every request the page made, each image's
natural size once the page has loaded, and a screenshot."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Loaded:
    requests: list[str]  # every URL the page asked for, itself first
    images: list[dict]  # {"src", "width", "height"}: natural sizes, 0 where an image failed
    screenshot: bytes  # PNG


async def _session(websocket_url: str, url: str) -> Loaded:
    async with aiohttp.ClientSession() as client, client.ws_connect(websocket_url, max_msg_size=0) as socket:
        counter = iter(range(1, 10**6))
        requests: list[str] = []

        async def call(method: str, **params) -> dict:
            ident = next(counter)
            await socket.send_json({"id": ident, "method": method, "params": params})
            while True:
                message = json.loads((await socket.receive()).data)
                if message.get("method") == "Network.requestWillBeSent":
                    requests.append(message["params"]["request"]["url"])
                if message.get("method") == "Page.loadEventFired":
                    loaded.set()
                if message.get("id") == ident:
                    return message.get("result", {})

        loaded = asyncio.Event()
        await call("Network.enable")
        await call("Page.enable")
        await call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not loaded.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading within 60 s")
            await call("Runtime.evaluate", expression="1")  # drains the events meanwhile
            await asyncio.sleep(0.2)
        script = (
            "JSON.stringify([...document.images].map(i => "
            "({src: i.getAttribute('src'), width: i.naturalWidth, height: i.naturalHeight})))"
        )
        images = json.loads((await call("Runtime.evaluate", expression=script))["result"]["value"])
        shot = await call("Page.captureScreenshot", format="png")
        return Loaded(requests, images, base64.b64decode(shot["data"]))


def load(url: str) -> Loaded:
    """Open ``url`` in a fresh headless Chromium and report what it loaded."""
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",  # as root in a container
                "--disable-gpu",
                "--no-first-run",
                "--window-size=1400,1000",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            active = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not (active.exists() and len(active.read_text().splitlines()) == 2):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Chromium did not open its DevTools port")
                time.sleep(0.2)
            port = active.read_text().splitlines()[0]
            return asyncio.run(_page(f"http://127.0.0.1:{port}", url))
        finally:
            process.terminate()
            process.wait(timeout=30)


async def _page(devtools: str, url: str) -> Loaded:
    async with aiohttp.ClientSession() as client, client.get(f"{devtools}/json/list") as answer:
        pages = [target for target in await answer.json() if target["type"] == "page"]
    return await _session(pages[0]["webSocketDebuggerUrl"], url)
