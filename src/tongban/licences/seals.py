"""Electronic seals (电子印章) in the shape of GB/T 38540-2020, as JSON.

Two signed forms, both documented in ``docs/licences.md``:

``SESeal`` — a department's seal, made and signed by the platform's seal maker
key (制章者)::

    {"sealInfo": {"header": {"ID": "ES", "version": 4, "Vid": "tongban"},
                  "esID": 印章编码,
                  "property": {"type": 1, "name": 印章名称, "certListType": 1,
                               "certs": [{"kid", "alg", "publicKey"}],
                               "createDate", "validStart", "validEnd"},
                  "picture": {"type": "svg"|"png", "data", "width", "height"}},
     "cert": {"kid", "alg", "publicKey"},          # the seal maker's key
     "signAlgID": OID, "signedValue": signature over canonical({sealInfo, cert, signAlgID})}

``SES_Signature`` — the seal applied to one licence version::

    {"TBS_Sign": {"version": 4, "eseal": {"esID", "sealHash"}, "timeInfo",
                  "dataHash", "hashAlgID", "propertyInfo": 证照标识},
     "cert": {"kid", "alg", "publicKey"},           # the department seal's key
     "signatureAlgID": OID, "signature": signature over canonical(TBS_Sign)}

Differences from the ASN.1 standard, on purpose: JSON instead of DER (so a
browser or a departmental system reads it without an ASN.1 library);
``certs`` and ``cert`` hold public-key records (key id, algorithm, base64url
SubjectPublicKeyInfo) rather than X.509 certificates — there is no CA in the
deployment; ``eseal`` names the seal by its ``esID`` and the digest of its
canonical JSON rather than embedding it. Binary values are unpadded base64url;
times are UTC ``YYYY-MM-DDTHH:MM:SSZ``.

Verification (``verify_signature``) follows STANDARDS §4, in order: the
signature over TBS_Sign; the signer's key is in the seal's list; the seal
maker's signature over the seal; validity periods; the document hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import secrets
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from tongban.licences import crypto

SEAL_VERSION = 4
SEAL_TYPE_ORGANISATION = 1  # 单位印章
CERT_LIST_KEYS = 1  # certs holds public-key records
PICTURE_MM = 40

STEP_MESSAGES = {
    "format": "签章数据格式不正确",
    "signature": "签章签名验证失败：签名数据被篡改或不是该印章所签",
    "cert_in_seal": "签名密钥不属于该电子印章",
    "seal": "电子印章的制章者签名无效：印章被篡改或不是本平台所制",
    "validity": "签章时电子印章不在有效期内",
    "data_hash": "证照内容与签章时不一致：证照数据被篡改",
}


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def key_record(*, algorithm: str, public_pem: str) -> dict[str, str]:
    """A public-key record as seals and signatures carry it."""
    return {
        "kid": crypto.key_id(algorithm, public_pem),
        "alg": algorithm,
        "publicKey": crypto.b64u(crypto.public_der(algorithm, public_pem)),
    }


def pem_of(record: dict[str, Any]) -> str:
    """PEM text of a key record's SubjectPublicKeyInfo."""
    der = crypto.b64u_decode(str(record["publicKey"]))
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def new_esid(region_code: str) -> str:
    """印章编码: region (6) + year-less random part; unique, not secret."""
    return f"{region_code[:6]}{secrets.token_hex(6).upper()}"


# --- the seal picture ---------------------------------------------------------------------


def seal_svg(name: str, *, caption: str = "电子证照专用章", color: str = "#d40000") -> str:
    """A round official-style seal: the department's name on the upper arc, a
    star, the caption below. Each character is placed and rotated on its own
    (no ``textPath``), so browsers and WeasyPrint draw it alike."""
    cx = cy = 100.0
    chars = list(name)[:24]
    n = len(chars)
    span = min(250.0, 18.0 * n + 20)  # degrees of arc the name covers
    size = 22 if n <= 12 else max(14, int(22 - (n - 12) * 0.7))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="{PICTURE_MM}mm" height="{PICTURE_MM}mm">',
        f'<circle cx="100" cy="100" r="94" fill="none" stroke="{color}" stroke-width="5"/>',
    ]
    font = 'font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, sans-serif"'
    for i, ch in enumerate(chars):
        angle = -span / 2 + (span * (i + 0.5) / n if n else 0)
        parts.append(
            f'<text x="100" y="{cy - 66:.0f}" text-anchor="middle" font-size="{size}" fill="{color}" {font} '
            f'transform="rotate({angle:.2f} {cx:.0f} {cy:.0f})">{escape(ch)}</text>'
        )
    pts = []
    for k in range(10):  # a five-pointed star
        r = 30 if k % 2 == 0 else 12
        a = math.radians(-90 + k * 36)
        pts.append(f"{cx + r * math.cos(a):.2f},{cy + r * math.sin(a):.2f}")
    parts.append(f'<polygon points="{" ".join(pts)}" fill="{color}"/>')
    parts.append(
        f'<text x="100" y="158" text-anchor="middle" font-size="15" fill="{color}" {font}>{escape(caption)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


# --- making and signing --------------------------------------------------------------------


def seal_info(
    *,
    esid: str,
    name: str,
    certs: list[dict[str, str]],
    created: dt.datetime,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    picture_type: str,
    picture: bytes,
) -> dict[str, Any]:
    return {
        "header": {"ID": "ES", "version": SEAL_VERSION, "Vid": "tongban"},
        "esID": esid,
        "property": {
            "type": SEAL_TYPE_ORGANISATION,
            "name": name,
            "certListType": CERT_LIST_KEYS,
            "certs": certs,
            "createDate": utc_text(created),
            "validStart": utc_text(valid_from),
            "validEnd": utc_text(valid_until),
        },
        "picture": {
            "type": picture_type,
            "data": crypto.b64u(picture),
            "width": PICTURE_MM,
            "height": PICTURE_MM,
        },
    }


def seal_tbs(doc: dict[str, Any]) -> bytes:
    """What the seal maker signs: the seal without its signedValue."""
    return crypto.canonical(
        {"sealInfo": doc["sealInfo"], "cert": doc["cert"], "signAlgID": doc["signAlgID"]}
    )


def make_seal_document(
    info: dict[str, Any], *, maker: crypto.PrivateKey, maker_record: dict[str, str]
) -> dict[str, Any]:
    doc = {"sealInfo": info, "cert": maker_record, "signAlgID": crypto.SIGN_OIDS[maker.algorithm]}
    doc["signedValue"] = crypto.b64u(maker.sign(seal_tbs(doc)))
    return doc


def seal_hash(doc: dict[str, Any], algorithm: str) -> str:
    return crypto.b64u(crypto.digest(algorithm, crypto.canonical(doc)))


def sign_document(
    document: dict[str, Any],
    *,
    identifier: str,
    seal_doc: dict[str, Any],
    signer: crypto.PrivateKey,
    signer_record: dict[str, str],
    at: dt.datetime,
) -> tuple[dict[str, Any], str]:
    """Apply the seal to ``document``: (SES_Signature, hex digest of the canonical document)."""
    alg = signer.algorithm
    data_digest = crypto.digest(alg, crypto.canonical(document))
    tbs = {
        "version": SEAL_VERSION,
        "eseal": {"esID": seal_doc["sealInfo"]["esID"], "sealHash": seal_hash(seal_doc, alg)},
        "timeInfo": utc_text(at),
        "dataHash": crypto.b64u(data_digest),
        "hashAlgID": crypto.HASH_OIDS[alg],
        "propertyInfo": identifier,
    }
    sig = {
        "TBS_Sign": tbs,
        "cert": signer_record,
        "signatureAlgID": crypto.SIGN_OIDS[alg],
        "signature": crypto.b64u(signer.sign(crypto.canonical(tbs))),
    }
    return sig, data_digest.hex()


# --- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealCheck:
    ok: bool
    step: str = ""  # the first failed step (STEP_MESSAGES key)

    @property
    def message(self) -> str:
        return "签章验证通过" if self.ok else STEP_MESSAGES.get(self.step, "签章验证失败")


def _record_matches(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(str(a.get(k)) == str(b.get(k)) for k in ("kid", "alg", "publicKey"))


def verify_seal(seal_doc: dict[str, Any], *, makers: dict[str, dict[str, str]]) -> bool:
    """The seal maker's signature over the seal, by a maker key the platform trusts (``makers``: kid → record)."""
    try:
        cert = seal_doc["cert"]
        trusted = makers.get(str(cert.get("kid")))
        if trusted is None or not _record_matches(cert, trusted):
            return False
        alg = crypto.OID_ALGORITHMS.get(seal_doc["signAlgID"])
        if alg != cert["alg"]:
            return False
        return crypto.verify(
            alg, pem_of(cert), crypto.b64u_decode(seal_doc["signedValue"]), seal_tbs(seal_doc)
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def verify_signature(
    signature: dict[str, Any],
    *,
    seal_doc: dict[str, Any],
    makers: dict[str, dict[str, str]],
    document: dict[str, Any],
    identifier: str,
    seal_ok: bool | None = None,
    seal_digest: str | None = None,
) -> SealCheck:
    """Check a SES_Signature over ``document`` in the order of STANDARDS §4.

    ``seal_ok``: the result of ``verify_seal`` for this seal when the caller
    already knows it (seals are immutable: it may be cached per seal digest);
    ``seal_digest``: ``seal_hash(seal_doc, <the signature's algorithm>)`` when
    the caller computed it already.
    """
    try:
        tbs = signature["TBS_Sign"]
        cert = signature["cert"]
        alg = crypto.OID_ALGORITHMS.get(signature["signatureAlgID"])
        if alg is None or alg != cert.get("alg"):
            return SealCheck(False, "format")
        # 1. the signature over TBS_Sign
        if not crypto.verify(
            alg, pem_of(cert), crypto.b64u_decode(signature["signature"]), crypto.canonical(tbs)
        ):
            return SealCheck(False, "signature")
        # 2. the signer's key is in the seal's list
        info = seal_doc["sealInfo"]
        if tbs["eseal"]["esID"] != info["esID"] or not any(
            _record_matches(cert, c) for c in info["property"]["certs"]
        ):
            return SealCheck(False, "cert_in_seal")
        expected = seal_digest if seal_digest is not None else seal_hash(seal_doc, alg)
        if tbs["eseal"]["sealHash"] != expected:
            return SealCheck(False, "seal")
        # 3. the seal maker's signature over the seal
        if not (seal_ok if seal_ok is not None else verify_seal(seal_doc, makers=makers)):
            return SealCheck(False, "seal")
        # 4. validity periods: the seal was valid when it was applied
        at = parse_utc(tbs["timeInfo"])
        prop = info["property"]
        if not parse_utc(prop["validStart"]) <= at <= parse_utc(prop["validEnd"]):
            return SealCheck(False, "validity")
        # 5. the document hash (and the document it names)
        if tbs["propertyInfo"] != identifier or tbs["hashAlgID"] != crypto.HASH_OIDS[alg]:
            return SealCheck(False, "data_hash")
        if crypto.b64u_decode(tbs["dataHash"]) != crypto.digest(alg, crypto.canonical(document)):
            return SealCheck(False, "data_hash")
    except (KeyError, TypeError, ValueError, AttributeError, crypto.CanonicalError):
        return SealCheck(False, "format")
    return SealCheck(True)
