"""The generator's catalogue: what the simulated plant is made of (modules, AGV, TXT
controller, Arduino sensors, stock, routes, flows), the payload templates of every message
family and the camera frames. The builders that fill them in are
:class:`~mqtt_replay.generate.messages.PlantMessages`.

High-frequency payloads are pre-escaped ``%`` templates (no ``json.dumps`` per message); only
the rare order messages are built with ``json.dumps``.
"""

from __future__ import annotations

import json

from mqtt_replay.topics import PLANT_AGVS, PLANT_MODULES

MIXES = ("plant", "small", "camera")
CCU_VERSION = "1.3.0"

Msg = tuple[str, str, bool]  # topic, payload already escaped for a JSON string, retain

# module type -> serial (the plant's, from mqtt_replay.topics), ip, software version
MODULES: dict[str, tuple[str, str, str]] = {
    kind: (PLANT_MODULES[kind], ip, version)
    for kind, ip, version in (
        ("HBW", "192.168.0.80", "1.3.0"),
        ("DRILL", "192.168.0.50", "1.3.0"),
        ("MILL", "192.168.0.40", "1.3.0"),
        ("AIQS", "192.168.0.70", "1.3.0"),
        ("DPS", "192.168.0.90", "1.6.0"),
    )
}
CHARGER = PLANT_MODULES["CHRG"]
AGV = PLANT_AGVS[0]
AGV_IP = "192.168.0.177"
AGV_VERSION = "1.1.0+git250d287"
FLOWS = {"BLUE": ["DRILL", "MILL", "AIQS"], "RED": ["MILL", "AIQS"], "WHITE": ["DRILL", "AIQS"]}
WORK_COMMAND = {"DRILL": "DRILL", "MILL": "MILL", "AIQS": "CHECK_QUALITY"}
ORDER_CYCLE = [
    ("STORAGE", "WHITE"),
    ("PRODUCTION", "RED"),
    ("PRODUCTION", "WHITE"),
    ("PRODUCTION", "BLUE"),
    ("STORAGE", "RED"),
    ("STORAGE", "BLUE"),
]
LOCATIONS = ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
# layout: intersections between the modules (AGV route nodes)
ROUTE_VIA = {
    "HBW": "1",
    "DRILL": "1",
    "MILL": "2",
    "AIQS": "3",
    "DPS": "2",
    CHARGER: "4",
}
ARDUINO = [
    ("flame", "flame-1", "192.168.0.95"),
    ("gas", "mq2-1", "192.168.0.96"),
    ("temperature", "dht11-1", "192.168.0.97"),
    ("vibration", "sw420-1", "192.168.0.98"),
    ("vibration", "mpu6050-1", "192.168.0.99"),
]

# A real 64x48 baseline JPEG (a red workpiece on the belt, drawn once in Chromium, metadata
# stripped), split after its JFIF header: every frame is this picture with the frame's random
# bytes in a comment segment (COM), so frames differ, weigh what the plant's do, and decode.
JPEG_JFIF_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
JPEG_PICTURE = bytes.fromhex(
    "ffdb0043000a07070807060a0808080b0a0a0b0e18100e0d0d0e1d15161118231f2524221f2221262b372f26"
    "293429212230413134393b3e3e3e252e4449433c48373d3e3bffdb0043010a0b0b0e0d0e1c10101c3b282228"
    "3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b"
    "3b3b3b3b3b3bffc00011080030004003012200021101031101ffc40019000003010101000000000000000000"
    "0000000305040602ffc40029100001030106050501000000000000000000010212110304051315d106162154"
    "a3223132516381ffc4001801010003010000000000000000000000000001030405ffc4001e11000202020203"
    "000000000000000000000002010304110512223141ffda000c03010002110311003f008930988984cb8ac7cc"
    "2622613007cc2622613007cc26226130044c2626613200e95568869658253d5d54c977722dbb117ecea38634"
    "dd5d354cbc982c737e32e94aff002a63c8b1a1a122747678ea2b9adae75edaf8427d8253d1d17e8cd2a1d371"
    "3e9babae979793049657c65d6b4fe50e5ef0e44b77a27d8c7b1a5a51a76391c7ae2b5b917aefe1ea61313309"
    "9b0e31db72de11da791fb872de11da791fb94c0904c4e1cc2516a974ea9fa3f7325eb01b56bd5d76547b17d9"
    "ae5a2a1780aaca96c8f234e3e55b8f3b49f641bae036ae7a3af2a8c627bb5ab55535af0e612ab55bad557f47"
    "ee53015d4b5c788c8cab72276f3e899cb784769e47ee1cb784769e47ee5302d331ffd9"
)
JPEG_COMMENT_MAX = 65_533  # a segment's length field counts itself (2 bytes) and tops out there


def camera_frame(noise: bytes) -> bytes:
    """A valid JPEG carrying ``noise`` (at most 65,533 bytes) in a comment segment."""
    if len(noise) > JPEG_COMMENT_MAX:
        raise ValueError("a JPEG comment segment holds at most 65,533 bytes")
    return JPEG_JFIF_HEAD + b"\xff\xfe" + (len(noise) + 2).to_bytes(2, "big") + noise + JPEG_PICTURE


def _esc(text: str) -> str:
    """JSON text -> the contents of a JSON string holding it (ASCII input, no control chars)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dumps(obj: object) -> str:
    return _esc(json.dumps(obj, separators=(",", ":")))


def _template(text: str) -> str:
    """A payload template (JSON text with % placeholders), escaped once for embedding."""
    return _esc(text)


T_BME680 = _template(
    '{"ts":"%s","t":%.1f,"rt":%.1f,"h":%.1f,"rh":%.1f,"p":%.1f,"iaq":%d,"aq":%d,"gr":%d}'
)
T_LDR = _template('{"ts":"%s", "br":%.1f, "ldr":%d}')
T_DPS_LED = _template(
    '{"serialNumber":"' + MODULES["DPS"][0] + '","timestamp":"%s","actions":[{"actionId":"%s",'
    '"actionType":"setStatusLED","metadata":{"green":%s,"red":%s,"yellow":%s}}]}'
)
T_MPU6050 = _template(
    '{"vibrationLevel":"%s","vibrationDetected":%s,"impulseCount":%d,"magnitude":%d,'
    '"timestamp":"%s"}'
)
T_MQ2 = _template('{"gasDetected":%s,"gasLevel":%d,"rawValue":%d,"timestamp":"%s"}')
T_SW420 = _template('{"vibrationDetected":%s,"impulseCount":%d,"timestamp":"%s"}')
T_DHT11 = _template(
    '{"temperature":%.1f,"humidity":%.1f,"temperatureUnit":"C","humidityUnit":"%%",'
    '"timestamp":"%s"}'
)
T_FLAME = _template('{"flameDetected":%s,"rawValue":%d,"timestamp":"%s"}')
T_ARDUINO_CONNECTION = _template('{"connectionState":"ONLINE","ip":"%s","serialNumber":"%s"}')
T_MODULE_CONNECTION = _template(
    '{"headerId":%d,"timestamp":"%s","ip":"%s","version":"%s","manufacturer":"Fischertechnik",'
    '"serialNumber":"%s","connectionState":"ONLINE"}'
)
T_MODULE_STATE = _template(
    '{"headerId":%d,"loads":%s,"actionState":%s,"serialNumber":"%s","timestamp":"%s",'
    '"errors":[],"orderUpdateId":%d,"orderId":%s,"paused":false,'
    '"metadata":{"opcuaState":"connected"}}'
)
T_ACTION_STATE = '{"command":"%s","id":"%s","state":"%s"}'  # inserted into T_MODULE_STATE
T_FTS_STATE = _template(
    '{"edgeStates": [], "batteryState": {"charging": %s, "percentage": %d, '
    '"currentVoltage": %.2f, "minVolt": 7.84, "maxVolt": 9.1}, "driving": %s, "headerId": %d, '
    '"lastNodeSequenceId": %d, "waitingForLoadHandling": false, "nodeStates": [], '
    '"timestamp": "%s", "orderId": "%s", "lastCode": "", "actionStates": [{"id": "%s", '
    '"state": "%s", "timestamp": "%s", "command": "%s"}], "serialNumber": "' + AGV + '", '
    '"load": [{"loadPosition": "3", "loadType": null, "loadId": null}, {"loadPosition": "2", '
    '"loadType": null, "loadId": null}, {"loadPosition": "1", "loadType": %s, "loadId": %s}], '
    '"paused": false, "errors": [], "lastNodeId": "%s", "orderUpdateId": %d}'
)
T_TXT_ORDER = _template('{"ts":"%s","state":"%s"}')
T_CAM_HEAD = _template('{"ts":"%s","data":"data:image/jpeg;base64,')
T_CAM_TAIL = _template('"}')

# ccu/pairing/state: one entry per module (available and lastSeen vary) and the AGV.
_PAIRED_SINCE = "2026-01-08T07:12:49.038Z"
T_PAIRING_MODULE = (
    '{"serialNumber":"%(serial)s","type":"MODULE","connected":true,"available":"%%s",'
    '"subType":"%(sub)s",%(extra)s"pairedSince":"' + _PAIRED_SINCE + '","assigned":false,'
    '"ip":"%(ip)s","version":"%(version)s","lastSeen":"%%s","hasCalibration":%(cal)s}'
)
T_PAIRING_CHARGER = (
    '{"serialNumber":"' + CHARGER + '","type":"MODULE","connected":true,"available":"READY",'
    '"subType":"CHRG","pairedSince":"' + _PAIRED_SINCE + '","assigned":false}'
)
T_PAIRING_AGV = (
    '{"serialNumber":"' + AGV + '","type":"FTS","connected":true,"available":"%s",'
    '"ip":"' + AGV_IP + '","version":"' + AGV_VERSION + '","lastSeen":"%s","charging":%s,'
    '"batteryVoltage":%.1f,"batteryPercentage":%d,"lastNodeId":"%s",'
    '"lastModuleSerialNumber":"%s","lastLoadPosition":"1"}'
)


def _pairing_template() -> str:
    parts = []
    for sub, (serial, ip, version) in MODULES.items():
        extra = '"productionDuration":5,' if sub in {"DRILL", "MILL"} else ""
        cal = "false" if sub in {"DRILL", "MILL"} else "true"
        fields = {"serial": serial, "sub": sub, "extra": extra, "ip": ip, "version": version}
        parts.append(T_PAIRING_MODULE % {**fields, "cal": cal})
    modules = ",".join([*parts, T_PAIRING_CHARGER])
    return _template('{"modules":[' + modules + '],"transports":[' + T_PAIRING_AGV + "]}")


T_PAIRING = _pairing_template()
