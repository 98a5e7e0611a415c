"""The generated camera frames decode in a browser: what the OMF Dashboard and the Session
Manager's inspector show is a picture, not a broken image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mqtt_replay import open_session

pytestmark = pytest.mark.e2e


def test_a_generated_camera_frame_decodes_in_chromium(chromium: Any, plant_session: Path) -> None:
    session = open_session(plant_session)
    topics = session.table.column("topic").to_pylist()
    row = topics.index("/j1/txt/1/i/cam")
    uri = json.loads(session.table.column("payload")[row].as_py())["data"]
    assert uri.startswith("data:image/jpeg;base64,")
    page = chromium.new_page()
    try:
        page.set_content('<img id="frame">')
        decoded = page.evaluate(
            """async (uri) => {
                const img = document.getElementById('frame');
                img.src = uri;
                try { await img.decode(); } catch (e) { return {error: String(e)}; }
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const g = c.getContext('2d');
                g.drawImage(img, 0, 0);
                const [r, gr, b] = g.getImageData(32, 24, 1, 1).data;  // the workpiece
                return {width: img.naturalWidth, height: img.naturalHeight, rgb: [r, gr, b]};
            }""",
            uri,
        )
    finally:
        page.close()
    assert "error" not in decoded, decoded
    assert (decoded["width"], decoded["height"]) == (64, 48)
    r, g, b = decoded["rgb"]
    assert r > 150 and g < 100 and b < 100  # the red workpiece in the middle of the picture
