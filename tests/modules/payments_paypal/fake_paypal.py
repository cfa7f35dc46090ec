"""An in-memory PayPal behind a ``requests`` transport adapter, for the tests.

It answers what the provider calls through paypal-server-sdk: OAuth tokens,
Orders v2 (create, get, capture, authorize), Payments v2 (authorizations:
get, capture, void; captures: get, refund; refunds: get) and
``/v1/notifications/verify-webhook-signature``, with PayPal's JSON shapes,
status codes, error bodies and PayPal-Request-Id idempotency. The SDK sends
through a real ``requests.Session`` whose adapter is this fake, so the
provider's code and the SDK run unchanged; nothing leaves the process.

It also plays the buyer's side (approving at PayPal) and PayPal's webhook
sender: :meth:`FakePayPal.signed` keeps what it "signed" by transmission id,
and the verify endpoint answers FAILURE for anything else.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

API_HOSTS = {"api-m.sandbox.paypal.com": "sandbox", "api-m.paypal.com": "live"}
WEB_HOSTS = {"sandbox": "https://www.sandbox.paypal.com", "live": "https://www.paypal.com"}
NO_DECIMALS = {"JPY", "HUF", "TWD"}
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity", 500: "Internal Server Error"}
MERCHANT = {"email_address": "merchant@cabinet.example", "merchant_id": "C7CYMKZDG8D6E"}
SELLER_PROTECTION = {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]}


def _now(offset=timedelta()):
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paypal_id(length=17):
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def _debug_id():
    return secrets.token_hex(7)


class PayPalError(Exception):
    """An error answer, shaped as PayPal's (name, message, debug_id, details[issue, description])."""

    def __init__(self, status, name, message, issue=None, description=None):
        super().__init__(name)
        self.status = status
        self.body = {"name": name, "message": message, "debug_id": _debug_id()}
        if issue:
            self.body["details"] = [{"issue": issue, "description": description or message}]
            self.body["links"] = [{"href": f"https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{issue}",
                                   "rel": "information_link", "method": "GET"}]


def _unprocessable(issue, description):
    return PayPalError(422, "UNPROCESSABLE_ENTITY",
                       "The requested action could not be performed, semantically incorrect, or failed business "
                       "validation.", issue, description)


def _not_found(what):
    return PayPalError(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID",
                       f"Specified resource ID does not exist. Please check the resource ID ({what}) and try again.")


def _invalid(description, issue="INVALID_PARAMETER_VALUE"):
    return PayPalError(400, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates "
                       "schema.", issue, description)


def _decimal(value):
    return Decimal(str(value))


def _money(currency, value: Decimal):
    quantum = Decimal(1) if currency in NO_DECIMALS else Decimal("0.01")
    return {"currency_code": currency, "value": format(value.quantize(quantum, ROUND_HALF_UP), "f")}


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    body: object

    @property
    def request_id(self):
        return self.headers.get("PayPal-Request-Id") or self.headers.get("paypal-request-id")


@dataclass
class Fault:
    """What goes wrong with the next matching call: "timeout_after" (PayPal did it, the answer
    was lost), "timeout_before" (never reached PayPal), an HTTP status (500, 503, ...), or
    (status, issue) for one of PayPal's business errors."""

    method: str
    path: str
    kind: object
    times: int = 1


@dataclass
class _Order:
    id: str
    intent: str
    status: str
    unit: dict
    experience: dict
    create_time: str
    payer: dict | None = None
    authorization_ids: list = field(default_factory=list)
    capture_ids: list = field(default_factory=list)
    update_time: str = ""


class FakePayPal:
    def __init__(self, *, client_id, client_secret, webhook_id, environment="sandbox"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_id = webhook_id
        self.environment = environment
        self.api = "https://" + next(host for host, env in API_HOSTS.items() if env == environment)
        self.web = WEB_HOSTS[environment]
        self.tokens: dict[str, datetime] = {}
        self.orders: dict[str, _Order] = {}
        self.authorizations: dict[str, dict] = {}
        self.captures: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.related: dict[str, dict] = {}  # capture/authorization/refund id → related ids
        self.replies: dict[tuple, tuple] = {}  # (method, path, PayPal-Request-Id) → (status, body)
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.signed_events: dict[str, dict] = {}
        #: What the next order capture does: "COMPLETED", "PENDING", "DECLINED" or "INSTRUMENT_DECLINED".
        self.capture_outcome = "COMPLETED"
        #: Set to a major-unit string to make PayPal capture/authorize another amount than the order's.
        self.amount_override: str | None = None
        # PayPal serialises the calls of one idempotency key; one lock is enough here.
        self._lock = threading.RLock()

    # --- The transport -------------------------------------------------------
    def session(self):
        session = requests.Session()
        adapter = _Adapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def fail_next(self, method, path, kind, times=1):
        self.faults.append(Fault(method, path, kind, times))

    def calls_to(self, method, path_pattern):
        return [call for call in self.calls if call.method == method and re.fullmatch(path_pattern, call.path)]

    def handle(self, request):
        url = urlsplit(request.url)
        if url.hostname not in API_HOSTS:
            raise AssertionError(f"The code under test called {request.url}, which is not PayPal's API")
        if API_HOSTS[url.hostname] != self.environment:
            raise AssertionError(f"Called PayPal {API_HOSTS[url.hostname]} while the fake is {self.environment}")
        headers = dict(request.headers)
        raw = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        self.calls.append(Call(request.method, url.path, headers, raw))
        fault = next((f for f in self.faults if f.method == request.method and re.fullmatch(f.path, url.path)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            if fault.kind == "timeout_before":
                raise requests.exceptions.ConnectTimeout("fake PayPal: connect timed out", request=request)
            if isinstance(fault.kind, tuple):  # (422, "ISSUE")
                error = _unprocessable(fault.kind[1], "Injected by the test.")
                return self._response(request, fault.kind[0], error.body)
            if isinstance(fault.kind, int):
                return self._response(request, fault.kind, {"name": "INTERNAL_SERVER_ERROR", "message":
                                      "An internal server error occurred.", "debug_id": _debug_id()})
        try:
            with self._lock:
                status, body = self._dispatch(request.method, url.path, CaseInsensitiveDict(headers), raw)
        except PayPalError as exc:
            status, body = exc.status, exc.body
        if fault is not None and fault.kind == "timeout_after":
            raise requests.exceptions.ReadTimeout("fake PayPal: read timed out", request=request)
        return self._response(request, status, body)

    def _response(self, request, status, body):
        response = requests.Response()
        response.status_code = status
        response.reason = REASONS.get(status, "")
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", "Paypal-Debug-Id": _debug_id()})
        response._content = json.dumps(body).encode() if body is not None else b""
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    # --- Routing ---------------------------------------------------------------
    ROUTES = [
        ("POST", r"/v1/oauth2/token", "_token"),
        ("POST", r"/v2/checkout/orders", "_create_order"),
        ("GET", r"/v2/checkout/orders/(?P<id>[^/]+)", "_get_order"),
        ("POST", r"/v2/checkout/orders/(?P<id>[^/]+)/capture", "_capture_order"),
        ("POST", r"/v2/checkout/orders/(?P<id>[^/]+)/authorize", "_authorize_order"),
        ("GET", r"/v2/payments/authorizations/(?P<id>[^/]+)", "_get_authorization"),
        ("POST", r"/v2/payments/authorizations/(?P<id>[^/]+)/capture", "_capture_authorization"),
        ("POST", r"/v2/payments/authorizations/(?P<id>[^/]+)/void", "_void_authorization"),
        ("GET", r"/v2/payments/captures/(?P<id>[^/]+)", "_get_capture"),
        ("POST", r"/v2/payments/captures/(?P<id>[^/]+)/refund", "_refund_capture"),
        ("GET", r"/v2/payments/refunds/(?P<id>[^/]+)", "_get_refund"),
        ("POST", r"/v1/notifications/verify-webhook-signature", "_verify_signature"),
    ]

    def _dispatch(self, method, path, headers, raw):
        route = next(((handler, re.fullmatch(pattern, path)) for route_method, pattern, handler in self.ROUTES
                      if route_method == method and re.fullmatch(pattern, path)), None)
        if route is None:
            raise PayPalError(404, "RESOURCE_NOT_FOUND", f"No such endpoint: {method} {path}")
        handler, match = route
        if handler != "_token":
            self._authenticate(headers)
        body = None
        if method == "POST" and handler != "_token":
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise _invalid("The request JSON is not well formed.", "MALFORMED_REQUEST_JSON") from None
        request_id = headers.get("PayPal-Request-Id")
        key = (method, path, request_id)
        if request_id and key in self.replies:
            status, reply = self.replies[key]
            return (200 if status == 201 else status), copy.deepcopy(reply)
        status, reply = getattr(self, handler)(headers=headers, raw=raw, body=body, **match.groupdict())
        if request_id and method == "POST":
            self.replies[key] = (status, copy.deepcopy(reply))
        if reply is not None and headers.get("Prefer", "") != "return=representation" and method == "POST" \
                and handler not in ("_token", "_verify_signature"):
            reply = {k: reply[k] for k in ("id", "status", "links") if k in reply}
        return status, reply

    def _authenticate(self, headers):
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or self.tokens.get(token, datetime.min.replace(tzinfo=UTC)) < datetime.now(UTC):
            raise PayPalError(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication "
                              "credentials or a missing Authorization header.")

    # --- OAuth -------------------------------------------------------------------
    def _token(self, headers, raw, body):
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(raw)
        if headers.get("Authorization") != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return 401, {"error": "invalid_client", "error_description": "Client Authentication failed"}
        token = "A21AA" + secrets.token_urlsafe(40)
        self.tokens[token] = datetime.now(UTC) + timedelta(seconds=32400)
        return 200, {"scope": "https://uri.paypal.com/services/payments/payment/authcode "
                     "https://uri.paypal.com/services/payments/refund openid", "access_token": token,
                     "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400,
                     "nonce": f"{_now()}{secrets.token_urlsafe(12)}"}

    # --- Orders --------------------------------------------------------------------
    def _create_order(self, headers, raw, body):
        intent = body.get("intent")
        if intent not in ("CAPTURE", "AUTHORIZE"):
            raise _invalid("intent must be CAPTURE or AUTHORIZE")
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1:
            raise _invalid("purchase_units must hold one purchase unit here")
        unit = copy.deepcopy(units[0])
        amount = unit.get("amount") or {}
        currency, value = amount.get("currency_code", ""), str(amount.get("value", ""))
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise _invalid("currency_code is not an ISO 4217 code")
        if not re.fullmatch(r"\d{1,10}(\.\d{1,2})?", value):
            raise _invalid("value is not a decimal amount")
        if currency in NO_DECIMALS and "." in value:
            raise _unprocessable("DECIMAL_PRECISION", f"{currency} does not support decimals.")
        if _decimal(value) <= 0:
            raise _unprocessable("AMOUNT_NOT_POSITIVE", "The amount must be greater than zero.")
        for name, limit in (("custom_id", 127), ("invoice_id", 127), ("description", 127)):
            if len(str(unit.get(name, ""))) > limit:
                raise _invalid(f"{name} is longer than {limit} characters", "INVALID_STRING_LENGTH")
        experience = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context") or {}
        if not experience.get("return_url") or not experience.get("cancel_url"):
            raise _invalid("experience_context needs return_url and cancel_url", "MISSING_REQUIRED_PARAMETER")
        unit.setdefault("reference_id", "default")
        unit["payee"] = dict(MERCHANT)
        order = _Order(id=_paypal_id(), intent=intent, status="PAYER_ACTION_REQUIRED", unit=unit,
                       experience=experience, create_time=_now())
        self.orders[order.id] = order
        return 201, self.order_json(order.id)

    def order_json(self, order_id):
        order = self.orders[order_id]
        unit = copy.deepcopy(order.unit)
        payments = {}
        if order.authorization_ids:
            payments["authorizations"] = [self._nested(self.authorizations[i]) for i in order.authorization_ids]
        if order.capture_ids:
            payments["captures"] = [self._nested(self.captures[i]) for i in order.capture_ids]
            refunds = [self._nested(r) for r in self.refunds.values()
                       if self.related[r["id"]]["capture_id"] in order.capture_ids]
            if refunds:
                payments["refunds"] = refunds
        if payments:
            unit["payments"] = payments
        data = {"id": order.id, "intent": order.intent, "status": order.status,
                "payment_source": {"paypal": self._wallet(order)}, "purchase_units": [unit],
                "create_time": order.create_time}
        if order.update_time:
            data["update_time"] = order.update_time
        if order.payer:
            data["payer"] = copy.deepcopy(order.payer)
        links = [{"href": f"{self.api}/v2/checkout/orders/{order.id}", "rel": "self", "method": "GET"}]
        if order.status == "PAYER_ACTION_REQUIRED":
            links.append({"href": f"{self.web}/checkoutnow?token={order.id}", "rel": "payer-action", "method": "GET"})
        elif order.status == "APPROVED":
            links += [{"href": f"{self.api}/v2/checkout/orders/{order.id}", "rel": "update", "method": "PATCH"},
                      {"href": f"{self.api}/v2/checkout/orders/{order.id}/{order.intent.lower()}",
                       "rel": order.intent.lower(), "method": "POST"}]
        data["links"] = links
        return data

    def _wallet(self, order):
        if not order.payer:
            return {}
        return {"email_address": order.payer["email_address"], "account_id": order.payer["payer_id"],
                "account_status": "VERIFIED", "name": copy.deepcopy(order.payer["name"]),
                "address": {"country_code": "FR"}}

    @staticmethod
    def _nested(obj):
        """An object as it appears inside its order (without supplementary_data and payee)."""
        return {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("supplementary_data", "payee")}

    def _order(self, order_id):
        if order_id not in self.orders:
            raise _not_found(order_id)
        return self.orders[order_id]

    def _get_order(self, headers, raw, body, id):
        self._order(id)
        return 200, self.order_json(id)

    def _approved(self, order, intent):
        if order.intent != intent:
            raise _unprocessable("ACTION_DOES_NOT_MATCH_INTENT", f"Order was created with an intent to "
                                 f"'{order.intent}'. Please use /{order.intent.lower()} instead.")
        if order.status == "COMPLETED":
            issue = "ORDER_ALREADY_CAPTURED" if intent == "CAPTURE" else "ORDER_ALREADY_AUTHORIZED"
            raise _unprocessable(issue, "Order already captured or authorized.")
        if order.status != "APPROVED":
            raise _unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")

    def _unit_amount(self, order):
        amount = order.unit["amount"]
        if self.amount_override is not None:
            return {"currency_code": amount["currency_code"], "value": self.amount_override}
        return dict(amount)

    def _capture_order(self, headers, raw, body, id):
        order = self._order(id)
        self._approved(order, "CAPTURE")
        if self.capture_outcome == "INSTRUMENT_DECLINED":
            raise _unprocessable("INSTRUMENT_DECLINED", "The instrument presented was either declined by the "
                                 "processor or bank, or it can't be used for this payment.")
        self._new_capture(order, self._unit_amount(order), status=self.capture_outcome, final=True)
        order.status = "COMPLETED"
        order.update_time = _now()
        return 201, self.order_json(id)

    def _authorize_order(self, headers, raw, body, id):
        order = self._order(id)
        self._approved(order, "AUTHORIZE")
        authorization_id = _paypal_id()
        self.authorizations[authorization_id] = {
            "id": authorization_id, "status": "CREATED", "amount": self._unit_amount(order),
            "invoice_id": order.unit.get("invoice_id"), "custom_id": order.unit.get("custom_id"),
            "seller_protection": copy.deepcopy(SELLER_PROTECTION), "expiration_time": _now(timedelta(days=29)),
            "links": [
                {"href": f"{self.api}/v2/payments/authorizations/{authorization_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.api}/v2/payments/authorizations/{authorization_id}/capture", "rel": "capture",
                 "method": "POST"},
                {"href": f"{self.api}/v2/payments/authorizations/{authorization_id}/void", "rel": "void",
                 "method": "POST"},
                {"href": f"{self.api}/v2/payments/authorizations/{authorization_id}/reauthorize",
                 "rel": "reauthorize", "method": "POST"},
                {"href": f"{self.api}/v2/checkout/orders/{order.id}", "rel": "up", "method": "GET"},
            ],
            "create_time": _now(), "update_time": _now(),
            "supplementary_data": {"related_ids": {"order_id": order.id}}, "payee": dict(MERCHANT),
        }
        self.related[authorization_id] = {"order_id": order.id}
        order.authorization_ids.append(authorization_id)
        order.status = "COMPLETED"
        order.update_time = _now()
        return 201, self.order_json(id)

    def _new_capture(self, order, amount, *, status="COMPLETED", final=True, authorization_id=None):
        capture_id = _paypal_id()
        currency = amount["currency_code"]
        gross = _decimal(amount["value"])
        fee = Decimal(40) if currency in NO_DECIMALS else gross * Decimal("0.029") + Decimal("0.35")
        fee = min(fee, gross)
        capture = {
            "id": capture_id, "status": status, "amount": dict(amount), "final_capture": final,
            "seller_protection": copy.deepcopy(SELLER_PROTECTION),
            "seller_receivable_breakdown": {"gross_amount": _money(currency, gross),
                                            "paypal_fee": _money(currency, fee),
                                            "net_amount": _money(currency, gross - fee)},
            "invoice_id": order.unit.get("invoice_id"), "custom_id": order.unit.get("custom_id"),
            "links": [
                {"href": f"{self.api}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.api}/v2/payments/captures/{capture_id}/refund", "rel": "refund", "method": "POST"},
                {"href": (f"{self.api}/v2/payments/authorizations/{authorization_id}" if authorization_id
                          else f"{self.api}/v2/checkout/orders/{order.id}"), "rel": "up", "method": "GET"},
            ],
            "create_time": _now(), "update_time": _now(),
            "payee": dict(MERCHANT),
        }
        if status == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        related = {"order_id": order.id}
        if authorization_id:
            related["authorization_id"] = authorization_id
        capture["supplementary_data"] = {"related_ids": dict(related)}
        self.captures[capture_id] = capture
        self.related[capture_id] = related
        order.capture_ids.append(capture_id)
        return capture

    # --- Payments: authorizations, captures, refunds ---------------------------------
    def _authorization(self, authorization_id):
        if authorization_id not in self.authorizations:
            raise _not_found(authorization_id)
        return self.authorizations[authorization_id]

    def _get_authorization(self, headers, raw, body, id):
        return 200, copy.deepcopy(self._authorization(id))

    def _capture_authorization(self, headers, raw, body, id):
        authorization = self._authorization(id)
        if authorization["status"] == "VOIDED":
            raise _unprocessable("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured or "
                                 "reauthorized.")
        if authorization["status"] == "CAPTURED":
            raise _unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has been previously captured "
                                 "and hence cannot be captured again.")
        held = authorization["amount"]
        amount = body.get("amount") or held
        if amount.get("currency_code") != held["currency_code"]:
            raise _unprocessable("CURRENCY_MISMATCH", "Currency of capture must be the same as currency of "
                                 "authorization.")
        already = sum((_decimal(self.captures[c]["amount"]["value"]) for c in self.captures
                       if self.related[c].get("authorization_id") == id), Decimal(0))
        if already + _decimal(amount["value"]) > _decimal(held["value"]):
            raise _unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.")
        order = self.orders[self.related[id]["order_id"]]
        final = bool(body.get("final_capture", False))
        capture = self._new_capture(order, dict(amount), final=final, authorization_id=id)
        authorization["status"] = "CAPTURED" if final else "PARTIALLY_CAPTURED"
        authorization["update_time"] = _now()
        return 201, copy.deepcopy(capture)

    def _void_authorization(self, headers, raw, body, id):
        authorization = self._authorization(id)
        if authorization["status"] == "VOIDED":
            raise _unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided and hence cannot "
                                 "be voided again.")
        if authorization["status"] in ("CAPTURED", "PARTIALLY_CAPTURED"):
            raise _unprocessable("PREVIOUSLY_CAPTURED", "Authorization has been previously captured and hence "
                                 "cannot be voided.")
        authorization["status"] = "VOIDED"
        authorization["update_time"] = _now()
        if headers.get("Prefer") != "return=representation":
            return 204, None
        return 200, copy.deepcopy(authorization)

    def _capture(self, capture_id):
        if capture_id not in self.captures:
            raise _not_found(capture_id)
        return self.captures[capture_id]

    def _get_capture(self, headers, raw, body, id):
        return 200, copy.deepcopy(self._capture(id))

    def _refunded(self, capture_id):
        return sum((_decimal(r["amount"]["value"]) for r in self.refunds.values()
                    if self.related[r["id"]]["capture_id"] == capture_id), Decimal(0))

    def _refund_capture(self, headers, raw, body, id):
        capture = self._capture(id)
        if capture["status"] == "REFUNDED":
            raise _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.")
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise _unprocessable("REFUND_NOT_ALLOWED", "Refund cannot be issued for this capture.")
        currency = capture["amount"]["currency_code"]
        remaining = _decimal(capture["amount"]["value"]) - self._refunded(id)
        amount = body.get("amount") or _money(currency, remaining)
        if amount.get("currency_code") != currency:
            raise _unprocessable("REFUND_CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
        value = _decimal(amount["value"])
        if value <= 0 or value > remaining:
            raise _unprocessable("REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the "
                                 "capture amount that has not yet been refunded.")
        refund_id = _paypal_id()
        refund = {
            "id": refund_id, "status": "COMPLETED", "amount": _money(currency, value),
            "seller_payable_breakdown": {"gross_amount": _money(currency, value),
                                         "paypal_fee": _money(currency, Decimal(0)),
                                         "net_amount": _money(currency, value),
                                         "total_refunded_amount": _money(currency, self._refunded(id) + value)},
            "links": [{"href": f"{self.api}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                      {"href": f"{self.api}/v2/payments/captures/{id}", "rel": "up", "method": "GET"}],
            "create_time": _now(), "update_time": _now(),
        }
        for name in ("custom_id", "invoice_id", "note_to_payer"):
            if body.get(name):
                refund[name] = body[name]
        self.refunds[refund_id] = refund
        self.related[refund_id] = {"capture_id": id, "order_id": self.related[id]["order_id"]}
        capture["status"] = "REFUNDED" if value == remaining else "PARTIALLY_REFUNDED"
        capture["update_time"] = _now()
        return 201, copy.deepcopy(refund)

    def _get_refund(self, headers, raw, body, id):
        if id not in self.refunds:
            raise _not_found(id)
        return 200, copy.deepcopy(self.refunds[id])

    # --- Notifications ---------------------------------------------------------------
    def _verify_signature(self, headers, raw, body):
        needed = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
                  "webhook_id", "webhook_event")
        missing = [name for name in needed if not body.get(name)]
        if missing:
            raise PayPalError(400, "VALIDATION_ERROR", "Invalid request - see details",
                              "MISSING_REQUIRED_PARAMETER", f"missing: {', '.join(missing)}")
        signed = self.signed_events.get(body["transmission_id"])
        ok = (signed is not None and all(signed[name] == body[name] for name in needed[:-1])
              and signed["webhook_event"] == body["webhook_event"])
        return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}

    def event(self, event_type, resource, *, resource_type=None, summary=""):
        """A webhook event as PayPal sends it."""
        event_id = "WH-" + _paypal_id(17) + "-" + _paypal_id(17)
        return {
            "id": event_id, "event_version": "1.0", "create_time": _now(),
            "resource_type": resource_type or {"CHECKOUT": "checkout-order", "PAYMENT.CAPTURE": "capture",
                                               "PAYMENT.AUTHORIZATION": "authorization"}.get(
                                                   event_type.rsplit(".", 1)[0], "capture"),
            "resource_version": "2.0", "event_type": event_type,
            "summary": summary or event_type.replace(".", " ").capitalize(),
            "resource": copy.deepcopy(resource),
            "links": [{"href": f"{self.api}/v1/notifications/webhooks-events/{event_id}", "rel": "self",
                       "method": "GET"},
                      {"href": f"{self.api}/v1/notifications/webhooks-events/{event_id}/resend", "rel": "resend",
                       "method": "POST"}],
        }

    def signed(self, event, *, webhook_id=None):
        """(body bytes, request.META headers) of ``event`` as PayPal delivers it, remembered as signed."""
        body = json.dumps(event, separators=(",", ":")).encode()
        transmission_id = str(uuid.uuid4())
        transmission_time = _now()
        webhook_id = webhook_id or self.webhook_id
        signature = base64.b64encode(hashlib.sha256(
            f"{transmission_id}|{transmission_time}|{webhook_id}|{hashlib.sha256(body).hexdigest()}".encode()
        ).digest() * 8).decode()
        cert_url = f"{self.api}/v1/notifications/certs/CERT-360caa42-fca2a594-{secrets.token_hex(4)}"
        self.signed_events[transmission_id] = {
            "auth_algo": "SHA256withRSA", "cert_url": cert_url, "transmission_id": transmission_id,
            "transmission_sig": signature, "transmission_time": transmission_time, "webhook_id": webhook_id,
            "webhook_event": json.loads(body),
        }
        return body, {
            "HTTP_PAYPAL_AUTH_ALGO": "SHA256withRSA",
            "HTTP_PAYPAL_CERT_URL": cert_url,
            "HTTP_PAYPAL_TRANSMISSION_ID": transmission_id,
            "HTTP_PAYPAL_TRANSMISSION_SIG": signature,
            "HTTP_PAYPAL_TRANSMISSION_TIME": transmission_time,
        }

    # --- The buyer's side and PayPal's own work -------------------------------------
    def approve(self, order_id):
        """The buyer logs in at PayPal and approves; returns where PayPal sends the browser."""
        order = self._order(order_id)
        if order.status in ("CREATED", "PAYER_ACTION_REQUIRED"):
            order.status = "APPROVED"
            order.payer = {"name": {"given_name": "Camille", "surname": "Martin"},
                           "email_address": "camille-buyer@personal.example", "payer_id": _paypal_id(13),
                           "address": {"country_code": "FR"}}
            order.update_time = _now()
        query = urlencode({"token": order.id, "PayerID": order.payer["payer_id"]})
        return f"{order.experience['return_url']}?{query}"

    def cancel(self, order_id):
        """The buyer clicks "Cancel and return"; returns where PayPal sends the browser."""
        order = self._order(order_id)
        return f"{order.experience['cancel_url']}?{urlencode({'token': order.id})}"

    def complete(self, order_id):
        """Approved and captured (or authorized) at PayPal without our site being involved."""
        self.approve(order_id)
        order = self.orders[order_id]
        if order.intent == "CAPTURE":
            self._capture_order(headers={}, raw="", body={}, id=order_id)
        else:
            self._authorize_order(headers={}, raw="", body={}, id=order_id)
        return self.order_json(order_id)

    def capture_resource(self, order_id):
        """The capture of an order as a webhook carries it (with supplementary_data)."""
        return copy.deepcopy(self.captures[self.orders[order_id].capture_ids[-1]])

    # --- What PayPal holds, for assertions --------------------------------------------
    def captured_total(self, order_id) -> Decimal:
        return sum((_decimal(self.captures[c]["amount"]["value"]) for c in self.orders[order_id].capture_ids
                    if self.captures[c]["status"] in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")), Decimal(0))

    def refunded_total(self, order_id) -> Decimal:
        return sum((self._refunded(c) for c in self.orders[order_id].capture_ids), Decimal(0))

    def voided(self, order_id) -> bool:
        ids = self.orders[order_id].authorization_ids
        return bool(ids) and all(self.authorizations[i]["status"] == "VOIDED" for i in ids)


class _Adapter(BaseAdapter):
    def __init__(self, fake):
        super().__init__()
        self.fake = fake

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        return self.fake.handle(request)

    def close(self):
        pass
