"""Notifications (DESIGN §6.10): the kinds of "waiting on a person", who can act on each (the
permission of the route that acts), and the message each channel carries. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote_plus

Channel = Literal["wecom", "dingtalk", "email"]
CHANNELS: Final[tuple[Channel, ...]] = ("wecom", "dingtalk", "email")

# kind -> (permission of whoever can act, title in the group chat / e-mail subject)
KINDS: Final[dict[str, tuple[str, str]]] = {
    "po_approval": ("purchase.approve", "采购单待审批"),
    "risk_review": ("orders.review", "风险订单待审核"),
    "weight_hold": ("packages.override", "包裹称重异常待处理"),
    "parcel_exception": ("packages.decide", "包裹异常（丢失/拒收/缺货）待决定"),
    "after_sale_decision": ("aftersales.decide", "售后申请待审核"),
    "refund_refused": ("aftersales.decide", "退款被拒待重试"),
    "return_inspection": ("aftersales.inbound", "退货已到仓待验收"),
    "invoice_mismatch": ("purchase.settle", "供应商发票三单不符待审批"),
    "reconciliation_difference": ("finance.reconcile", "对账差异待处理"),
    "escalated_wave": ("waves.plan", "波次超时升级"),
    "late_package": ("waves.plan", "包裹赶不上承诺发货时间"),
    "late_payment": ("finance.reconcile", "订单关闭后收到付款"),
    "low_stock": ("purchase.write", "库存低于补货点"),
    "low_tracking_range": ("carrier.write", "运单号段余量不足"),
}

# step -> what it adds to the title
STEPS: Final[dict[str, str]] = {
    "reminder": "（超时提醒）",
    "escalated": "（已升级）",
    "auto_approved": "（已自动通过）",
}


def permission_of(kind: str) -> str:
    return KINDS[kind][0]


def notification_key(kind: str, ref: str, step: str) -> str:
    """Idempotency: the same (kind, business number, step) is one notification."""
    return f"{kind}:{ref}:{step}"[:160]


def message_id(key: str, subscription_id: int) -> str:
    """The delivery's id, the same on every attempt: a receiver drops what it already has."""
    digest = hashlib.sha256(f"{key}|{subscription_id}".encode()).hexdigest()[:40]
    return f"houtai-{digest}"


@dataclass(frozen=True)
class Message:
    title: str
    lines: tuple[str, ...]
    link: str

    def text(self) -> str:
        return "\n".join((self.title, *self.lines, self.link))

    def markdown(self) -> str:
        body = "\n".join(f"> {line}" for line in self.lines)
        return f"### {self.title}\n{body}\n\n[{self.link}]({self.link})"


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def render(
    *,
    kind: str,
    step: str,
    ref: str,
    detail: str,
    amount_fen: int | None,
    order_no: str | None,
    link: str,
) -> Message:
    title = f"【houtai】{KINDS[kind][1]}{STEPS.get(step, '')} {ref}"
    lines = [ln for ln in (detail,) if ln]
    if order_no and order_no != ref:
        lines.append(f"订单 {order_no}")
    if amount_fen is not None:
        lines.append(f"金额 {yuan(amount_fen)}")
    return Message(title=title, lines=tuple(lines), link=link)


def wecom_body(message: Message) -> dict[str, object]:
    """企业微信 group robot: `POST …/cgi-bin/webhook/send?key=…`."""
    return {"msgtype": "markdown", "markdown": {"content": message.markdown()}}


def dingtalk_body(message: Message) -> dict[str, object]:
    """钉钉 group robot: `POST …/robot/send?access_token=…`."""
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode())


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    if not secret:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def backoff_s(attempts: int, first_s: float, max_s: float) -> float:
    """The wait after the `attempts`-th failed attempt: doubling, capped."""
    return float(min(max_s, first_s * (2 ** max(0, attempts - 1))))
