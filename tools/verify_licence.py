#!/usr/bin/env python3
"""Offline verifier of tongban electronic-licence QR codes (电子证照离线核验).

Stands alone: needs only the published public keys (the JSON of
``GET /api/v1/licences/keys``, saved to a file) and the QR payload — no network,
no database, no tongban code. Libraries: ``cryptography`` (Ed25519, SM3) and
``tongsuopy`` (SM2, only for SM2 keys).

    python tools/verify_licence.py --keys keys.json 'TB1.eyJ…'
    python tools/verify_licence.py --keys keys.json 'https://…/verify?p=TB1.eyJ…'
    python tools/verify_licence.py --keys keys.json --json -   # payload on stdin

Checks, in order: the payload's form; the signing key (``k``) is a published
department seal key; the seal's signature over the payload bytes; when the key
entry carries its seal (GB/T 38540 shape), that the key is in the seal's list
and that a published seal-maker key signed the seal; the key was valid on the
issue date; the validity period against today. Offline it cannot know whether
the licence was later revoked or annulled — it says so.

Exit status: 0 authentic and within its validity period, 2 authentic but
expired, 1 verification failed, 3 bad usage or unreadable key file.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import sys
import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlsplit

SIGN_OIDS = {"1.2.156.10197.1.501": "sm2", "1.3.101.112": "ed25519"}
HASH_OIDS = {"sm2": "1.2.156.10197.1.401", "ed25519": "2.16.840.1.101.3.4.2.1"}


class Failed(Exception):
    pass


def b64u_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise Failed("数据格式不正确")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise Failed("数据格式不正确") from e


def canonical(obj: Any) -> bytes:
    """Sorted-key compact JSON, UTF-8, NFC-normalised strings (the platform's canonical form)."""

    def nfc(v: Any) -> Any:
        if isinstance(v, str):
            return unicodedata.normalize("NFC", v)
        if isinstance(v, dict):
            return {unicodedata.normalize("NFC", k): nfc(x) for k, x in v.items()}
        if isinstance(v, list):
            return [nfc(x) for x in v]
        return v

    return json.dumps(nfc(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def public_key_from_jwk(jwk: dict[str, Any]) -> tuple[str, Any]:
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return "ed25519", Ed25519PublicKey.from_public_bytes(b64u_decode(jwk["x"]))
    if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
        from tongsuopy.crypto.asymciphers import ec

        x = int.from_bytes(b64u_decode(jwk["x"]), "big")
        y = int.from_bytes(b64u_decode(jwk["y"]), "big")
        return "sm2", ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key()
    raise Failed(f"不支持的密钥类型：{jwk.get('kty')}/{jwk.get('crv')}")


def public_key_from_spki(alg: str, b64: str) -> Any:
    der = b64u_decode(b64)
    if alg == "ed25519":
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        return load_der_public_key(der)
    if alg == "sm2":
        from tongsuopy.crypto.serialization import load_der_public_key as load_sm2

        return load_sm2(der)
    raise Failed(f"不支持的算法：{alg}")


def signature_ok(alg: str, key: Any, signature: bytes, data: bytes) -> bool:
    try:
        if alg == "ed25519":
            key.verify(signature, data)
        else:
            from tongsuopy.crypto import hashes
            from tongsuopy.crypto.asymciphers import ec

            key.verify(signature, data, ec.ECDSA(hashes.SM3()))  # distid 1234567812345678
        return True
    except Exception:
        return False


def same_key(alg: str, key_a: Any, key_b: Any) -> bool:
    if alg == "ed25519":
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return key_a.public_bytes(Encoding.Raw, PublicFormat.Raw) == key_b.public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
    return key_a.public_numbers() == key_b.public_numbers()


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def extract_payload(text: str) -> str:
    text = text.strip()
    if "p=" in text and ("?" in text or text.startswith("http")):
        found = parse_qs(urlsplit(text).query).get("p")
        if found:
            return found[0].strip()
    return text


def check_seal(
    entry: dict[str, Any], key: Any, alg: str, makers: dict[str, dict[str, Any]]
) -> None:
    seal = entry.get("seal")
    if not seal:
        return
    info = seal["sealInfo"]
    certs = info["property"]["certs"]
    listed = [c for c in certs if c.get("kid") == entry["kid"] and c.get("alg") == alg]
    if not listed or not same_key(alg, public_key_from_spki(alg, listed[0]["publicKey"]), key):
        raise Failed("签名密钥不在电子印章的密钥列表中")
    cert = seal["cert"]
    maker = makers.get(cert.get("kid"))
    if maker is None:
        raise Failed("电子印章的制章者密钥未公布，无法确认印章来源")
    maker_alg, maker_key = public_key_from_jwk(maker)
    if SIGN_OIDS.get(seal.get("signAlgID")) != maker_alg or cert.get("alg") != maker_alg:
        raise Failed("电子印章的签名算法不一致")
    if not same_key(maker_alg, public_key_from_spki(maker_alg, cert["publicKey"]), maker_key):
        raise Failed("电子印章的制章者密钥与公布的不一致")
    tbs = canonical({"sealInfo": info, "cert": cert, "signAlgID": seal["signAlgID"]})
    if not signature_ok(maker_alg, maker_key, b64u_decode(seal["signedValue"]), tbs):
        raise Failed("电子印章的制章者签名无效：印章被篡改或不是该平台所制")


def verify(keys_doc: dict[str, Any], text: str, *, today: dt.date) -> dict[str, Any]:
    raw = extract_payload(text)
    parts = raw.split(".")
    if len(parts) != 3 or parts[0] != "TB1":
        raise Failed("不是电子证照二维码内容（应以 TB1. 开头）")
    body, sig = b64u_decode(parts[1]), b64u_decode(parts[2])
    try:
        claims = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Failed("二维码内容无法解析") from e
    if not isinstance(claims, dict) or claims.get("v") != 1:
        raise Failed("不支持的二维码版本")
    entries = {k.get("kid"): k for k in keys_doc.get("keys", []) if isinstance(k, dict)}
    makers = {kid: k for kid, k in entries.items() if k.get("kind") == "maker"}
    entry = entries.get(claims.get("k"))
    if entry is None or entry.get("kind") != "department":
        raise Failed("签名密钥未在公钥文件中公布（密钥编号不符，或公钥文件过旧）")
    alg, key = public_key_from_jwk(entry)
    if alg != entry.get("tb_alg", alg):
        raise Failed("公钥文件中的算法不一致")
    if not signature_ok(alg, key, sig, body):
        raise Failed("签名无效：二维码内容被篡改，或不是该颁发机构所签")
    check_seal(entry, key, alg, makers)
    issued = dt.date.fromisoformat(claims["d"])
    if (
        not parse_utc(entry["valid_from"]).date()
        <= issued
        <= parse_utc(entry["valid_until"]).date()
    ):
        raise Failed("颁证日期不在签名印章的有效期内")
    until = claims.get("vu") or ""
    expired = bool(until) and dt.date.fromisoformat(until) < today
    return {"claims": claims, "expired": expired, "issuer": entry.get("issuer", ""), "alg": alg}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="离线核验通办电子证照二维码")
    ap.add_argument("--keys", required=True, help="公钥文件（GET /api/v1/licences/keys 的 JSON）")
    ap.add_argument("payload", help="二维码内容（TB1.…），或含 p= 的链接；- 从标准输入读取")
    ap.add_argument("--today", help="按此日期判断是否过期（YYYY-MM-DD，默认今天）")
    ap.add_argument("--json", action="store_true", help="输出 JSON")
    args = ap.parse_args(argv)
    try:
        with open(args.keys, encoding="utf-8") as f:
            keys_doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"无法读取公钥文件：{e}", file=sys.stderr)
        return 3
    text = sys.stdin.read() if args.payload == "-" else args.payload
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()  # noqa: DTZ011 -- the verifier's own calendar day
    try:
        out = verify(keys_doc, text, today=today)
    except (Failed, KeyError, TypeError, ValueError) as e:
        message = str(e) if isinstance(e, Failed) else "二维码内容不完整或格式不正确"
        if args.json:
            print(
                json.dumps(
                    {"ok": False, "result": "invalid", "message": message}, ensure_ascii=False
                )
            )
        else:
            print(f"✕ 验证失败：{message}")
        return 1
    c = out["claims"]
    result = "expired" if out["expired"] else "valid"
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "result": result,
                    "issuer": out["issuer"],
                    "algorithm": out["alg"],
                    "claims": c,
                },
                ensure_ascii=False,
            )
        )
    else:
        head = (
            "! 签名有效，但证照已超过有效期"
            if out["expired"]
            else "✓ 签名有效：该证照由颁发机构签发，内容未被篡改"
        )
        print(head)
        print(f"  证照名称：{c.get('n', '')}")
        print(f"  证照编号：{c.get('no', '')}")
        print(f"  持证主体：{c.get('h', '')}（{c.get('hc', '')}）")
        print(f"  颁发机构：{c.get('i', '')}")
        print(f"  颁证日期：{c.get('d', '')}")
        print(f"  有效期：{c.get('vf', '')} 至 {c.get('vu') or '长期'}")
        print(f"  证照标识：{c.get('id', '')}")
        print("  注意：离线核验无法得知证照是否已被吊销或注销，请尽可能在线核验。")
    return 2 if out["expired"] else 0


if __name__ == "__main__":
    sys.exit(main())
