"""The QR payload (二维码载荷): a compact signed summary a verifier checks offline.

Form: ``TB1.<base64url(JSON)>.<base64url(signature)>``, unpadded base64url,
URL-safe, so the QR code can carry ``<base_url>/verify?p=<payload>`` — a phone
camera opens the public verification page, an offline verifier takes the
``p`` parameter. The signature is the issuing seal's (SM2-with-SM3 or
Ed25519) over the JSON bytes exactly as encoded (no re-serialisation needed
to check it). The JSON (canonical form, short keys to keep the code small):

=====  ===============================================================
``v``  payload version, 1
``id`` 证照标识 (GB/T 36904, with the version)
``n``  证照名称
``no`` 证照编号
``h``  持证主体, masked for persons (张*丰); enterprises in full (public)
``hc`` 持证主体代码, masked for persons (110101********1234)
``i``  颁发机构
``d``  颁证日期 (YYYY-MM-DD)
``vf`` 有效期起始; ``vu`` 有效期截止 ("" for 长期有效)
``k``  key id of the seal key that signed (see GET /api/v1/licences/keys)
``x``  optional key fields named by the licence type (template ``qr_fields``)
=====  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tongban.core.errors import ValidationFailed
from tongban.core.identifiers import mask_name, mask_resident_id
from tongban.licences import crypto

PREFIX = "TB1"
MAX_LENGTH = 1500  # bytes of payload text accepted for checking


class InvalidPayload(ValidationFailed):
    code = "invalid_licence_payload"
    message = "二维码内容无法识别，请确认扫描的是电子证照二维码"


def claims_for(
    *,
    identifier: str,
    name: str,
    number: str,
    holder_name: str,
    holder_code: str,
    holder_code_type: str,
    issuer_name: str,
    issued_on: str,
    valid_from: str,
    valid_until: str,
    key_id: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    person = holder_code_type == "111"
    claims: dict[str, Any] = {
        "v": 1,
        "id": identifier,
        "n": name,
        "no": number,
        "h": mask_name(holder_name) if person else holder_name,
        "hc": mask_resident_id(holder_code) if person else holder_code,
        "i": issuer_name,
        "d": issued_on,
        "vf": valid_from,
        "vu": valid_until,
        "k": key_id,
    }
    if extra:
        claims["x"] = extra
    return claims


def encode(claims: dict[str, Any], signer: crypto.PrivateKey) -> str:
    body = crypto.canonical(claims)
    return f"{PREFIX}.{crypto.b64u(body)}.{crypto.b64u(signer.sign(body))}"


@dataclass(frozen=True)
class Decoded:
    claims: dict[str, Any]
    body: bytes  # the signed bytes
    signature: bytes
    text: str  # the payload as given (without a URL around it)


def extract(text: str) -> str:
    """The payload out of what a scanner read: a bare payload or a URL with ``p=``."""
    text = (text or "").strip()
    if text.startswith(("http://", "https://")) or "?p=" in text or "&p=" in text:
        q = parse_qs(urlsplit(text).query)
        found = q.get("p")
        if found:
            return found[0].strip()
    return text


def looks_like_payload(text: str) -> bool:
    return extract(text).startswith(PREFIX + ".")


def decode(text: str) -> Decoded:
    """Split and decode a payload (no signature check here); ``InvalidPayload`` if malformed."""
    raw = extract(text)
    if len(raw) > MAX_LENGTH:
        raise InvalidPayload("二维码内容过长，不是本平台的电子证照二维码")
    parts = raw.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidPayload()
    try:
        body = crypto.b64u_decode(parts[1])
        signature = crypto.b64u_decode(parts[2])
        claims = orjson.loads(body)
    except (ValueError, orjson.JSONDecodeError) as e:
        raise InvalidPayload() from e
    if (
        not isinstance(claims, dict)
        or claims.get("v") != 1
        or not isinstance(claims.get("id"), str)
        or not isinstance(claims.get("k"), str)
    ):
        raise InvalidPayload()
    return Decoded(claims=claims, body=body, signature=signature, text=raw)
