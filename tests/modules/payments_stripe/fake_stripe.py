"""An in-memory Stripe behind a ``stripe.HTTPClient``, for the tests.

It answers what the provider calls through the official SDK: PaymentIntents
(create, retrieve, capture, cancel) and refunds (create, retrieve, list),
with Stripe's JSON shapes, status codes, error bodies and Idempotency-Key
semantics (the same key with the same parameters replays the first answer;
with other parameters it is an ``idempotency_error``). The SDK sends through
:class:`FakeHTTPClient`, so the provider's code and the SDK run unchanged and
nothing leaves the process.

It also plays the client's side (Stripe.js confirming an intent in the
page) and Stripe's webhook sender: :meth:`FakeStripe.signed` signs an event
with the SDK's own ``WebhookSignature.generate_signature_header``.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

API_HOST = "api.stripe.com"


def _id(prefix):
    return f"{prefix}_{secrets.token_hex(12)}"


def _decode(pairs):
    """Stripe's form encoding (``metadata[key]=v``, ``expand[0]=x``) back to nested dicts."""
    result = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


class StripeFault(Exception):
    """An error answer, shaped as Stripe's ({"error": {type, code, message, param, ...}})."""

    def __init__(self, status, error_type, message, code=None, param=None, **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": error_type, "message": message, **extra}}
        if code:
            self.body["error"]["code"] = code
            self.body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["error"]["param"] = param


def _invalid(message, code=None, param=None):
    return StripeFault(400, "invalid_request_error", message, code, param)


def _missing(kind, object_id, param="id"):
    return StripeFault(404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing", param)


def _unexpected_state(intent, action):
    return StripeFault(400, "invalid_request_error",
                       f"This PaymentIntent could not be {action} because it has a status of {intent['status']}.",
                       "payment_intent_unexpected_state", payment_intent=copy.deepcopy(intent))


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    params: dict

    @property
    def idempotency_key(self):
        return self.headers.get("Idempotency-Key")


@dataclass
class Fault:
    """What goes wrong with the next matching call: "timeout_after" (Stripe did it, the answer was
    lost), "timeout_before" (never reached Stripe), or an HTTP status (500, 503, 429, ...)."""

    method: str
    path: str
    kind: object
    times: int = 1


#: Test cards, as Stripe.js would send them when the client confirms in the page.
SUCCEEDS = "pm_card_visa"
DECLINED = "pm_card_visa_chargeDeclined"
INSUFFICIENT_FUNDS = "pm_card_visa_chargeDeclinedInsufficientFunds"
PROCESSING = "pm_sepaDebit"


class FakeStripe:
    def __init__(self, *, secret_key, publishable_key, webhook_secret):
        self.secret_key = secret_key
        self.publishable_key = publishable_key
        self.webhook_secret = webhook_secret
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._idempotent: dict[str, tuple] = {}
        self._lock = threading.RLock()

    # --- Test controls -------------------------------------------------------------
    def http_client(self):
        """What the provider's client module hands the SDK (replaces ``client.http_client_instance``)."""
        return FakeHTTPClient(self)

    def fail_next(self, method, path, kind, times=1):
        self.faults.append(Fault(method.upper(), path, kind, times))

    def calls_to(self, method, path_pattern):
        return [c for c in self.calls if c.method == method.upper() and re.fullmatch(path_pattern, c.path)]

    # --- Transport ---------------------------------------------------------------
    def handle(self, method, url, headers, post_data):
        parts = urlsplit(url)
        method = method.upper()
        assert parts.netloc == API_HOST, f"the fake Stripe only answers {API_HOST}, not {parts.netloc}"
        raw = post_data if method == "POST" else parts.query
        params = _decode(parse_qsl(raw or "", keep_blank_values=True))
        with self._lock:
            call = Call(method, parts.path, dict(headers or {}), params)
            self.calls.append(call)
            fault = self._fault(method, parts.path)
            if fault == "timeout_before":
                raise stripe.APIConnectionError("Request timed out (fake Stripe: before)", should_retry=True)
            if isinstance(fault, int):
                return self._answer(fault, {"error": {"type": "api_error", "message": "Fake server error."}})
            status, body = self._serve(call)
            if fault == "timeout_after":
                raise stripe.APIConnectionError("Request timed out (fake Stripe: after)", should_retry=True)
            return self._answer(status, body)

    def _fault(self, method, path):
        for fault in self.faults:
            if fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault.kind
        return None

    def _answer(self, status, body):
        headers = CaseInsensitiveDict({"Content-Type": "application/json", "Request-Id": _id("req")})
        return json.dumps(body), status, headers

    def _serve(self, call):
        if call.headers.get("Authorization") != f"Bearer {self.secret_key}":
            key = (call.headers.get("Authorization") or "").removeprefix("Bearer ")
            return 401, {"error": {"type": "invalid_request_error",
                                   "message": f"Invalid API Key provided: {key[:8]}*****"}}
        key = call.idempotency_key if call.method == "POST" else None
        if key and key in self._idempotent:
            method, path, params, status, body = self._idempotent[key]
            if (method, path, params) != (call.method, call.path, call.params):
                return 400, {"error": {"type": "idempotency_error", "message": (
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.")}}
            return status, copy.deepcopy(body)
        try:
            status, body = 200, self._route(call)
        except StripeFault as fault:
            status, body = fault.status, fault.body
        if key:
            self._idempotent[key] = (call.method, call.path, call.params, status, copy.deepcopy(body))
        return status, body

    def _route(self, call):
        routes = [
            ("POST", r"/v1/payment_intents", self._create_intent),
            ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", self._get_intent),
            ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/capture", self._capture_intent),
            ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", self._cancel_intent),
            ("POST", r"/v1/refunds", self._create_refund),
            ("GET", r"/v1/refunds", self._list_refunds),
            ("GET", r"/v1/refunds/(?P<id>[^/]+)", self._get_refund),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, call.path)
            if method == call.method and match:
                return handler(call.params, **match.groupdict())
        raise StripeFault(404, "invalid_request_error", f"Unrecognized request URL ({call.method}: {call.path}).")

    # --- PaymentIntents ------------------------------------------------------------
    def _create_intent(self, params):
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            raise _invalid("Missing required param: amount.", "parameter_missing", "amount") from None
        if amount < 1:
            raise _invalid("This value must be greater than or equal to 1.", "parameter_invalid_integer", "amount")
        if not params.get("currency"):
            raise _invalid("Missing required param: currency.", "parameter_missing", "currency")
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise _invalid(f"Invalid capture_method: {capture_method}", "parameter_invalid_string", "capture_method")
        intent_id = _id("pi")
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "automatic_payment_methods": {
                "enabled": params.get("automatic_payment_methods", {}).get("enabled") == "true"},
            "canceled_at": None, "cancellation_reason": None, "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}", "confirmation_method": "automatic",
            "created": int(time.time()), "currency": params["currency"], "description": params.get("description"),
            "last_payment_error": None, "latest_charge": None, "livemode": False,
            "metadata": dict(params.get("metadata") or {}), "payment_method": None,
            "payment_method_types": ["card", "link"], "status": "requires_payment_method",
        }
        self.intents[intent_id] = intent
        return copy.deepcopy(intent)

    def _intent(self, intent_id):
        if intent_id not in self.intents:
            raise _missing("payment_intent", intent_id, "intent")
        return self.intents[intent_id]

    def _get_intent(self, params, id):
        return copy.deepcopy(self._intent(id))

    def _capture_intent(self, params, id):
        intent = self._intent(id)
        if intent["status"] != "requires_capture":
            raise _unexpected_state(intent, "captured")
        amount = int(params.get("amount_to_capture") or intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise _invalid("The amount to capture is greater than the amount capturable.", "amount_too_large",
                           "amount_to_capture")
        # Stripe releases what is not captured (a final capture).
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        return copy.deepcopy(intent)

    def _cancel_intent(self, params, id):
        intent = self._intent(id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise _unexpected_state(intent, "canceled")
        intent.update(status="canceled", amount_capturable=0, canceled_at=int(time.time()),
                      cancellation_reason=params.get("cancellation_reason"))
        return copy.deepcopy(intent)

    # --- Refunds -------------------------------------------------------------------
    def _create_refund(self, params):
        intent = self._intent(params.get("payment_intent", ""))
        if intent["status"] != "succeeded":
            raise _invalid(f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.")
        remaining = intent["amount_received"] - self.refunded(intent["id"])
        amount = int(params.get("amount") or remaining)
        if remaining <= 0:
            raise _invalid(f"Charge {intent['latest_charge']} has already been refunded.", "charge_already_refunded")
        if amount > remaining:
            raise _invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                           "amount_too_large", "amount")
        refund = {
            "id": _id("re"), "object": "refund", "amount": amount, "charge": intent["latest_charge"],
            "created": int(time.time()), "currency": intent["currency"], "metadata": dict(params.get("metadata") or {}),
            "payment_intent": intent["id"], "reason": params.get("reason"), "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return copy.deepcopy(refund)

    def _get_refund(self, params, id):
        if id not in self.refunds:
            raise _missing("refund", id)
        return copy.deepcopy(self.refunds[id])

    def _list_refunds(self, params):
        data = [copy.deepcopy(r) for r in self.refunds.values()
                if not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"]]
        data.reverse()  # newest first, as Stripe lists them
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"}

    # --- The client's side (Stripe.js in the page) ------------------------------------
    def confirm(self, intent_id, payment_method=SUCCEEDS):
        """The client confirms the intent in the Payment Element with a test card."""
        with self._lock:
            intent = self.intents[intent_id]
            assert intent["status"] in ("requires_payment_method", "requires_confirmation", "requires_action")
            intent["payment_method"] = _id("pm")
            if payment_method in (DECLINED, INSUFFICIENT_FUNDS):
                decline = "insufficient_funds" if payment_method == INSUFFICIENT_FUNDS else "generic_decline"
                intent.update(status="requires_payment_method", last_payment_error={
                    "type": "card_error", "code": "card_declined", "decline_code": decline,
                    "message": "Your card was declined."})
                return copy.deepcopy(intent)
            intent["latest_charge"] = _id("ch")
            intent["last_payment_error"] = None
            if payment_method == PROCESSING:
                intent["status"] = "processing"
            elif intent["capture_method"] == "manual":
                intent.update(status="requires_capture", amount_capturable=intent["amount"])
            else:
                intent.update(status="succeeded", amount_received=intent["amount"])
            return copy.deepcopy(intent)

    def settle(self, intent_id):
        """A processing payment (a bank debit) went through."""
        with self._lock:
            intent = self.intents[intent_id]
            assert intent["status"] == "processing"
            intent.update(status="succeeded", amount_received=intent["amount"])

    def return_url(self, intent_id, return_url):
        """Where Stripe.js sends the browser after confirming (Stripe adds these parameters)."""
        intent = self.intents[intent_id]
        status = "succeeded" if intent["status"] in ("succeeded", "requires_capture", "processing") else "failed"
        query = urlencode({"payment_intent": intent_id, "payment_intent_client_secret": intent["client_secret"],
                           "redirect_status": status})
        return f"{return_url}?{query}"

    # --- Stripe's side of webhooks ---------------------------------------------------
    def event(self, event_type, obj, *, event_id=None, created=None):
        return {
            "id": event_id or _id("evt"), "object": "event", "api_version": stripe.api_version,
            "created": created or int(time.time()), "data": {"object": copy.deepcopy(obj)},
            "livemode": False, "pending_webhooks": 1, "request": {"id": _id("req"), "idempotency_key": None},
            "type": event_type,
        }

    def intent_event(self, event_type, intent_id, **kwargs):
        return self.event(event_type, self.intents[intent_id], **kwargs)

    def signed(self, event, *, secret=None, timestamp=None):
        """(body, request.META headers) as Stripe delivers ``event`` to the endpoint."""
        payload = json.dumps(event, indent=2)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret or self.webhook_secret,
                                                                   timestamp=timestamp)
        return payload.encode(), {"HTTP_STRIPE_SIGNATURE": header}

    # --- What Stripe holds -----------------------------------------------------------
    def captured(self, intent_id) -> int:
        return self.intents[intent_id]["amount_received"]

    def refunded(self, intent_id) -> int:
        return sum(r["amount"] for r in self.refunds.values()
                   if r["payment_intent"] == intent_id and r["status"] in ("succeeded", "pending"))

    def canceled(self, intent_id) -> bool:
        return self.intents[intent_id]["status"] == "canceled"


class FakeHTTPClient(stripe.HTTPClient):
    """The SDK's HTTP client, answered by a :class:`FakeStripe` instead of the network."""

    name = "fake-stripe"

    def __init__(self, fake):
        super().__init__()
        self.fake = fake

    def request(self, method, url, headers, post_data=None):
        return self.fake.handle(method, url, headers, post_data)

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError("the provider never streams")

    def close(self):
        pass
